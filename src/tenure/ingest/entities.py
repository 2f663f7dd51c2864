"""What each importable entity is made of: canonical fields, their kinds, keys and targets.

A field's *kind* decides how its text is parsed and which quarantine reason a bad value gets:

========== ====================================== ==========================
kind       parsed as                              bad value
========== ====================================== ==========================
string     trimmed text, empty -> null            never
timestamp  timestamp, naive UTC                   ``unreadable date``
date       date                                   ``unreadable date``
money      ``decimal(18,4)``                      ``unreadable number``
rate       ``decimal(18,8)`` (FX rates)           ``unreadable number``
int        ``bigint``                             ``unreadable number``
float      ``double``                             ``unreadable number``
bool       boolean (true/false/1/0/yes/no)        ``unreadable value``
currency   upper-cased ISO code                   ``unknown currency``
json       text that must be valid JSON           ``unreadable json``
========== ====================================== ==========================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenure.errors import IngestError

# The order in which checks run; the first failing check names the row's reason.
REASONS = (
    "wrong column count",
    "invalid encoding",
    "unreadable row",
    "unreadable json",
    "missing key",
    "invalid event type",
    "unreadable date",
    "date in the future",
    "date before the floor",
    "unreadable number",
    "missing value",
    "unreadable value",
    "unknown currency",
    "negative quantity outside a refund",
    "negative amount outside a refund",
    "same key with different content",
    "unknown kind",
    "score outside the scale",
    "referral to oneself",
)


@dataclass(frozen=True)
class Entity:
    """An importable entity: its fields (canonical name -> kind), key and target table."""

    name: str
    table: str
    key: tuple[str, ...]
    fields: dict[str, str]
    #: Fields that must be present and readable (besides the key): a file without a column
    #: for one is refused before any row is read; an empty value is a ``missing value``.
    required: tuple[str, ...] = ()
    #: Required fields another set of fields can stand in for (orders: the ``total`` of an
    #: order file with lines is the sum of ``quantity`` x ``unit_price``).
    stand_ins: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The field that dates a record: outside the date bounds, the row is quarantined.
    dated: str | None = None
    #: Key fields that may be empty (spend's ``campaign``: one row per channel and day is
    #: normal); an empty one is a key value like any other, not a ``missing key``.
    optional_key: tuple[str, ...] = ()
    #: Fields the key is built from when the file has no column for it (referrals: the
    #: referrer and the referred person, ``referrer>referred``).
    key_from: tuple[str, ...] = ()
    #: The money field the ``currency`` is for, when it is optional (referrals: a row with
    #: no reward needs no currency); None: every row needs a currency.
    currency_for: str | None = None


_ORDER_FIELDS = {
    "order_id": "string",
    "customer_id": "string",
    "email": "string",
    "ordered_at": "timestamp",
    "currency": "currency",
    "subtotal": "money",
    "discount": "money",
    "shipping": "money",
    "tax": "money",
    "total": "money",
    "refunded": "money",
    "status": "string",
    "coupon": "string",
    "channel": "string",
    "utm_source": "string",
    "utm_medium": "string",
    "utm_campaign": "string",
    "referral_code": "string",
}
#: Order-line fields: an orders file with any of them has one row per order line.
ITEM_FIELDS = {
    "line": "int",
    "product_id": "string",
    "sku": "string",
    "title": "string",
    "quantity": "int",
    "unit_price": "money",
    "category": "string",
}
ORDER_LEVEL = tuple(_ORDER_FIELDS)

ENTITIES: dict[str, Entity] = {
    "orders": Entity(
        "orders",
        "orders",
        ("order_id",),
        {**_ORDER_FIELDS, **ITEM_FIELDS, "is_refund": "bool"},
        required=("ordered_at", "currency", "total"),
        stand_ins={"total": ("quantity", "unit_price")},
        dated="ordered_at",
    ),
    "customers": Entity(
        "customers",
        "customers",
        ("customer_id",),
        {
            "customer_id": "string",
            "email": "string",
            "phone": "string",
            "first_name": "string",
            "last_name": "string",
            "country": "string",
            "timezone": "string",
            "created_at": "timestamp",
            "accepts_marketing": "bool",
            "traits": "json",
            "referred_by": "string",
        },
        dated="created_at",
    ),
    "feedback": Entity(
        "feedback",
        "feedback",
        ("feedback_id",),
        {
            "feedback_id": "string",
            "customer_id": "string",
            "email": "string",
            "anonymous_id": "string",
            "kind": "string",
            "score": "float",
            "scale_min": "float",
            "scale_max": "float",
            "product_id": "string",
            "title": "string",
            "body": "string",
            "submitted_at": "timestamp",
        },
        required=("kind",),
        dated="submitted_at",
    ),
    "referrals": Entity(
        "referrals",
        "referrals",
        ("referral_id",),
        {
            "referral_id": "string",
            "referrer_customer_id": "string",
            "referrer_email": "string",
            "referred_customer_id": "string",
            "referred_email": "string",
            "code": "string",
            "order_id": "string",
            "referred_at": "timestamp",
            "reward": "money",
            "currency": "currency",
        },
        dated="referred_at",
        key_from=(
            "referrer_customer_id",
            "referrer_email",
            "code",
            "referred_customer_id",
            "referred_email",
            "order_id",
        ),
        currency_for="reward",
    ),
    "products": Entity(
        "products",
        "products",
        ("product_id",),
        {
            "product_id": "string",
            "sku": "string",
            "title": "string",
            "category": "string",
            "price": "money",
            "unit_cost": "money",
            "margin": "float",
            "currency": "currency",
            "active": "bool",
            "inventory": "int",
        },
    ),
    "spend": Entity(
        "spend",
        "marketing_spend",
        ("date", "channel", "campaign"),
        {
            "date": "date",
            "channel": "string",
            "campaign": "string",
            "cost": "money",
            "currency": "currency",
        },
        required=("cost", "currency"),
        dated="date",
        optional_key=("campaign",),
    ),
    "fx_rates": Entity(
        "fx_rates",
        "fx_rates",
        ("date", "currency"),
        {"date": "date", "currency": "currency", "rate": "rate"},
        required=("rate",),
    ),
    "events": Entity(
        "events",
        "events",
        ("message_id",),
        {
            "message_id": "string",
            "type": "string",
            "event": "string",
            "anonymous_id": "string",
            "user_id": "string",
            "previous_id": "string",
            "timestamp": "timestamp",
            "sent_at": "timestamp",
            "received_at": "timestamp",
            "properties": "json",
            "traits": "json",
            "context": "json",
            "utm_source": "string",
            "utm_medium": "string",
            "utm_campaign": "string",
            "utm_term": "string",
            "utm_content": "string",
        },
        required=("type", "timestamp"),
        dated="timestamp",
    ),
}

#: Identifier fields of every entity: text, but often written by spreadsheet tools as
#: whole-number floats (``17850.0``), which the import reads as ``17850``.
ID_FIELDS = frozenset(
    name
    for spec in ENTITIES.values()
    for name, kind in spec.fields.items()
    if name.endswith("_id") and kind == "string"
)

EVENT_TYPES = ("track", "identify", "page", "screen", "alias", "group")

#: The kinds of feedback, and the scale (min, max) of the kinds that have a usual one: a row
#: without ``scale_min`` / ``scale_max`` gets its kind's (a survey's scale must be given).
FEEDBACK_KINDS = ("nps", "review", "csat", "survey")
FEEDBACK_SCALES = {"nps": (0, 10), "review": (1, 5), "csat": (1, 5)}

#: Key fields that may be empty, in any entity: compared null-safe (two empty campaigns are
#: the same key).
OPTIONAL_KEYS = frozenset(k for spec in ENTITIES.values() for k in spec.optional_key)


def key_equal(column: str, a: str, b: str, *, quote: bool = False) -> str:
    """SQL: ``a.column`` and ``b.column`` are the same key value (null-safe for the key
    fields that may be empty, plain ``=`` otherwise); ``quote``: quote the column name."""
    op = "IS NOT DISTINCT FROM" if column in OPTIONAL_KEYS else "="
    name = f'"{column}"' if quote else column
    return f"{a}.{name} {op} {b}.{name}"


def entity(name: str) -> Entity:
    """The entity called ``name``, or an error listing the known ones."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise IngestError(
            f"Cannot import {name!r}: unknown entity.",
            hint=f"Choose one of: {', '.join(ENTITIES)}.",
        ) from None

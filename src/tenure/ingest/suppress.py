"""Suppression at ingest: the data of a deleted person does not come back.

``tenure privacy delete`` keeps a SHA-256 digest of each of the person's normalised
identifiers in ``suppressions`` (channel ``all``, kind ``sha256:<kind>``). An import
normalises the identifiers of every parsed row as identity resolution does (ids trimmed,
emails trimmed and lower-cased, phones in E.164), digests them in the engine
(:func:`tenure.ingest.identifiers.digest_expr`), and looks them up in ``suppressions``. A row
holding a suppressed identifier is **suppressed**: neither stored nor quarantined (a
quarantined row keeps its raw text, identifiers included), only counted. Every line of an
order one of whose lines is suppressed is suppressed too.

The rows are read in the import's DuckDB connection (:meth:`Store.staging`), where
``suppressions`` is readable directly on a DuckDB store; on another backend the suppressions
matching the file's digests are fetched from the store (:meth:`Staging.stored`).
"""

from __future__ import annotations

import uuid

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.ingest.identifiers import digest_expr, email_expr, normalize_phone, traits_email
from tenure.store.protocol import StoreLike
from tenure.store.staging import Staging

#: entity -> (identifier kind, column) pairs whose digests are looked up
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("anonymous_id", "anonymous_id"),
        ("anonymous_id", "previous_id"),
        ("customer_id", "user_id"),
        ("email", "traits"),  # the `email` of the event's traits (identify calls)
    ),
    "orders": (("customer_id", "customer_id"), ("email", "email")),
    "customers": (("customer_id", "customer_id"), ("email", "email"), ("phone", "phone")),
    "feedback": (
        ("customer_id", "customer_id"),
        ("email", "email"),
        ("anonymous_id", "anonymous_id"),
    ),
    "referrals": (
        ("customer_id", "referrer_customer_id"),
        ("email", "referrer_email"),
        ("customer_id", "referred_customer_id"),
        ("email", "referred_email"),
    ),
}


def active(store: StoreLike, entity: str) -> bool:
    """Whether rows of ``entity`` can be suppressed: it carries identifiers and the store
    suppresses something on every channel."""
    if entity not in SOURCES:
        return False
    s = store.table("suppressions")
    return bool(s.filter(s.channel == "all").limit(1).count().execute())


def suppressed_rows(staging: Staging, entity: str, parsed: str) -> str:
    """Create a temporary table in the staging connection holding the ``__rn`` of the rows
    of ``parsed`` (the parsed file, there) that must not be stored; return its name."""
    w = staging.ibis
    registered: list[str] = []
    try:
        p = w.table(parsed)
        digests = _digests(staging, p, SOURCES[entity], registered)
        if digests is None:
            hits = p.filter(ibis.literal(False)).select("__rn")
        else:
            listed = _suppressions(staging, digests)
            hits = digests.semi_join(listed, digests.d == listed.identifier).select("__rn")
            if entity == "orders" and "order_id" in p.columns:
                hits = _whole_orders(p, hits)
        name = f"{parsed}_sup"
        w.create_table(name, hits.distinct(), temp=True, overwrite=True)
        return name
    finally:
        for view in registered:
            staging.work.unregister(view)


def _register(staging: Staging, data: pa.Table, registered: list[str]) -> str:
    name = f"__sup_{uuid.uuid4().hex[:12]}"
    staging.work.register(name, data)
    registered.append(name)
    return name


def _digests(
    staging: Staging,
    p: ir.Table,
    sources: tuple[tuple[str, str], ...],
    registered: list[str],
) -> ir.Table | None:
    """``(__rn, d)``: the digest of every identifier of every row (None: no such column)."""
    parts = []
    for kind, column in sources:
        if column not in p.columns:
            continue
        if kind == "phone":
            phones = _phones(staging, p, registered)
            if phones is None:
                continue
            joined = p.join(phones, p.phone == phones.raw)
            parts.append(joined.select("__rn", d=digest_expr(kind, joined.e164)))
            continue
        if column == "traits":
            value = traits_email(p.traits)
        elif kind == "email":
            value = email_expr(p[column])
        else:
            value = p[column].strip().nullif("")
        parts.append(p.select("__rn", d=digest_expr(kind, value)))
    if not parts:
        return None
    every = ibis.union(*parts, distinct=False)
    return every.filter(every.d.notnull())


def _phones(staging: Staging, p: ir.Table, registered: list[str]) -> ir.Table | None:
    """The file's distinct phone numbers with their E.164 form (parsed in Python with
    ``phonenumbers``, as identity resolution does); None when none is valid."""
    raw = p.filter(p.phone.notnull()).select("phone").distinct().to_pyarrow()
    region = staging.store.settings.default_region
    pairs = [(v, normalize_phone(v, region)) for v in raw.column("phone").to_pylist()]
    valid = [(v, e) for v, e in pairs if e]
    if not valid:
        return None
    table = pa.table({"raw": [v for v, _ in valid], "e164": [e for _, e in valid]})
    return staging.ibis.table(_register(staging, table, registered))


def _suppressions(staging: Staging, digests: ir.Table) -> ir.Table:
    """The store's ``all``-channel suppressions (at least those among ``digests``), readable
    in the staging connection."""
    name = staging.stored("suppressions", "identifier", digests.select("d").distinct())
    s = staging.ibis.table(name)
    return s.filter(s.channel == "all").select("identifier")


def _whole_orders(p: ir.Table, hits: ir.Table) -> ir.Table:
    """``hits`` with every other row (line) of the orders they belong to."""
    hit_rows = p.semi_join(hits, p["__rn"] == hits["__rn"])
    orders = hit_rows.filter(hit_rows.order_id.notnull()).select("order_id")
    lines = p.semi_join(orders, p.order_id == orders.order_id).select("__rn")
    return hits.union(lines)

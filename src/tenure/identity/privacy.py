"""Privacy requests: export everything held on a person; delete every row of a person.

A deletion removes the person's rows from every table (canonical and derived), records the
request in ``privacy_audit`` (no personal data: a pseudonymous person id and counts), and adds
a SHA-256 digest of each identifier to ``suppressions`` (channel ``all``), so the store keeps
no identifier in clear yet the importer recognises the person's data if it arrives again
(:mod:`tenure.ingest.suppress`). Written with Ibis expressions only: the same code runs on
DuckDB (one transaction) and on PySpark.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.identity.graph import REFERRAL_SIDES
from tenure.identity.lookup import find_person
from tenure.identity.profile import person_identifiers, profile
from tenure.ingest.identifiers import digest, email_expr, traits_email
from tenure.store import Store
from tenure.store.derived import DERIVED

__all__ = ["delete_person", "digest", "export_person"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _audit(store: Store, action: str, person: str, n_ids: int, deleted: dict[str, int]) -> str:
    audit_id = f"priv-{uuid.uuid4().hex[:12]}"
    store.insert(
        "privacy_audit",
        pa.table(
            {
                "audit_id": [audit_id],
                "action": [action],
                "person_id": [person],
                "identifiers": pa.array([n_ids], pa.int64()),
                "rows_deleted": [json.dumps(deleted)],
                "at": pa.array([_now()], pa.timestamp("us")),
            }
        ),
    )
    return audit_id


def export_person(store: Store, identifier: str) -> dict[str, Any]:
    """Everything held on the person: identities, traits, consents, orders and lines, every
    event, their feedback and referrals (either side), quarantined rows mentioning them,
    previous versions of their rows (row_history)."""
    doc = profile(store, identifier, timeline=1_000_000_000, event_columns=None)
    doc["events"] = doc.pop("timeline")
    orders = [o["order_id"] for o in doc["orders"]]
    items = store.table("order_items")
    doc["order_items"] = items.filter(items.order_id.isin(orders)).to_pyarrow().to_pylist()
    ids = person_identifiers(store, doc["person_id"])
    history = store.table("row_history")
    mine = history.filter(_known(_owned_rows(store, doc["person_id"], ids)["row_history"](history)))
    doc["row_history"] = [
        {**r, "row": json.loads(r["row"])}
        for r in mine.order_by("replaced_at", "entity", "record_key").to_pyarrow().to_pylist()
    ]
    owned = _owned_rows(store, doc["person_id"], ids)
    for name, at in (("feedback", "submitted_at"), ("referrals", "referred_at")):
        t = store.table(name)
        mine = t.filter(_known(owned[name](t))).order_by(at, t.columns[0])
        doc[name] = mine.to_pyarrow().to_pylist()
    n_ids = sum(len(v) for v in doc["identities"].values())
    _audit(store, "export", doc["person_id"], n_ids, {})
    return json.loads(json.dumps(doc, default=str))


def delete_person(store: Store, identifier: str) -> dict[str, Any]:
    """Delete every row of the person holding ``identifier``; return counts per table.

    Written with Ibis only, so it runs on DuckDB and PySpark: each table holding rows of the
    person is rewritten without them (kept rows copied to a scratch table, the table emptied
    and filled again from it). On DuckDB the whole deletion is one transaction.
    """
    person = find_person(store, identifier).person_id
    ids = person_identifiers(store, person)
    everything = [v for values in ids.values() for v in values]
    deleted: dict[str, int] = {}
    with store.transaction():
        for table, belongs in _owned_rows(store, person, ids).items():
            deleted[table] = store.delete_where(table, belongs)
        for table, column in _derived_tables(store).items():
            deleted[table] = store.delete_where(table, _person_rows(column, person))
        _suppress(store, ids)
        deleted["dashboard_pages"] = _kept_pages(store, person)
        audit_id = _audit(store, "delete", person, len(everything), deleted)
    return {"audit_id": audit_id, "person_id": person, "rows_deleted": deleted}


def _kept_pages(store: Store, person: str) -> int:
    """Delete the dashboard's kept pages that show the person (their id in a table; the
    pipeline builds them again)."""
    if not store.exists("dashboard_pages"):
        return 0
    t = store.read("dashboard_pages")
    if not int(t.filter(t.body.contains(person)).count().execute()):
        return 0
    return store.delete_where("dashboard_pages", lambda t: t.body.contains(person))


Belongs = Callable[[ir.Table], ir.BooleanValue]


def _isin(column: ir.StringValue, values: list[str]) -> ir.BooleanValue:
    return column.isin(values) if values else ibis.literal(False)


def _owned_rows(store: Store, person: str, ids: dict[str, list[str]]) -> dict[str, Belongs]:
    """Canonical table -> which of its rows are the person's. In this order: order lines are
    found through their orders, so they go first."""
    customers, emails = ids.get("customer_id", []), ids.get("email", [])
    anon = ids.get("anonymous_id", [])
    everything = [v for values in ids.values() for v in values]
    nodes = [f"{kind}:{v}" for kind, values in ids.items() for v in values]

    def orders(t: ir.Table) -> ir.BooleanValue:
        return _isin(t.customer_id.strip(), customers) | _isin(email_expr(t.email), emails)

    def order_items(t: ir.Table) -> ir.BooleanValue:
        o = store.table("orders")
        return t.order_id.isin(o.filter(_known(orders(o))).order_id)

    def history(t: ir.Table) -> ir.BooleanValue:
        """Previous versions of the person's orders, customer records and order lines."""

        def theirs(h: ir.Table) -> ir.BooleanValue:
            sides = [("customer_id", "email"), *REFERRAL_SIDES]
            return h.entity.isin(("orders", "customers", "feedback", "referrals")) & ibis.or_(
                *(
                    _isin(_field(h.row, cust).strip(), customers)
                    | _isin(email_expr(_field(h.row, mail)), emails)
                    for cust, mail in sides
                )
            )

        o, h = store.table("orders"), store.table("row_history")
        replaced = h.filter(_known(theirs(h)) & (h.entity == "orders"))
        line_of = _field(t.row, "order_id")
        return theirs(t) | (
            (t.entity == "order_items")
            & (
                line_of.isin(o.filter(_known(orders(o))).order_id)
                | line_of.isin(replaced.select(order_id=_field(replaced.row, "order_id")).order_id)
            )
        )

    advocacy = _advocacy_rows(store, customers, emails, anon)
    return {
        # first: flagged referrals are found through the referrals
        "flagged_values": advocacy["flagged_values"],
        "row_history": history,  # first: its order lines are found through the orders
        "order_items": order_items,
        "orders": orders,
        "events": lambda t: (
            _isin(t.anonymous_id.strip(), anon)
            | _isin(t.previous_id.strip(), anon)
            | _isin(t.user_id.strip(), customers)
            | _isin(traits_email(t.traits), emails)
        ),
        "customers": orders,  # customer_id and email, like orders
        "feedback": advocacy["feedback"],
        "referrals": advocacy["referrals"],
        "consents": lambda t: _isin(t.identifier, everything),
        "suppressions": lambda t: _isin(t.identifier, everything),
        "quarantine": lambda t: ibis.or_(
            ibis.literal(False), *(t.raw_row.lower().contains(v.lower()) for v in everything)
        ),
        "identities": lambda t: t.person_id == person,
        "identity_merges": lambda t: (t.kept_person_id == person) | (t.merged_person_id == person),
        "identity_blocked_edges": lambda t: _isin(t.a, nodes) | _isin(t.b, nodes),
        # before messages: the attempts to deliver the person's messages (errors may name
        # their address)
        "delivery_attempts": lambda t: t.message_key.isin(
            store.table("messages").filter(_person_rows("person_id", person)).message_key
        ),
        "messages": _person_rows("person_id", person),
        "flow_state": _person_rows("person_id", person),
        "discount_codes": _person_rows("person_id", person),
        "onsite_messages": _person_rows("person_id", person),
        "link_clicks": _person_rows("person_id", person),
        "bounces": lambda t: _isin(email_expr(t.email), emails),
    }


def _advocacy_rows(
    store: Store, customers: list[str], emails: list[str], anon: list[str]
) -> dict[str, Belongs]:
    """The person's feedback (their customer id, e-mail or device), referrals (on either
    side) and the cycle flags of those referrals."""

    def mine(cust: ir.StringValue, mail: ir.StringValue) -> ir.BooleanValue:
        return _isin(cust.strip(), customers) | _isin(email_expr(mail), emails)

    def referrals(t: ir.Table) -> ir.BooleanValue:
        return ibis.or_(*(mine(t[cust], t[mail]) for cust, mail in REFERRAL_SIDES))

    def flagged(t: ir.Table) -> ir.BooleanValue:
        r = store.table("referrals")
        return (t.entity == "referrals") & t.value.isin(r.filter(_known(referrals(r))).referral_id)

    return {
        "feedback": lambda t: mine(t.customer_id, t.email) | _isin(t.anonymous_id.strip(), anon),
        "referrals": referrals,
        "flagged_values": flagged,
    }


def _field(row: ir.StringValue, name: str) -> ir.StringValue:
    """Text field ``name`` of a JSON object written by DuckDB's ``to_json`` ('' when absent);
    a regular expression, so that DuckDB and Spark read it alike."""
    return row.re_extract(rf'"{name}":"((?:[^"\\]|\\.)*)"', 1)


def _known(condition: ir.BooleanValue) -> ir.BooleanValue:
    """``condition``, false where it is null (a null column matches nothing)."""
    return ibis.coalesce(condition, ibis.literal(False))


def _person_rows(column: str, person: str) -> Belongs:
    return lambda t: t[column] == person


def _derived_tables(store: Store) -> dict[str, str]:
    """Derived tables (:data:`tenure.store.derived.DERIVED`) present in the store that hold
    a person column: name -> column."""
    present = set(store.tables())
    return {
        t.name: t.person_column
        for t in DERIVED.values()
        if t.person_column is not None and t.name in present
    }


def _suppress(store: Store, ids: dict[str, list[str]]) -> None:
    pairs = [(k, v) for k, values in ids.items() for v in values]
    store.insert(
        "suppressions",
        pa.table(
            {
                "identifier": [digest(k, v) for k, v in pairs],
                "identifier_kind": [f"sha256:{k}" for k, _ in pairs],
                "channel": ["all"] * len(pairs),
                "reason": ["deleted"] * len(pairs),
                "source": ["privacy delete"] * len(pairs),
                "at": pa.array([_now()] * len(pairs), pa.timestamp("us")),
            }
        ),
    )

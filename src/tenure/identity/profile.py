"""The 360-degree profile of a person: identities, traits, consents, orders and timeline."""

from __future__ import annotations

import json
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow.compute as pc

from tenure.identity.lookup import LABEL_COLUMNS, PersonNotFoundError, find_person, person_labels
from tenure.store import Store
from tenure.store.derived import DERIVED

#: No person holds the identifier asked for (the name this module gave the error first).
UnknownIdentifierError = PersonNotFoundError


def _rows(table: ir.Table, limit: int | None = None) -> list[dict[str, Any]]:
    expr = table if limit is None else table.limit(limit)
    return _plain(expr.to_pyarrow().to_pylist())


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each value a JSON value: a date, time or decimal as its text."""
    return [
        {
            k: (str(v) if v is not None and not isinstance(v, (int, float, str, bool)) else v)
            for k, v in row.items()
        }
        for row in rows
    ]


def person_identifiers(store: Store, person_id: str) -> dict[str, list[str]]:
    """Every identifier of the person, by kind."""
    ids = store.table("identities")
    rows = ids.filter(ids.person_id == person_id).select("kind", "value").to_pyarrow().to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["kind"], []).append(r["value"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def any_of(table: ir.Table, conditions: list[ir.BooleanValue]) -> ir.Table:
    """The rows of ``table`` meeting one of ``conditions`` (none: no row), as a union of one
    filter per condition rather than one filter with ``OR``: each part compares one indexed
    column with constants, so DuckDB reads it through the column's index
    (:mod:`tenure.store.indexes`) instead of scanning the table; elsewhere the same rows."""
    if not conditions:
        return table.limit(0)
    parts = [table.filter(c) for c in conditions]
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=True)


def person_orders(store: Store, customers: list[str], emails: list[str]) -> ir.Table:
    """The orders of the customer ids ``customers`` or of the e-mails ``emails`` (compared
    lower-cased: a guest order's e-mail is stored as given)."""
    o = store.table("orders")
    conditions = [o.customer_id.isin(customers)] if customers else []
    conditions += [o.email.lower() == e for e in emails]  # one `=` each: the index serves it
    return any_of(o, conditions)


def person_events(store: Store, anonymous: list[str], customers: list[str]) -> ir.Table:
    """The events of the devices ``anonymous`` or of the user ids ``customers``."""
    e = store.table("events")
    conditions = [e.anonymous_id.isin(anonymous)] if anonymous else []
    conditions += [e.user_id.isin(customers)] if customers else []
    return any_of(e, conditions)


def latest(table: ir.Table, column: str, n: int) -> list[dict[str, Any]]:
    """The ``n`` rows of ``table`` with the latest ``column``, latest first. The rows are
    read whole and cut here: an ``ORDER BY ... LIMIT`` in the engine turns DuckDB's indexed
    read of one person's rows into a scan of the table."""
    if n <= 0:
        return []
    rows = table.to_pyarrow()
    order = pc.sort_indices(rows, sort_keys=[(column, "descending")], null_placement="at_end")
    return _plain(rows.take(order[:n]).to_pylist())


def profile(store: Store, identifier: str, *, timeline: int = 50) -> dict[str, Any]:
    """Everything known about the person ``identifier`` names (any identifier, bare or as
    ``kind:value``, a person id or an order id: :func:`tenure.identity.find_person`).
    ``labels``: the customer id and e-mail shown next to the person id
    (:func:`tenure.identity.lookup.person_labels`).

    ``computed`` is where customer analytics and predictions (CLV, RFM, status, risk) appear
    once they have been computed for the store.

    Every read is of this person's rows only (their identifiers first, then the rows they
    name), through the indexes of :mod:`tenure.store.indexes` on DuckDB.
    """
    person = find_person(store, identifier).person_id
    ids = person_identifiers(store, person)
    customers = ids.get("customer_id", [])
    emails = ids.get("email", [])
    anon = ids.get("anonymous_id", [])
    c = store.table("customers")
    records = _rows(c.filter(c.customer_id.isin(customers)).order_by(c.created_at.desc()))
    traits: dict[str, Any] = {}
    for record in reversed(records):  # oldest first, so the latest value wins
        extra = json.loads(record.get("traits") or "{}")
        traits.update({k: v for k, v in record.items() if v is not None and k != "traits"})
        traits.update(extra)
    orders = person_orders(store, customers, emails)
    consents = store.table("consents")
    held = emails + customers
    return {
        "person_id": person,
        "labels": _labels(store, person),
        "identities": ids,
        "traits": traits,
        "consents": _rows(consents.filter(consents.identifier.isin(held))) if held else [],
        "orders": _rows(orders.order_by(orders.ordered_at)),
        "timeline": latest(person_events(store, anon, customers), "timestamp", timeline),
        "computed": computed_values(store, person),
    }


def _labels(store: Store, person: str) -> dict[str, Any]:
    rows = person_labels(store, [person]).to_pyarrow().to_pylist()
    return {k: (rows[0][k] if rows else None) for k in LABEL_COLUMNS}


#: Derived tables whose columns win over the others' on a shared column (the lifecycle
#: status's ``tier`` over the RFM one); the others follow in registry order.
FIRST = ("customer_facts", "customer_status")


def computed_values(store: Store, person_id: str) -> dict[str, Any]:
    """The person's row in each derived table with one row per person
    (:data:`tenure.store.derived.DERIVED`; the first table wins on a shared column, see
    :data:`FIRST`), or an empty dict before the first refresh."""
    present = set(store.tables())
    out: dict[str, Any] = {}
    for entry in sorted(DERIVED.values(), key=lambda t: t.name not in FIRST):
        column = entry.person_column
        if entry.name not in present or column is None or entry.key != (column,):
            continue
        t = store.read(entry.name)
        for row in _rows(t.filter(t[column] == person_id), 1):
            out.update({k: v for k, v in row.items() if k not in out})
    return out

"""The 360-degree profile of a person: identities, traits, consents, orders and timeline."""

from __future__ import annotations

import json
from typing import Any

import ibis.expr.types as ir

from tenure.identity.lookup import LABEL_COLUMNS, PersonNotFoundError, find_person, person_labels
from tenure.store import Store
from tenure.store.derived import DERIVED

#: No person holds the identifier asked for (the name this module gave the error first).
UnknownIdentifierError = PersonNotFoundError


def _rows(table: ir.Table, limit: int | None = None) -> list[dict[str, Any]]:
    expr = table if limit is None else table.limit(limit)
    return [
        {
            k: (str(v) if v is not None and not isinstance(v, (int, float, str, bool)) else v)
            for k, v in row.items()
        }
        for row in expr.to_pyarrow().to_pylist()
    ]


def person_identifiers(store: Store, person_id: str) -> dict[str, list[str]]:
    """Every identifier of the person, by kind."""
    ids = store.table("identities")
    rows = ids.filter(ids.person_id == person_id).select("kind", "value").to_pyarrow().to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["kind"], []).append(r["value"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def profile(store: Store, identifier: str, *, timeline: int = 50) -> dict[str, Any]:
    """Everything known about the person ``identifier`` names (any identifier, bare or as
    ``kind:value``, a person id or an order id: :func:`tenure.identity.find_person`).
    ``labels``: the customer id and e-mail shown next to the person id
    (:func:`tenure.identity.lookup.person_labels`).

    ``computed`` is where customer analytics and predictions (CLV, RFM, status, risk) appear
    once they have been computed for the store.
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
    o = store.table("orders")
    orders = o.filter(o.customer_id.isin(customers) | o.email.lower().isin(emails))
    e = store.table("events")
    events = e.filter(e.anonymous_id.isin(anon) | e.user_id.isin(customers))
    consents = store.table("consents")
    return {
        "person_id": person,
        "labels": _labels(store, person),
        "identities": ids,
        "traits": traits,
        "consents": _rows(consents.filter(consents.identifier.isin(emails + customers))),
        "orders": _rows(orders.order_by(orders.ordered_at)),
        "timeline": _rows(events.order_by(events.timestamp.desc()), timeline),
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

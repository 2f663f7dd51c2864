"""Privacy requests: export everything held on a person; delete every row of a person.

A deletion removes the person's rows from every table, records the request in
``privacy_audit`` (no personal data: a pseudonymous person id and counts), and adds a
SHA-256 digest of each identifier to ``suppressions`` (channel ``all``), so the store keeps
no identifier in clear yet can recognise the person if their data arrives again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tenure.errors import StoreError
from tenure.identity import person_of
from tenure.identity.profile import UnknownIdentifierError, person_identifiers, profile
from tenure.store import Store


def digest(kind: str, value: str) -> str:
    """The suppression digest of a normalised identifier."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


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
    event, quarantined rows mentioning them."""
    doc = profile(store, identifier, timeline=1_000_000_000)
    doc["events"] = doc.pop("timeline")
    orders = [o["order_id"] for o in doc["orders"]]
    items = store.table("order_items")
    doc["order_items"] = items.filter(items.order_id.isin(orders)).to_pyarrow().to_pylist()
    n_ids = sum(len(v) for v in doc["identities"].values())
    _audit(store, "export", doc["person_id"], n_ids, {})
    return json.loads(json.dumps(doc, default=str))


# table -> list of (column, identifier kinds) whose rows belong to the person
_OWNED: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "events": [
        ("anonymous_id", ("anonymous_id",)),
        ("previous_id", ("anonymous_id",)),
        ("user_id", ("customer_id",)),
    ],
    "orders": [("customer_id", ("customer_id",)), ("lower(email)", ("email",))],
    "customers": [("customer_id", ("customer_id",)), ("lower(email)", ("email",))],
    "consents": [("identifier", ("email", "phone", "customer_id"))],
    "suppressions": [("identifier", ("email", "phone", "customer_id"))],
}


def delete_person(store: Store, identifier: str) -> dict[str, Any]:
    """Delete every row of the person holding ``identifier``; return counts per table."""
    if not store.is_duckdb:
        raise StoreError(
            f"Deleting rows needs a DuckDB store; {store.backend_name} tables here are "
            "append-only.",
            hint="Run the deletion on the DuckDB store, or rewrite the Spark tables.",
        )
    person = person_of(store, identifier)
    if person is None:
        raise UnknownIdentifierError(f"No person holds the identifier {identifier!r}.")
    ids = person_identifiers(store, person)
    con = store.con.con
    deleted: dict[str, int] = {}
    orders = _person_orders(con, ids)
    deleted["order_items"] = _delete(
        con, "order_items", "order_id IN (SELECT unnest($v))", {"v": orders}
    )
    for table, rules in _OWNED.items():
        clauses, params = [], {}
        for i, (column, kinds) in enumerate(rules):
            values = [v for k in kinds for v in ids.get(k, [])]
            params[f"v{i}"] = values
            clauses.append(f"{column} IN (SELECT unnest($v{i}))")
        deleted[table] = _delete(con, table, " OR ".join(clauses), params)
    everything = [v for values in ids.values() for v in values]
    deleted["quarantine"] = _delete(
        con,
        "quarantine",
        "EXISTS (SELECT 1 FROM (SELECT unnest($v) AS x) WHERE contains(lower(raw_row), lower(x)))",
        {"v": everything},
    )
    deleted["identities"] = _delete(con, "identities", "person_id = $p", {"p": person})
    deleted["identity_merges"] = _delete(
        con, "identity_merges", "kept_person_id = $p OR merged_person_id = $p", {"p": person}
    )
    _suppress(store, ids)
    audit_id = _audit(store, "delete", person, len(everything), deleted)
    return {"audit_id": audit_id, "person_id": person, "rows_deleted": deleted}


def _person_orders(con: Any, ids: dict[str, list[str]]) -> list[str]:
    rows = con.execute(
        "SELECT order_id FROM orders WHERE customer_id IN (SELECT unnest($c)) "
        "OR lower(email) IN (SELECT unnest($e))",
        {"c": ids.get("customer_id", []), "e": ids.get("email", [])},
    ).fetchall()
    return [r[0] for r in rows]


def _delete(con: Any, table: str, where: str, params: dict[str, Any]) -> int:
    row = con.execute(f"DELETE FROM {table} WHERE {where}", params).fetchone()
    return int(row[0]) if row else 0


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

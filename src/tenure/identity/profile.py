"""The 360-degree profile of a person: identities, traits, consents, orders and timeline.

Every read is of this person's rows only: their identifiers first (by person id), then the
rows those name, each read by one column's values (:meth:`tenure.store.Store.rows_where_in`,
through the indexes of :mod:`tenure.store.indexes` on DuckDB), never a scan of every order
or event. A filter on two columns (the orders of a customer id or an e-mail) is two reads,
the second without the rows of the first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tenure.identity.lookup import (
    LABEL_COLUMNS,
    PersonNotFoundError,
    find_person,
    labels_of,
    person_labels,
)
from tenure.store import KeyedRead, Store, cached
from tenure.store.derived import DERIVED

#: No person holds the identifier asked for (the name this module gave the error first).
UnknownIdentifierError = PersonNotFoundError


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each value a JSON value: a date, time or decimal as its text."""
    return [
        {
            k: (str(v) if v is not None and not isinstance(v, (int, float, str, bool)) else v)
            for k, v in row.items()
        }
        for row in rows
    ]


def _sorted(rows: pa.Table, column: str, order: str, n: int | None = None) -> list[dict[str, Any]]:
    """``rows`` by ``column`` (``ascending`` or ``descending``, nulls last), the first ``n``."""
    at = pc.sort_indices(rows, sort_keys=[(column, order)])
    return _plain(rows.take(at if n is None else at[:n]).to_pylist())


def identity_rows(store: Store, person_id: str) -> list[dict[str, Any]]:
    """kind, value, first_seen of every identifier of the person (one read, by the index on
    ``person_id``)."""
    rows = store.rows_where_in("identities", "person_id", [person_id])
    out: list[dict[str, Any]] = rows.select(["kind", "value", "first_seen"]).to_pylist()
    return out


def by_kind(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The values of identity ``rows`` by kind, sorted."""
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["kind"], []).append(r["value"])
    return {k: sorted(v) for k, v in sorted(out.items())}


def person_identifiers(store: Store, person_id: str) -> dict[str, list[str]]:
    """Every identifier of the person, by kind."""
    return by_kind(identity_rows(store, person_id))


#: A read of :func:`_either`: a table, its first column and values, its second column and
#: values (lower-cased for ``email``).
Either = tuple[str, tuple[str, list[str]], tuple[str, list[str]]]


def _firsts(either: Either, columns: Sequence[str] | None) -> list[KeyedRead]:
    """The reads :func:`_either` starts with: the rows of the first column's values, and the
    first column alone of the second column's values (a probe)."""
    table, (column, values), (other, keys) = either
    reads = [KeyedRead(table, column, tuple(values), columns=_tuple(columns))]
    if keys:
        reads.append(
            KeyedRead(table, other, tuple(keys), lower=other == "email", columns=(column,))
        )
    return reads


def _tuple(columns: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if columns is None else tuple(columns)


def _either(
    store: Store,
    either: Either,
    first: list[pa.Table],
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of the table whose first column is one of its values or whose second column
    is one of its values, each once, from ``first``: the answers of :func:`_firsts`. The
    second column's rows are read whole only when the probe found rows the first read did
    not (an identified event names both its device and its user: read whole twice, every
    event of a person would be fetched twice). ``columns``: only these (they must include
    the first column), else every column."""
    table, (column, values), (other, keys) = either
    mine = first[0]
    if not keys:
        return mine
    known = pa.array(values, pa.string())

    def new(rows: pa.Table) -> pa.Array:
        return pc.invert(pc.fill_null(pc.is_in(rows[column], known), False))

    if not pc.any(new(first[1])).as_py():
        return mine
    more = store.rows_where_in(table, other, keys, lower=other == "email", columns=columns)
    return pa.concat_tables([mine, more.filter(new(more))])


def _orders(customers: list[str], emails: list[str]) -> Either:
    return ("orders", ("customer_id", customers), ("email", emails))


def _events(anonymous: list[str], customers: list[str]) -> Either:
    return ("events", ("anonymous_id", anonymous), ("user_id", customers))


def _read_either(store: Store, either: Either, columns: Sequence[str] | None = None) -> pa.Table:
    return _either(store, either, store.rows_where_in_all(_firsts(either, columns)), columns)


def person_orders(store: Store, customers: list[str], emails: list[str]) -> pa.Table:
    """The orders of the customer ids ``customers`` or of the e-mails ``emails`` (compared
    lower-cased: a guest order's e-mail is stored as given)."""
    return _read_either(store, _orders(customers, emails))


#: The columns of a profile's timeline: what happened, when, on which device or account, and
#: where the visit came from. Not the event's ``context``, ``traits`` nor its clock fields:
#: each column more is one more block read per event, since a person's events lie scattered
#: through a table stored in arrival order (the whole events are in the export,
#: :func:`tenure.identity.privacy.export_person`).
TIMELINE_COLUMNS: tuple[str, ...] = (
    "message_id",
    "type",
    "event",
    "timestamp",
    "anonymous_id",
    "user_id",
    "properties",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)


def person_events(
    store: Store,
    anonymous: list[str],
    customers: list[str],
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The events of the devices ``anonymous`` or of the user ids ``customers``: every column,
    or ``columns`` (which must include ``anonymous_id``)."""
    return _read_either(store, _events(anonymous, customers), columns)


def profile(
    store: Store,
    identifier: str,
    *,
    timeline: int = 50,
    event_columns: Sequence[str] | None = TIMELINE_COLUMNS,
) -> dict[str, Any]:
    """Everything known about the person ``identifier`` names (any identifier, bare or as
    ``kind:value``, a person id or an order id: :func:`tenure.identity.find_person`).
    ``labels``: the customer id and e-mail shown next to the person id
    (:func:`tenure.identity.lookup.person_labels`).

    ``computed`` is where customer analytics and predictions (CLV, RFM, status, risk) appear
    once they have been computed for the store. ``timeline``: the latest events, latest first
    (the person's events are read whole and cut here: an ``ORDER BY ... LIMIT`` in DuckDB
    reads every event of the store rather than through the index), each with the
    ``event_columns`` (default :data:`TIMELINE_COLUMNS`; None: every column).
    """
    person = find_person(store, identifier).person_id
    rows = identity_rows(store, person)
    ids = by_kind(rows)
    customers = ids.get("customer_id", [])
    emails = ids.get("email", [])
    events, orders = _events(ids.get("anonymous_id", []), customers), _orders(customers, emails)
    event_reads, order_reads = _firsts(events, event_columns), _firsts(orders, None)
    per_person = _per_person_tables(store)
    # every read of the person's rows at once (they wait on scattered blocks, not the CPU)
    found = iter(
        store.rows_where_in_all(
            [
                KeyedRead("customers", "customer_id", tuple(customers)),
                KeyedRead("consents", "identifier", tuple(emails + customers)),
                *event_reads,
                *order_reads,
                *(KeyedRead(name, column, (person,)) for name, column in per_person),
            ]
        )
    )
    records, consents = next(found), next(found)
    happened = _either(store, events, [next(found) for _ in event_reads], event_columns)
    bought = _either(store, orders, [next(found) for _ in order_reads])
    computed = _first_rows(list(found))
    traits: dict[str, Any] = {}
    for record in reversed(
        _sorted(records, "created_at", "descending")
    ):  # oldest first, so the latest value wins
        extra = json.loads(record.get("traits") or "{}")
        traits.update({k: v for k, v in record.items() if v is not None and k != "traits"})
        traits.update(extra)
    return {
        "person_id": person,
        "labels": _labels(store, person, rows),
        "identities": ids,
        "traits": traits,
        "consents": _plain(consents.to_pylist()),
        "orders": _sorted(bought, "ordered_at", "ascending"),
        "timeline": _sorted(happened, "timestamp", "descending", max(timeline, 0)),
        "computed": computed,
    }


def _labels(store: Store, person: str, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The person's labels: from their identity ``rows`` when read already
    (:func:`tenure.identity.lookup.labels_of`), else read."""
    if rows:
        return dict(labels_of(rows))
    found = person_labels(store, [person]).to_pyarrow().to_pylist()
    return {k: (found[0][k] if found else None) for k in LABEL_COLUMNS}


#: Derived tables whose columns win over the others' on a shared column (the lifecycle
#: status's ``tier`` over the RFM one); the others follow in registry order.
FIRST = ("customer_facts", "customer_status")


def _per_person_tables(store: Store) -> list[tuple[str, str]]:
    """The derived tables with one row per person the store holds, with their person column,
    the first (:data:`FIRST`) first, then in registry order (the list of tables kept in the
    store's result cache until a table is created or dropped)."""
    present = set(cached(store, "identity.profile.tables", {}, store.tables))
    out = []
    for entry in sorted(DERIVED.values(), key=lambda t: t.name not in FIRST):
        column = entry.person_column
        if entry.name in present and column is not None and entry.key == (column,):
            out.append((entry.name, column))
    return out


def _first_rows(found: Sequence[pa.Table]) -> dict[str, Any]:
    """The first row of each table of ``found`` merged, an earlier table winning on a shared
    column."""
    out: dict[str, Any] = {}
    for rows in found:
        for row in _plain(rows.slice(0, 1).to_pylist()):
            out.update({k: v for k, v in row.items() if k not in out})
    return out


def computed_values(store: Store, person_id: str) -> dict[str, Any]:
    """The person's row in each derived table with one row per person
    (:data:`tenure.store.derived.DERIVED`; the first table wins on a shared column, see
    :data:`FIRST`), or an empty dict before the first refresh."""
    reads = [KeyedRead(n, c, (person_id,)) for n, c in _per_person_tables(store)]
    return _first_rows(store.rows_where_in_all(reads))

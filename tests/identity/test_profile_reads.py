"""The reads of one person's rows a profile makes (issue 18: profiles on a 1M-buyer store):

* ``Store.rows_where_in`` on DuckDB (one bound statement through the index) gives the rows
  an Ibis filter gives, by value, lower-cased, some columns, none, with clear errors;
* ``labels_of`` (the labels from a person's identity rows) equals ``person_labels`` for every
  person of the demo store;
* the profile on PySpark (no index: Ibis filters) equals the one on DuckDB.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tenure import Store
from tenure.errors import TenureError, UnknownTableError
from tenure.identity import resolve_identities
from tenure.identity.lookup import LABEL_COLUMNS, labels_of, person_labels
from tenure.identity.profile import TIMELINE_COLUMNS, profile
from tenure.ingest import import_customers, import_events, import_orders
from tenure.store import KeyedRead
from tenure.store.indexes import PERSON_LISTS, PERSON_TABLES, index_names


@pytest.fixture(scope="module")
def demo(demo_url: str) -> Any:
    with Store(demo_url, read_only=True) as store:
        yield store


def _sorted(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)


def test_rows_where_in_equals_a_filter(demo: Store) -> None:
    o = demo.table("orders")
    customers = o.customer_id.to_pyarrow().to_pylist()[:3]
    wanted = o.filter(o.customer_id.isin(customers)).to_pyarrow().to_pylist()
    got = demo.rows_where_in("orders", "customer_id", [*customers, customers[0]])
    assert got.schema == o.to_pyarrow().schema
    assert _sorted(got.to_pylist()) == _sorted(wanted) and len(wanted) >= 3

    mail = next(e for e in o.email.to_pyarrow().to_pylist() if e)
    low = demo.rows_where_in("orders", "email", [mail.lower()], lower=True, columns=["email"])
    by_lower = o.filter(o.email.lower() == mail.lower()).count().execute()
    assert low.column_names == ["email"] and low.num_rows == by_lower > 0
    assert demo.rows_where_in("orders", "customer_id", []).num_rows == 0
    assert demo.rows_where_in("orders", "email", [], lower=True).num_rows == 0


def test_rows_where_in_all_answers_each_read_in_order(demo: Store) -> None:
    o = demo.table("orders")
    customers = o.customer_id.to_pyarrow().to_pylist()[:6]
    mail = next(e for e in o.email.to_pyarrow().to_pylist() if e)
    reads = [
        KeyedRead("orders", "customer_id", (c,), columns=("order_id", "customer_id"))
        for c in customers
    ]
    reads += [
        KeyedRead("orders", "email", (mail.lower(),), lower=True),
        KeyedRead("customers", "customer_id", ()),
    ]
    with demo.versions.recording() as read:
        got = demo.rows_where_in_all(reads)
    assert read == {"orders", "customers"}  # a cached result built on them is kept right
    for r, rows in zip(reads, got, strict=True):
        alone = demo.rows_where_in(r.table, r.column, r.values, lower=r.lower, columns=r.columns)
        assert rows.schema == alone.schema and _sorted(rows.to_pylist()) == _sorted(
            alone.to_pylist()
        )
    assert all(t.num_rows > 0 for t in got[:-1]) and got[-1].num_rows == 0
    with pytest.raises(UnknownTableError, match="no table 'no_such_table'"):
        demo.rows_where_in_all([*reads[:2], KeyedRead("no_such_table", "person_id", ("x",))])


def test_the_per_person_lists_are_indexed_when_built(demo: Store) -> None:
    # the recommendations step wrote them: a profile page reads them by person
    assert {"product_recommendations", "category_candidates"} <= set(demo.tables())
    wanted = {i.name for i in PERSON_LISTS} | {i.name for i in PERSON_TABLES}
    assert wanted <= index_names(demo.con)


def test_rows_where_in_names_what_is_wrong(demo: Store) -> None:
    with pytest.raises(UnknownTableError, match="no table 'no_such_table'"):
        demo.rows_where_in("no_such_table", "person_id", ["x"])
    with pytest.raises(TenureError, match="no column 'nope'"):
        demo.rows_where_in("orders", "nope", ["x"])
    with pytest.raises(TenureError, match="not a table or column name"):
        demo.rows_where_in("orders", 'customer_id" OR 1=1 --', ["x"])


def test_labels_of_equals_person_labels_for_every_person(demo: Store) -> None:
    expected = {r["person_id"]: r for r in person_labels(demo).to_pyarrow().to_pylist()}
    ids = demo.table("identities").select("person_id", "kind", "value", "first_seen")
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ids.to_pyarrow().to_pylist():
        if row["person_id"] is not None:
            rows[row["person_id"]].append(row)
    assert len(expected) > 500
    for person, mine in rows.items():
        want = {k: expected[person][k] for k in LABEL_COLUMNS}
        assert labels_of(mine) == want, person


EVENTS = [
    {"messageId": "prof-m1", "type": "page", "anonymousId": "prof-phone",
     "timestamp": "2024-03-01T08:00:00Z"},
    {"messageId": "prof-m2", "type": "identify", "anonymousId": "prof-laptop",
     "userId": "prof-cust", "traits": {"email": "Prof-Ann@example.com"},
     "timestamp": "2024-03-02T20:00:00Z"},
    {"messageId": "prof-m3", "type": "track", "event": "Product Viewed", "userId": "prof-cust",
     "timestamp": "2024-03-03T09:00:00Z"},
    {"messageId": "prof-m4", "type": "identify", "anonymousId": "prof-phone",
     "traits": {"email": "prof-ann@example.com"}, "timestamp": "2024-03-02T20:05:00Z"},
]  # fmt: skip
ORDERS = (
    "order_id,customer_id,email,ordered_at,currency,total\n"
    "prof-o1,,PROF-ANN@example.com,2024-03-03T12:00:00,USD,40.00\n"
    "prof-o2,prof-cust,,2024-03-04T12:00:00,USD,12.50\n"
    "prof-o3,prof-cust,prof-ann@example.com,2024-03-05T12:00:00,USD,7.00\n"
)
CUSTOMERS = "customer_id,email,first_name\nprof-cust,prof-ann@example.com,Ann\n"


def _load(store: Store, folder: Path) -> None:
    (folder / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    (folder / "o.csv").write_text(ORDERS)
    (folder / "c.csv").write_text(CUSTOMERS)
    import_events(store, [folder / "e.jsonl"])
    import_orders(store, [folder / "o.csv"])
    import_customers(store, [folder / "c.csv"])
    resolve_identities(store)


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    drop = {"imported_at", "received_at", "sent_at"}  # load times differ between the stores
    # the person id too: the Spark catalog is shared with the other Spark tests' rows
    keep = {k: v for k, v in doc.items() if k != "person_id"}
    keep["timeline"] = [{k: v for k, v in e.items() if k not in drop} for e in doc["timeline"]]
    keep["orders"] = [{k: v for k, v in o.items() if k not in drop} for o in doc["orders"]]
    keep["traits"] = {k: v for k, v in doc["traits"].items() if k not in drop}
    return keep


def test_a_profile_reads_every_row_of_the_person(tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'p.duckdb'}") as store:
        _load(store, tmp_path)
        doc = profile(store, "email:prof-ann@example.com", timeline=2)
    assert [o["order_id"] for o in doc["orders"]] == ["prof-o1", "prof-o2", "prof-o3"]
    # the user id's event without a device is there once, the identified one once
    assert [e["message_id"] for e in doc["timeline"]] == ["prof-m3", "prof-m4"]
    # the timeline's summary columns, not the whole events (those are in the export)
    assert all(list(e) == list(TIMELINE_COLUMNS) for e in doc["timeline"])
    assert doc["labels"] == {
        "customer_id": "prof-cust",
        "email": "prof-ann@example.com",
        "other_id": None,
    }


@pytest.mark.spark
def test_the_profile_on_pyspark_is_the_one_on_duckdb(spark_store: Store, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    with Store(f"duckdb://{tmp_path / 'p.duckdb'}") as duck:
        _load(duck, tmp_path)
        want = profile(duck, "customer_id:prof-cust", timeline=3)
    _load(spark_store, tmp_path)
    got = profile(spark_store, "customer_id:prof-cust", timeline=3)
    assert _comparable(got) == _comparable(want)

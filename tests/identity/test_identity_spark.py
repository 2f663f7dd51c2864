"""The same identity graph (same persons, same members) on DuckDB and on PySpark."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.identity import resolve_identities

pytest.importorskip("pyspark")

EVENTS = pa.table(
    {
        "message_id": ["s1", "s2", "s3", "s4", "s5"],
        "type": ["page", "identify", "track", "page", "identify"],
        "anonymous_id": ["sp-a", "sp-a", "sp-b", "sp-c", "sp-d"],
        "user_id": [None, "sp-u1", "sp-u1", None, "sp-u2"],
        "traits": [
            None,
            '{"email": "sp1@example.com"}',
            None,
            None,
            '{"email": "guest@example.com"}',
        ],
        "timestamp": pa.array([datetime(2024, 1, d) for d in (1, 2, 3, 3, 4)], pa.timestamp("us")),
    }
)
ORDERS = pa.table(
    {
        "order_id": ["sp-o1"],
        "customer_id": ["sp-u2"],
        "email": ["SP2@example.com"],
        "ordered_at": pa.array([datetime(2024, 1, 5)], pa.timestamp("us")),
        "currency": ["USD"],
    }
)


def _groups(store: Store) -> set[frozenset[str]]:
    rows = store.table("identities").to_pyarrow().to_pylist()
    by: dict[str, set[str]] = {}
    for r in rows:
        if r["person_id"] is not None and str(r["value"]).startswith(("sp", "SP")):
            by.setdefault(r["person_id"], set()).add(f"{r['kind']}:{r['value']}")
    return {frozenset(v) for v in by.values()}


@pytest.mark.spark
def test_same_persons_on_duckdb_and_pyspark(
    spark_store: Store, store: Store, tmp_path: Path
) -> None:
    for st in (store, spark_store):
        st.insert("events", EVENTS)
        st.insert("orders", ORDERS)
        resolve_identities(st)
    duck, spark = _groups(store), _groups(spark_store)
    assert duck == spark
    assert (
        frozenset(
            {"anonymous_id:sp-a", "anonymous_id:sp-b", "customer_id:sp-u1", "email:sp1@example.com"}
        )
        in duck
    )
    assert frozenset({"anonymous_id:sp-d", "customer_id:sp-u2", "email:sp2@example.com"}) in duck
    assert frozenset({"anonymous_id:sp-c"}) in duck

"""Store.shadowed: for the block, every read and write of the named canonical tables through the
Store (table, read, exists, insert, truncate, upsert, delete_where) goes to an empty scratch
copy; the real table is untouched and the copy is gone afterwards."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store


def _row(flow: str, paused: bool) -> pa.Table:
    return pa.table({"flow": [flow], "paused": [paused], "at": [datetime(2026, 1, 1)], "by": ["t"]})


def test_reads_and_writes_go_to_the_shadow(tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 's.duckdb'}") as store:
        store.insert("flow_controls", _row("real", True))
        tables = set(store.tables())
        with store.shadowed("flow_controls"):
            assert store.count("flow_controls") == 0 and store.exists("flow_controls")
            store.insert("flow_controls", _row("a", True))
            store.upsert("flow_controls", ["flow"], _row("a", False))
            store.insert("flow_controls", _row("b", True))
            assert store.delete_where("flow_controls", lambda t: t.flow == "b") == 1
            shadow = store.read("flow_controls").to_pyarrow().to_pylist()
            assert [(r["flow"], r["paused"]) for r in shadow] == [("a", False)]
            store.truncate("flow_controls")
            assert store.count("flow_controls") == 0
        rows = store.table("flow_controls").to_pyarrow().to_pylist()
        assert [(r["flow"], r["paused"]) for r in rows] == [("real", True)]
        assert set(store.tables()) == tables and store.shadows == {}


def test_a_read_only_store_writes_its_shadows(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store(f"duckdb://{path}").close()
    with Store(f"duckdb://{path}", read_only=True) as store, store.shadowed("flow_controls"):
        store.insert("flow_controls", _row("a", True))
        assert store.count("flow_controls") == 1


@pytest.mark.spark
def test_shadows_on_spark(spark_store: Store) -> None:
    pytest.importorskip("pyspark")
    before = spark_store.count("flow_controls")
    with spark_store.shadowed("flow_controls"):
        spark_store.insert("flow_controls", _row("a", True))
        spark_store.upsert("flow_controls", ["flow"], _row("a", False))
        rows = spark_store.table("flow_controls").to_pyarrow().to_pylist()
        assert [(r["flow"], r["paused"]) for r in rows] == [("a", False)]
    assert spark_store.count("flow_controls") == before

"""The result cache (tenure.store.cache) over a real DuckDB file: a hit, a miss, other
parameters, invalidation by a write to a table read (and not by one to another table), copies,
the refresh after writes, two stores of one file; and the indexes of tenure.store.indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from tenure.store import Store, cached, refresh_cached
from tenure.store.cache import cache_stats, clear_cached
from tenure.store.indexes import INDEXES, index_names
from tenure.store.versions import DataVersions


def _order(order_id: str, customer: str, total: float) -> pa.Table:
    return pa.table(
        {
            "order_id": [order_id],
            "customer_id": [customer],
            "email": [f"{customer.lower()}@example.com"],
            "ordered_at": pa.array([pd.Timestamp("2024-01-02")], pa.timestamp("us")),
            "currency": ["EUR"],
            "total": [total],
        }
    )


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    with Store(f"duckdb://{tmp_path / 'cache.duckdb'}") as s:
        s.insert("orders", _order("O1", "C1", 10.0))
        yield s


class Counted:
    """A computation over ``orders`` that counts its runs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs = 0

    def __call__(self, minimum: float = 0.0) -> pd.DataFrame:
        self.runs += 1
        o = self.store.table("orders")
        frame = o.filter(o.total >= minimum).select("order_id", "total").to_pandas()
        frame.attrs["rows"] = len(frame)
        return frame


def test_a_repeated_call_is_answered_from_memory(store: Store) -> None:
    compute = Counted(store)
    first = cached(store, "orders", {"minimum": 0}, compute)
    second = cached(store, "orders", {"minimum": 0}, compute)
    assert compute.runs == 1
    assert second.equals(first) and second.attrs == {"rows": 1}
    stats = cache_stats(store)
    assert (stats.hits, stats.misses, stats.entries) == (1, 1, 1)
    assert stats.bytes > 0


def test_other_parameters_are_another_result(store: Store) -> None:
    compute = Counted(store)
    assert len(cached(store, "orders", {"minimum": 0}, lambda: compute(0))) == 1
    assert len(cached(store, "orders", {"minimum": 50}, lambda: compute(50))) == 0
    assert len(cached(store, "other", {"minimum": 0}, lambda: compute(0))) == 1
    assert compute.runs == 3


def test_a_write_to_a_table_read_computes_again(store: Store) -> None:
    compute = Counted(store)
    assert len(cached(store, "orders", {}, compute)) == 1
    store.insert("customers", pa.table({"customer_id": ["C9"]}))  # not read: still held
    assert len(cached(store, "orders", {}, compute)) == 1
    assert compute.runs == 1
    store.insert("orders", _order("O2", "C2", 20.0))  # read: computed again
    assert cached(store, "orders", {}, compute)["order_id"].tolist() == ["O1", "O2"]
    assert compute.runs == 2
    store.delete_where("orders", lambda t: t.order_id == "O1")
    assert cached(store, "orders", {}, compute)["order_id"].tolist() == ["O2"]
    store.truncate("orders")
    assert cached(store, "orders", {}, compute).empty
    assert compute.runs == 4


def test_a_write_through_another_store_of_the_file_counts(store: Store) -> None:
    compute = Counted(store)
    cached(store, "orders", {}, compute)
    with Store(store.url) as other:  # the same file, a second connection of this process
        other.insert("orders", _order("O3", "C3", 30.0))
        assert len(cached(store, "orders", {}, compute)) == 2
    assert compute.runs == 2


def test_the_answer_is_a_copy(store: Store) -> None:
    compute = Counted(store)
    first = cached(store, "orders", {}, compute)
    first.loc[0, "order_id"] = "changed"
    first.attrs["rows"] = 99
    again = cached(store, "orders", {}, compute)
    assert again["order_id"].tolist() == ["O1"] and again.attrs == {"rows": 1}


def test_a_failed_computation_keeps_nothing(store: Store) -> None:
    def fails() -> None:
        store.table("orders")
        raise ValueError("no")

    with pytest.raises(ValueError):
        cached(store, "bad", {}, fails)
    assert cache_stats(store).entries == 0


def test_refresh_computes_the_stale_results_again(store: Store) -> None:
    compute = Counted(store)
    cached(store, "orders", {}, compute)
    cached(store, "customers", {}, lambda: store.count("customers"))
    assert refresh_cached(store)["refreshed"] == 0  # nothing written: nothing to do
    store.insert("orders", _order("O2", "C2", 20.0))
    done = refresh_cached(store)
    assert (done["refreshed"], done["dropped"], done["left"]) == (1, 0, 0)
    assert compute.runs == 2
    assert len(cached(store, "orders", {}, compute)) == 2
    assert compute.runs == 2  # the refreshed result is the one answered
    clear_cached(store)
    assert cache_stats(store).entries == 0


def test_a_result_listing_tables_is_computed_again_when_one_is_made(store: Store) -> None:
    names = cached(store, "tables", {}, store.tables)
    assert "x_new" not in names
    store.create("x_new", ibis.schema({"a": "int64"}))
    assert "x_new" in cached(store, "tables", {}, store.tables)


def test_the_indexes_are_built_and_kept(store: Store) -> None:
    wanted = {index.name for index in INDEXES}
    assert wanted <= index_names(store.con)
    store.truncate("events")  # the table is created again: its indexes with it
    assert wanted <= index_names(store.con)


def test_a_result_kept_inside_another_counts_as_read_by_it(store: Store) -> None:
    inner = Counted(store)
    outer_runs = 0

    def outer() -> int:
        nonlocal outer_runs
        outer_runs += 1
        return len(cached(store, "orders", {}, inner))

    cached(store, "orders", {}, inner)  # kept first: the outer one finds it held
    assert cached(store, "outer", {}, outer) == 1
    store.insert("orders", _order("O2", "C2", 20.0))  # what the inner one read
    assert cached(store, "outer", {}, outer) == 2
    assert outer_runs == 2 and inner.runs == 2


def test_nested_recordings_with_equal_reads_each_keep_their_own() -> None:
    """Two nested blocks holding equal sets (both empty) are told apart by identity: the
    outer one still records what is read after the inner one ends."""
    versions = DataVersions()
    with versions.recording() as outer:
        with versions.recording():
            pass
        versions.read("orders")
    assert outer == {"orders"}


def test_unrecorded_reads_are_hidden_from_the_blocks_open_before_only() -> None:
    versions = DataVersions()
    with versions.recording() as outer:
        with versions.unrecorded(["events"]) as live:
            versions.read("events", "orders", "_tenure_scratch")
            with versions.recording() as inner:
                versions.read("events")
        versions.read("events")  # after the block: recorded again
    assert outer == {"orders", "events"} and inner == {"events"} and live == {"events"}
    with versions.recording() as plain, versions.unrecorded(["events"]):
        versions.read("events")
    assert plain == set()

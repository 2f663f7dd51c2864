"""flow_stats on DuckDB and on PySpark: the same figures for the hand-made store; and the
rotated holdout assigned alike on both engines."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from tenure import Store
from tenure.deliver.measure import flow_stats
from tenure.engage.holdout import holdout_of, in_holdout, rotated_subject, subject_of
from tests.conftest import copy_tables
from tests.deliver.measurekit import NOW, fill

pytestmark = pytest.mark.spark

TABLES = (
    "identities",
    "customers",
    "orders",
    "order_items",
    "products",
    "fx_rates",
    "store_meta",
    "suppressions",
    "consents",
    "messages",
    "flow_state",
    "link_clicks",
)


def test_flow_stats_are_the_same_on_both_engines(spark_store: Store) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with Store("duckdb://:memory:") as duck:
        fill(duck)
        want = flow_stats(duck, now=NOW).to_dict()
        copy_tables(duck, spark_store, TABLES)
    got = flow_stats(spark_store, now=NOW).to_dict()
    assert _rounded(got) == _rounded(want)


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_the_rotated_holdout_is_the_same_on_spark(spark_store: Store) -> None:
    ids = [f"P{i:04d}" for i in range(300)]
    at = [datetime(2026, 1, 1) + timedelta(days=i) for i in range(300)]
    rows = pa.table({"person_id": ids, "at": pa.array(at, pa.timestamp("us"))})
    t = spark_store.upload("rotation_check", rows)
    try:
        rotate = timedelta(days=30)
        expr = t.mutate(h=in_holdout(rotated_subject(t.person_id, t.at, rotate), "f", 0.3))
        got = expr.order_by("person_id").to_pyarrow().column("h").to_pylist()
    finally:
        spark_store.drop_upload("rotation_check")
    assert got == [
        holdout_of(subject_of(p, a, rotate), "f", 0.3) for p, a in zip(ids, at, strict=True)
    ]

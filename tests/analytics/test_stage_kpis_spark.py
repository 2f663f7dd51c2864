"""Indicators per stage and ``kpis(by="stage")`` on PySpark: the same rows as on DuckDB, on
the hand-made store of tests/analytics/test_stage_kpis.py (its identities resolved once, on
DuckDB, and every table copied into the session's Spark store)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.periods import kpis
from tenure.analytics.stage_kpis import stage_indicators
from tenure.store.schema import TABLES
from tests.analytics.test_stage_kpis import END, EXPECTED, hand
from tests.conftest import copy_tables

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_stage_indicators_on_spark_equal_duckdb(spark_store: Store, tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'hand.duckdb'}") as duck:
        hand(duck, tmp_path)
        copy_tables(duck, spark_store, TABLES)
        expected = stage_indicators(duck, END)
        split = kpis(duck, grain="quarter", by="stage", as_of=END)
    got = stage_indicators(spark_store, END)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)
    values = {(r.stage, r.indicator): r.value for r in got.itertuples()}
    assert values == pytest.approx(EXPECTED, rel=1e-12)
    pd.testing.assert_frame_equal(
        kpis(spark_store, grain="quarter", by="stage", as_of=END), split, rtol=1e-12
    )

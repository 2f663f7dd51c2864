"""Journey stages on PySpark: the same rows, history and transitions as on DuckDB, on the
hand-made store of tests/analytics/test_journey.py (its identities resolved once, on DuckDB,
and every table copied into the session's Spark store)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.journey import journey_stages, journey_transitions, record_journey
from tenure.store.schema import TABLES
from tests.analytics.test_journey import END, _tiny
from tests.conftest import copy_tables

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _rows(store: Store) -> pd.DataFrame:
    rows = journey_stages(store, END).to_pyarrow().to_pylist()
    return pd.DataFrame(rows).sort_values("person_id").reset_index(drop=True)


def test_journey_on_spark_equals_duckdb(spark_store: Store, tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'tiny.duckdb'}") as duck:
        _tiny(duck, tmp_path)
        copy_tables(duck, spark_store, TABLES)
        expected = _rows(duck)
        for day in (date(2024, 5, 15), END):
            record_journey(duck, day)
        moves = journey_transitions(duck, period="week")
    got = _rows(spark_store)
    pd.testing.assert_frame_equal(got, expected)
    assert sorted(got["stage"].unique()) == sorted(expected["stage"].unique())
    for day in (date(2024, 5, 15), END):
        record_journey(spark_store, day)
    pd.testing.assert_frame_equal(journey_transitions(spark_store, period="week"), moves)

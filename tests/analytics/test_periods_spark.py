"""KPIs per period give the same rows on DuckDB and on PySpark (the two-engine demo store of
test_analytics_spark: currencies, ties, a void order, a return row, a guest, spend)."""

from __future__ import annotations

import pytest

from tenure import Store
from tenure.analytics.periods import kpis
from tests.analytics.test_analytics_spark import END, assert_same, engines

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

__all__ = ["engines"]  # the module's fixture: one demo store on both engines


@pytest.mark.parametrize(
    ("grain", "by"),
    [("month", None), ("week", "channel"), ("day", "status")],
)
def test_kpis_are_the_same(engines: tuple[Store, Store], grain: str, by: str | None) -> None:
    duck, spark = (kpis(store, grain=grain, by=by, as_of=END) for store in engines)
    keys = ["period"] if by is None else ["period", by]
    assert_same(duck, spark, keys)
    if by is None:  # the fixture reaches every part: spend, prospects, a CLV
        last = duck.iloc[-1]
        assert last["spend"] > 0 and last["prospects"] > 0 and last["clv"] > 0

"""`tenure predict` on PySpark gives DuckDB's rows: the patterns are compressed in each engine,
fitted and scored here, and joined back there.

The two-engine store is the analytics one (tests/analytics/test_analytics_spark.py: a
300-buyer demo plus hand-made traps, every table copied into the Spark store) with DuckDB's
customer_facts copied over; the data floor is lowered so that the model path runs on it, and
the heuristic is asked for once too.
"""

from __future__ import annotations

import pytest

from tenure import Store
from tenure.analytics import customer_facts
from tenure.predictions.holdout import DataFloor
from tenure.predictions.predict import PREDICTIONS, predict
from tenure.predictions.scoring import drop_upload, upload
from tests.analytics.test_analytics_spark import END, assert_same, engines

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

__all__ = ["engines"]  # the two-engine store fixture, shared with the analytics tests

FLOOR = DataFloor(buyers=100, repeat_buyers=50, history_days=180)


@pytest.fixture(scope="module")
def refreshed(engines: tuple[Store, Store]) -> tuple[Store, Store]:
    """customer_facts as of END, the only derived table predict reads, computed on DuckDB and
    copied to Spark: that the two engines compute the same facts is the analytics tests' job
    (and costs ~50 s on Spark), predict's parity is this module's."""
    duck, spark = engines
    facts = duck.replace("customer_facts", customer_facts(duck, as_of=END))
    copy = upload(spark, "_facts_copy", facts.to_pyarrow())
    spark.replace("customer_facts", copy)
    drop_upload(spark, "_facts_copy")
    return engines


def test_model_predictions_are_the_same(refreshed: tuple[Store, Store]) -> None:
    duck, spark = (predict(store, floor=FLOOR) for store in refreshed)
    assert duck.method == spark.method == "BetaGeo"
    assert duck.patterns == spark.patterns > 0
    assert duck.stats == spark.stats
    assert duck.parameters.keys() == spark.parameters.keys()
    for name, value in duck.parameters.items():
        assert spark.parameters[name] == pytest.approx(value, rel=1e-9), name
    assert duck.vip_threshold == pytest.approx(spark.vip_threshold, rel=1e-12)
    tables = [store.con.table(PREDICTIONS) for store in refreshed]
    assert_same(*tables, ["person_id"])
    assert_same(*(store.con.table("customer_facts") for store in refreshed), ["person_id"])
    for store in refreshed:  # the scratch tables are gone
        assert not [t for t in store.con.list_tables() if t.startswith("_predict")]


def test_heuristic_predictions_are_the_same(refreshed: tuple[Store, Store]) -> None:
    duck, spark = (predict(store, model="heuristic") for store in refreshed)
    assert duck.method == spark.method == "heuristic"
    assert_same(*(store.con.table(PREDICTIONS) for store in refreshed), ["person_id"])

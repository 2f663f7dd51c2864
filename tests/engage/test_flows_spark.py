"""One tick on DuckDB and on PySpark: the same messages and the same flow state (the keys,
hashes, variants, holdouts, time zones and times are computed alike on both engines)."""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.flow_spec import parse_flow
from tenure.engage.flows import run_tick
from tests.conftest import copy_tables
from tests.engage.flowkit import T0, all_pending, build, python_holdout
from tests.engage.test_flows import CART, VARIANTS, _carts

pytestmark = pytest.mark.spark

#: The tables a tick reads and writes (emptied, then copied, in the shared Spark store).
TABLES = (
    "customers",
    "identities",
    "events",
    "orders",
    "order_items",
    "products",
    "fx_rates",
    "store_meta",
    "messages",
    "flow_state",
    "flow_ticks",
    "flow_controls",
)
MORNING = """
name: morning
trigger: {event: Checkout Started}
steps:
  - {id: ten, wait_until: "10:00"}
  - {id: s, send: {channel: email, template: t}}
"""


def _ticked(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    flows = [CART, parse_flow(VARIANTS, "ab.yaml"), parse_flow(MORNING, "m.yaml")]
    run_tick(store, flows, T0 + timedelta(hours=2), decide=all_pending, holdout=python_holdout)
    m = store.table("messages").to_pandas().drop(columns=["decided_at", "updated_at"])
    s = store.table("flow_state").to_pandas().drop(columns=["updated_at"])
    m = m.sort_values("message_key").reset_index(drop=True)
    s = s.sort_values(["flow", "person_id", "trigger_id"]).reset_index(drop=True)
    return m, s


def test_a_tick_gives_the_same_messages_and_state_on_both_engines(spark_store: Store) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with Store("duckdb://:memory:") as duck:
        events, orders = _carts()
        build(duck, events, orders)
        copy_tables(duck, spark_store, TABLES)
        expected_m, expected_s = _ticked(duck)
    got_m, got_s = _ticked(spark_store)
    assert len(expected_m) > 400 and set(expected_m.flow) == {"abandoned_cart", "ab", "morning"}
    pd.testing.assert_frame_equal(got_m, expected_m, check_dtype=False)
    pd.testing.assert_frame_equal(got_s, expected_s, check_dtype=False)

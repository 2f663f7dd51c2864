"""The send policy gives the same decisions on PySpark as on DuckDB (marked spark: slow)."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from tenure import Store
from tenure.engage.holdout import holdout_of, in_holdout
from tenure.engage.policy import SendPolicy, decide, release_held
from tests.conftest import copy_tables
from tests.engage.conftest import candidates, hand_built, record, states, ts

pytestmark = pytest.mark.spark

TABLES = ("identities", "customers", "consents", "suppressions", "messages")
NOW = ts("2026-03-08 12:00")


def test_decide_and_release_agree_with_duckdb(store: Store, spark_store: Store) -> None:
    hand_built(store)
    copy_tables(store, spark_store, TABLES)
    c = candidates(
        [
            ("m01", "p_ny", "email", "2026-03-08 12:00"),
            ("m02", "p_ny", "email", "2026-03-08 12:05"),
            ("m03", "p_ny", "sms", "2026-03-08 12:00"),
            ("m04", "p_ny", "sms", "2026-03-08 02:00", True),
            ("m05", "p_paris", "email", "2026-03-08 12:00"),
            ("m06", "p_tokyo", "email", "2026-03-08 12:00"),
            ("m07", "p_unsub", "email", "2026-03-08 12:00"),
            ("m09", "p_bounced", "email", "2026-03-08 12:00"),
            ("m10", "p_deleted", "webhook", "2026-03-08 12:00"),
            ("m12", "p_nobody", "webhook", "2026-03-08 12:00"),
            ("m14", "p_mars", "email", "2026-03-08 12:00"),
            ("m19", "p_ny", "email", "2026-03-09 12:30"),
            ("m20", "p_ny", "sms", "2026-03-09 02:00"),
        ]
    )
    policy = SendPolicy()
    on_duckdb = states(decide(store, c, NOW, policy=policy))
    on_spark = states(decide(spark_store, c, NOW, policy=policy))
    assert on_spark == on_duckdb
    assert on_duckdb["m03"] == (
        "held",
        "quiet hours 21:00-09:00 America/New_York",
        ts("2026-03-08 13:00"),
    )
    for st in (store, spark_store):
        record(st, decide(st, c, NOW, policy=policy), NOW)
        assert release_held(st, ts("2026-03-09 13:00"), policy=policy) == 2
    rows = [
        sorted(
            (r["message_key"], r["state"], r["release_at"])
            for r in st.table("messages").to_pyarrow().to_pylist()
        )
        for st in (store, spark_store)
    ]
    assert rows[0] == rows[1]


def test_in_holdout_agrees_with_python_on_spark(spark_store: Store) -> None:
    ids = [f"P{i:05d}" for i in range(500)]
    t = ibis.memtable(pa.table({"person_id": pa.array(ids, pa.string())}))
    out = t.mutate(h=in_holdout(t.person_id, "welcome", 0.3)).order_by("person_id")
    got = spark_store.con.to_pyarrow(out).column("h").to_pylist()
    assert got == [holdout_of(i, "welcome", 0.3) for i in ids]

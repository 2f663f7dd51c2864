"""The dispatcher on a PySpark store (no row updates: claims and records rewrite the rows):
the same outcomes as on DuckDB, with the send policy re-checked on Spark."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tenure import Store
from tenure.deliver.dispatcher import dispatch
from tenure.errors import DeliveryError
from tests.conftest import copy_tables
from tests.deliver.outboxkit import T0, Scripted, delivered, file_channels, key, renderer, seed

pytestmark = [pytest.mark.spark, pytest.mark.slow]
TABLES = ("identities", "consents", "suppressions", "customers", "messages", "delivery_attempts")


def test_dispatch_on_spark(spark_store: Store, store: Store, tmp_path: Path) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    keys = seed(store, n_email=4, n_webhook=1)
    copy_tables(store, spark_store, TABLES)
    out = tmp_path / "out"
    channels = file_channels(out)
    channels["email"] = Scripted("email", {key(1): [DeliveryError("550 no such user")]})
    result = dispatch(spark_store, channels=channels, renderer=renderer(spark_store), now=T0)
    assert (result.claimed, result.sent, result.failed) == (5, 4, 1)
    m = spark_store.table("messages").to_pyarrow().to_pylist()
    assert {r["message_key"]: r["state"] for r in m} == {
        k: "failed" if k == key(1) else "sent" for k in keys
    }
    assert all(r["lease_owner"] is None for r in m)
    assert spark_store.count("delivery_attempts") == 5
    assert [d["message_key"] for d in delivered(out, "webhook")] == [key(4)]
    again = dispatch(spark_store, channels=channels, renderer=renderer(spark_store), now=T0)
    assert again.claimed == 0

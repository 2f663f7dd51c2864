"""`privacy delete` on a PySpark store: the same Ibis code as on DuckDB leaves no row of the
person, keeps everyone else's, and later imports of the person's rows are suppressed.

The Spark session's catalog is shared by every Spark test: this one's identifiers start with
``pdel-`` and it looks only at its own rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.identity import person_of, resolve_identities
from tenure.identity.privacy import delete_person
from tenure.ingest import (
    import_customers,
    import_events,
    import_feedback,
    import_orders,
    import_referrals,
)
from tenure.ingest.identifiers import digest
from tests.identity.scan import mentions

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark")

EVENTS = [
    {"messageId": "pdel-m1", "type": "page", "anonymousId": "pdel-phone",
     "timestamp": "2024-03-01T08:00:00Z"},
    {"messageId": "pdel-m2", "type": "identify", "anonymousId": "pdel-laptop",
     "userId": "pdel-cust", "traits": {"email": "PDel-Ann@example.com"},
     "timestamp": "2024-03-02T20:00:00Z"},
    {"messageId": "pdel-m3", "type": "identify", "anonymousId": "pdel-phone",
     "traits": {"email": "pdel-ann@example.com"}, "timestamp": "2024-03-02T20:05:00Z"},
    {"messageId": "pdel-m4", "type": "page", "anonymousId": "pdel-other",
     "timestamp": "2024-03-05T10:00:00Z"},
]  # fmt: skip
ORDERS = (
    "order_id,email,ordered_at,currency,product_id,quantity,unit_price\n"
    "pdel-o1,pdel-ann@example.com,2024-03-03T12:00:00,USD,P1,1,40.00\n"
    "pdel-o1,,2024-03-03T12:00:00,USD,P2,1,2.00\n"
    "pdel-o2,pdel-bob@example.com,2024-03-04T12:00:00,USD,P1,1,40.00\n"
    "pdel-o3,pdel-ann@example.com,not a date,USD,P1,1,40.00\n"
)
CUSTOMERS = (
    "customer_id,email,phone\n"
    "pdel-cust,pdel-ann@example.com,+1 415 555 2671\n"
    "pdel-bob-c,pdel-bob@example.com,\n"
)
FEEDBACK = (
    "feedback_id,email,kind,score,submitted_at\n"
    "pdel-f1,PDel-Ann@example.com,nps,9,2024-03-06\n"
    "pdel-f2,pdel-bob@example.com,review,4,2024-03-06\n"
)
REFERRALS = (
    "referral_id,referrer_customer_id,referred_customer_id,referred_at\n"
    "pdel-r1,pdel-cust,pdel-bob-c,2024-03-04\n"
)
ANN = ["pdel-phone", "pdel-laptop", "pdel-cust", "pdel-ann@example.com", "+14155552671"]


def _files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "events": tmp_path / "events.jsonl",
        "orders": tmp_path / "orders.csv",
        "customers": tmp_path / "customers.csv",
        "feedback": tmp_path / "feedback.csv",
        "referrals": tmp_path / "referrals.csv",
    }
    files["feedback"].write_text(FEEDBACK)
    files["referrals"].write_text(REFERRALS)
    files["events"].write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    files["orders"].write_text(ORDERS)
    files["customers"].write_text(CUSTOMERS)
    return files


def _load(store: Store, files: dict[str, Path]) -> None:
    import_events(store, [files["events"]])
    import_orders(store, [files["orders"]], max_quarantine=1.0)
    import_customers(store, [files["customers"]])
    import_feedback(store, [files["feedback"]])
    import_referrals(store, [files["referrals"]])
    store.insert(
        "consents", pa.table({"identifier": ["pdel-ann@example.com"], "channel": ["email"]})
    )
    resolve_identities(store)


def _mine(store: Store, table: str, column: str) -> list[str]:
    t = store.table(table)
    values = t.filter(t[column].startswith("pdel-"))[column].to_pyarrow().to_pylist()
    return sorted(values)


def test_delete_on_spark_leaves_no_row_of_the_person(spark_store: Store, tmp_path: Path) -> None:
    files = _files(tmp_path)
    _load(spark_store, files)
    assert person_of(spark_store, "phone:+14155552671") == person_of(spark_store, "pdel-phone")
    assert {v for _, _, v in mentions(spark_store, ANN)} == set(ANN)
    result = delete_person(spark_store, "pdel-ann@example.com")
    deleted = result["rows_deleted"]
    assert (deleted["events"], deleted["orders"], deleted["order_items"]) == (3, 1, 2)
    assert (deleted["customers"], deleted["consents"], deleted["quarantine"]) == (1, 1, 1)
    assert deleted["identities"] == len(ANN)
    assert (deleted["feedback"], deleted["referrals"]) == (1, 1)
    assert mentions(spark_store, ANN) == []
    # everyone else is still there
    assert _mine(spark_store, "events", "message_id") == ["pdel-m4"]
    assert _mine(spark_store, "orders", "order_id") == ["pdel-o2"]
    assert _mine(spark_store, "customers", "customer_id") == ["pdel-bob-c"]
    assert _mine(spark_store, "feedback", "feedback_id") == ["pdel-f2"]
    assert _mine(spark_store, "referrals", "referral_id") == []
    s = spark_store.table("suppressions")
    digests = set(s.filter(s.channel == "all").identifier.to_pyarrow().to_pylist())
    assert digest("phone", "+14155552671") in digests
    assert not [t for t in spark_store.con.list_tables() if t.startswith("_tenure_keep")]

    # re-importing the person's files stores nothing of theirs and counts it as suppressed
    events = import_events(spark_store, [files["events"]])
    assert (events.suppressed, events.already_present, events.stored) == (3, 1, 0)
    orders = import_orders(spark_store, [files["orders"]], max_quarantine=1.0)
    assert (orders.suppressed, orders.already_present, orders.stored) == (3, 1, 0)
    customers = import_customers(spark_store, [files["customers"]])
    assert (customers.suppressed, customers.already_present) == (1, 1)
    feedback = import_feedback(spark_store, [files["feedback"]])
    assert (feedback.suppressed, feedback.already_present) == (1, 1)
    assert mentions(spark_store, ANN) == []
    log = spark_store.table("imports")
    mine = log.filter(log.import_id.isin([events.import_id, orders.import_id]))
    assert sorted(mine.suppressed.to_pyarrow().to_pylist()) == [3, 3]


def test_engine_digest_is_the_python_digest_on_spark(spark_store: Store) -> None:
    """`digest_expr` (Ibis `hexdigest('sha256')`: SHA2(..., 256) on Spark) matches `digest`."""
    import ibis

    from tenure.ingest.identifiers import digest_expr

    values = ibis.memtable(pa.table({"v": ["pdel-ann@example.com", None]}))
    expr = values.select(d=digest_expr("email", values.v))
    got = spark_store.con.to_pyarrow(expr).column("d").to_pylist()
    assert got == [digest("email", "pdel-ann@example.com"), None]

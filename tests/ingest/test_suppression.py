"""Suppression at ingest: after `privacy delete`, the person's rows are dropped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.identity import resolve_identities
from tenure.identity.privacy import delete_person
from tenure.ingest import import_customers, import_events, import_orders
from tenure.ingest.identifiers import digest
from tests.identity.scan import mentions
from tests.identity.test_identity import GUEST_ORDER, SCENARIO

ANN_IDS = ["phone-1", "laptop-1", "tablet-1", "cust-9", "ann.smith@example.com", "4155552671"]
CUSTOMERS = (
    "customer_id,email,phone,first_name\n"
    "cust-9,Ann.Smith@example.com,+1 415 555 2671,Ann\n"
    "cust-10,bob@example.com,+1 415 555 0100,Bob\n"
)


def _deleted_ann(store: Store, tmp_path: Path) -> dict[str, Path]:
    """The identity scenario (Ann on three devices, a guest order, a customer record, and
    another visitor), resolved, then Ann deleted; the files it was imported from."""
    files = {
        "events": tmp_path / "events.jsonl",
        "orders": tmp_path / "orders.csv",
        "customers": tmp_path / "customers.csv",
    }
    files["events"].write_text("".join(json.dumps(e) + "\n" for e in SCENARIO))
    files["orders"].write_text(GUEST_ORDER)
    files["customers"].write_text(CUSTOMERS)
    import_events(store, [files["events"]])
    import_orders(store, [files["orders"]])
    import_customers(store, [files["customers"]])
    resolve_identities(store)
    delete_person(store, "ann.smith@example.com")
    return files


def test_reimporting_a_deleted_persons_files_stores_none_of_their_rows(
    store: Store, tmp_path: Path
) -> None:
    files = _deleted_ann(store, tmp_path)
    assert store.count("events") == 1 and store.count("customers") == 1
    events = import_events(store, [files["events"]])
    assert (events.rows_read, events.suppressed, events.already_present, events.stored) == (
        6,
        5,
        1,  # the other visitor's page view, still stored
        0,
    )
    orders = import_orders(store, [files["orders"]])
    assert (orders.rows_read, orders.suppressed, orders.stored) == (1, 1, 0)
    customers = import_customers(store, [files["customers"]])
    assert (customers.suppressed, customers.already_present, customers.stored) == (1, 1, 0)
    assert mentions(store, ANN_IDS) == []
    log = store.table("imports").order_by("started_at").to_pyarrow().to_pylist()
    assert [r["suppressed"] for r in log] == [0, 0, 0, 5, 1, 1]


def test_other_peoples_new_rows_are_still_stored(store: Store, tmp_path: Path) -> None:
    _deleted_ann(store, tmp_path)
    events = tmp_path / "more.jsonl"
    more = [
        # Ann comes back on her phone, then logs in on a new device, then tells her email
        {"messageId": "a1", "type": "page", "anonymousId": "phone-1", "timestamp": "2024-04-01"},
        {"messageId": "a2", "type": "track", "event": "Signed In", "anonymousId": "new-1",
         "userId": " cust-9", "timestamp": "2024-04-02"},
        {"messageId": "a3", "type": "alias", "previousId": "tablet-1", "userId": "cust-new",
         "timestamp": "2024-04-02"},
        {"messageId": "a4", "type": "identify", "anonymousId": "new-2",
         "traits": {"email": "ANN.SMITH@example.com"}, "timestamp": "2024-04-03"},
        # someone else
        {"messageId": "b1", "type": "page", "anonymousId": "other-2", "timestamp": "2024-04-01"},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(e) + "\n" for e in more))
    result = import_events(store, [events])
    assert (result.rows_read, result.suppressed, result.stored) == (5, 4, 1)
    stored = store.table("events").message_id.to_pyarrow().to_pylist()
    assert sorted(stored) == ["6", "b1"]


@pytest.mark.slow
def test_every_line_of_a_suppressed_order_is_suppressed(store: Store, tmp_path: Path) -> None:
    _deleted_ann(store, tmp_path)
    lines = tmp_path / "lines.csv"
    lines.write_text(
        "order_id,customer_id,email,ordered_at,currency,product_id,quantity,unit_price\n"
        "L1,,ann.smith@example.com,2024-04-01,USD,P1,1,5.00\n"
        "L1,,,2024-04-01,USD,P2,2,3.00\n"  # no identifier, but Ann's order
        "L2,cust-9,,2024-04-02,USD,P1,1,5.00\n"
        "L3,cust-11,carl@example.com,2024-04-02,USD,P1,1,5.00\n"
        "L4,cust-9,,someday,USD,P1,1,5.00\n"  # a bad row of Ann's: suppressed, not quarantined
        "L5,,carl@example.com,someday,USD,P1,1,5.00\n"
    )
    result = import_orders(store, [lines], max_quarantine=1.0)
    assert (result.rows_read, result.suppressed, result.stored, result.quarantined) == (6, 4, 1, 1)
    assert result.tables == {"order_items": 1, "orders": 1}
    assert sorted(store.table("orders").order_id.to_pyarrow().to_pylist()) == ["L3"]
    assert store.table("quarantine").line.to_pyarrow().to_pylist() == [7]
    assert mentions(store, ANN_IDS) == []


def test_phone_numbers_are_compared_in_e164(store: Store, tmp_path: Path) -> None:
    _deleted_ann(store, tmp_path)
    path = tmp_path / "more_customers.csv"
    path.write_text(
        "customer_id,phone\n"
        "cust-20,(415) 555-2671\n"  # Ann's number, written another way
        "cust-21,not a phone\n"
        "cust-22,\n"
    )
    result = import_customers(store, [path])
    assert (result.suppressed, result.stored) == (1, 2)


def test_no_suppression_without_an_all_channel_entry(store: Store, tmp_path: Path) -> None:
    store.insert(
        "suppressions",
        pa.table(
            {
                "identifier": [digest("customer_id", "C1")],
                "identifier_kind": ["sha256:customer_id"],
                "channel": ["email"],  # not messaged by email, but stored
            }
        ),
    )
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,ordered_at,currency,total\nO1,C1,2024-01-01,USD,5\n")
    result = import_orders(store, [path])
    assert (result.stored, result.suppressed) == (1, 0)

"""Profile, privacy export and delete: after a delete no table holds the person."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.identity import person_of, resolve_identities
from tenure.identity.privacy import delete_person, digest, export_person
from tenure.identity.profile import UnknownIdentifierError, profile
from tenure.ingest import import_orders
from tests.identity.scan import mentions
from tests.identity.test_identity import _scenario

ANN = {
    "anonymous_id": ["laptop-1", "phone-1", "tablet-1"],
    "customer_id": ["cust-9"],
    "email": ["ann.smith@example.com"],
}


def test_profile_gathers_identities_orders_and_timeline(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    doc = profile(store, "Ann.Smith@example.com")
    assert doc["identities"] == ANN
    assert [o["order_id"] for o in doc["orders"]] == ["G1"]
    assert len(doc["timeline"]) == 5
    assert doc["computed"] == {}
    with pytest.raises(UnknownIdentifierError, match=r"nobody@example\.com"):
        profile(store, "nobody@example.com")


def test_export_holds_everything(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    doc = export_person(store, "customer_id:cust-9")
    assert doc["identities"] == ANN
    assert len(doc["events"]) == 5 and len(doc["orders"]) == 1
    assert {"context", "traits", "received_at"} <= set(doc["events"][0])  # whole events
    json.dumps(doc)  # JSON-ready
    audit = store.table("privacy_audit").to_pyarrow().to_pylist()
    assert [a["action"] for a in audit] == ["export"]


def test_delete_leaves_no_row_of_the_person(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    identifiers = [v for values in ANN.values() for v in values]
    assert {value for _, _, value in mentions(store, identifiers)} == set(identifiers)
    result = delete_person(store, "ann.smith@example.com")
    assert result["rows_deleted"]["events"] == 5
    assert result["rows_deleted"]["orders"] == 1
    assert mentions(store, identifiers) == []
    digests = {r["identifier"] for r in store.table("suppressions").to_pyarrow().to_pylist()}
    assert digest("email", "ann.smith@example.com") in digests
    assert len(digests) == len(identifiers)
    audit = store.table("privacy_audit").to_pyarrow().to_pylist()
    assert audit[0]["action"] == "delete" and "ann" not in json.dumps(audit, default=str)
    # the other visitor is untouched
    assert store.count("events") == 1


def _more_of_ann(store: Store, tmp_path: Path) -> None:
    """Ann in the other tables too: a quarantined order, a consent, a channel suppression, an
    unmerge (a blocked edge, a new person); and customer_facts after a refresh."""
    from tenure.identity import unmerge
    from tenure.pipeline import refresh

    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,email,ordered_at,currency,total\nG2,ann.smith@example.com,?,USD,1\n")
    import_orders(store, [bad], max_quarantine=1.0)
    store.insert(
        "consents",
        pa.table({"identifier": ["ann.smith@example.com"], "channel": ["email"]}),
    )
    store.insert(
        "suppressions",
        pa.table(
            {"identifier": ["cust-9"], "identifier_kind": ["customer_id"], "channel": ["sms"]}
        ),
    )
    resolve_identities(store)
    unmerge(store, "anonymous_id:laptop-1", "customer_id:cust-9")
    # a second blocked edge naming cust-9 (unmerging split ones again is refused)
    store.insert(
        "identity_blocked_edges",
        pa.table({"a": ["anonymous_id:laptop-1"], "b": ["customer_id:cust-9"], "reason": ["x"]}),
    )
    refresh(store)


@pytest.mark.slow
def test_delete_reaches_every_table_the_person_is_in(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    _more_of_ann(store, tmp_path)
    person = person_of(store, "cust-9")
    facts = store.con.table("customer_facts")
    assert facts.filter(facts.person_id == person).count().execute() == 1
    # a message the flows decided for the person, and their stay in the flow
    store.insert("messages", pd.DataFrame({"message_key": ["k9"], "person_id": [person]}))
    attempt = {"message_key": ["k9"], "attempt": [1], "error": ["550 ann@example.com unknown"]}
    store.insert("delivery_attempts", pd.DataFrame(attempt))
    stay = {"flow": ["welcome"], "person_id": [person], "trigger_id": ["t9"]}
    store.insert("flow_state", pd.DataFrame(stay))
    click = {"message_key": ["k9"], "person_id": [person], "url": ["https://shop.example/x"]}
    store.insert("link_clicks", pd.DataFrame(click))
    result = delete_person(store, "cust-9")
    deleted = result["rows_deleted"]
    assert deleted == {
        "delivery_attempts": 1,
        "messages": 1,
        "flow_state": 1,
        "discount_codes": 0,
        "onsite_messages": 0,
        "link_clicks": 1,
        "bounces": 0,
        "flagged_values": 0,
        "row_history": 0,
        "order_items": 0,
        "orders": 1,
        "events": 5,  # laptop-1's sign-up names cust-9 and the e-mail: Ann's too
        "customers": 0,
        "feedback": 0,
        "referrals": 0,
        "consents": 1,
        "suppressions": 1,  # the sms suppression of cust-9, in clear
        "quarantine": 1,
        "identities": 4,
        "identity_merges": 0,
        "identity_blocked_edges": 2,
        "customer_facts": 1,
        "purchase_gaps": 0,  # one purchase day: no gap
        "facts_identities": 4,  # the identifiers the facts were built from
        "customer_rfm": 1,
        "customer_status": 1,
        "stage_history": 1,
        "dashboard_pages": 0,  # no page kept
    }
    assert store.table("events").message_id.to_pyarrow().to_pylist() == ["6"]
    ids = ["phone-1", "tablet-1", "cust-9", "ann.smith@example.com"]
    assert mentions(store, ids) == []
    assert facts.filter(facts.person_id == person).count().execute() == 0
    assert not [t for t in store.con.list_tables() if t.startswith("_tenure_keep")]


@pytest.mark.slow
def test_delete_is_one_transaction_on_duckdb(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    before = store.counts()

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("tenure.identity.privacy._audit", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        delete_person(store, "cust-9")
    assert store.counts() == before
    assert mentions(store, ["cust-9"]) != []


def _updated_orders_of_ann_and_bob(store: Store, tmp_path: Path) -> None:
    """Previous versions in row_history: Ann's guest order G1 (refunded later), Ann's order L1
    whose second line (no e-mail, like a Shopify line) changed, and Bob's order B1."""
    lines = "order_id,email,ordered_at,currency,product_id,quantity,unit_price,status\n"
    first = tmp_path / "first.csv"
    first.write_text(
        lines + "L1,ann.smith@example.com,2024-03-04,USD,P1,1,5.00,paid\n"
        "L1,,2024-03-04,USD,P2,1,2.00,paid\n"
        "B1,bob@example.com,2024-03-04,USD,P1,1,5.00,paid\n"
    )
    later = tmp_path / "later.csv"
    later.write_text(
        lines + "L1,ann.smith@example.com,2024-03-04,USD,P1,1,5.00,paid\n"
        "L1,,2024-03-04,USD,P2,2,2.00,paid\n"
        "B1,bob@example.com,2024-03-04,USD,P1,1,5.00,refunded\n"
    )
    import_orders(store, [first])
    assert import_orders(store, [later], update=True).updated == 2
    refund = tmp_path / "refund.csv"
    refund.write_text(GUEST_ORDER_REFUNDED)
    assert import_orders(store, [refund], update=True).updated == 1


GUEST_ORDER_REFUNDED = (
    "order_id,email,ordered_at,currency,total,refunded\n"
    "G1,ANN.SMITH@example.com,2024-03-03T12:00:00,USD,42.00,42.00\n"
)


@pytest.mark.slow
def test_export_and_delete_cover_the_row_history(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    _updated_orders_of_ann_and_bob(store, tmp_path)
    resolve_identities(store)
    history = store.table("row_history").to_pyarrow().to_pylist()
    assert sorted((h["entity"], h["record_key"]) for h in history) == [
        ("order_items", '{"order_id":"L1","line":2}'),
        ("orders", '{"order_id":"B1"}'),
        ("orders", '{"order_id":"G1"}'),
        ("orders", '{"order_id":"L1"}'),
    ]
    doc = export_person(store, "ann.smith@example.com")
    got = [(h["entity"], h["record_key"], h["row"]["order_id"]) for h in doc["row_history"]]
    assert sorted(got) == [
        ("order_items", '{"order_id":"L1","line":2}', "L1"),
        ("orders", '{"order_id":"G1"}', "G1"),
        ("orders", '{"order_id":"L1"}', "L1"),
    ]
    g1 = next(h for h in doc["row_history"] if h["record_key"] == '{"order_id":"G1"}')
    assert g1["row"]["refunded"] is None and g1["row"]["email"] == "ANN.SMITH@example.com"
    result = delete_person(store, "ann.smith@example.com")
    assert result["rows_deleted"]["row_history"] == 3
    assert result["rows_deleted"]["orders"] == 2 and result["rows_deleted"]["order_items"] == 2
    left = store.table("row_history").to_pyarrow().to_pylist()
    assert [h["record_key"] for h in left] == ['{"order_id":"B1"}']  # Bob's stays
    assert mentions(store, ["ann.smith@example.com", "cust-9", "laptop-1"]) == []

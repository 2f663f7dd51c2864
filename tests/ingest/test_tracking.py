"""Feedback and referrals from tracking events: `Product Reviewed` becomes a review, a
`Referral Accepted` or a `referral_code` on `Order Completed` / `Signed Up` a referral."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tenure import Store
from tenure.ingest import import_events, import_from_events


def _event(mid: str, event: str, ts: str, props: dict[str, Any], **ids: str) -> str:
    row = {"messageId": mid, "type": "track", "event": event, "timestamp": ts}
    return json.dumps({**row, **ids, "properties": props})


EVENTS = [
    _event(
        "m1",
        "Product Reviewed",
        "2024-05-01T10:00:00Z",
        {"product_id": "P1", "review_id": "rv1", "review_body": "Lovely", "rating": 5},
        userId="C1",
    ),
    _event(
        "m2",
        "Product Reviewed",
        "2024-05-01T11:00:00Z",
        {"product_id": "P2", "review_body": "Odd", "rating": 7},  # line 2: outside 1-5
        anonymousId="a9",
    ),
    _event("m3", "Product Added", "2024-05-01T11:05:00Z", {"product_id": "P2"}, userId="C1"),
    _event(
        "m4",
        "Signed Up",
        "2024-05-02T09:00:00Z",
        {"referral_code": "ANN10", "email": "bob@x.com"},
        userId="C2",
    ),
    _event(
        "m5",
        "Referral Accepted",
        "2024-05-02T09:01:00Z",
        {"referrer_customer_id": "C1", "referral_code": "ANN10"},
        userId="C2",
    ),
    _event(
        "m6",
        "Order Completed",
        "2024-05-03T12:00:00Z",
        {"order_id": "O7", "referral_code": "ANN10", "total": 30},
        userId="C2",
    ),
    _event("m7", "Order Completed", "2024-05-03T13:00:00Z", {"order_id": "O8"}, userId="C3"),
    _event(
        "m8", "Referral Sent", "2024-05-03T14:00:00Z", {"referred_email": "z@x.com"}, userId="C1"
    ),
]


def test_events_import_derives_reviews_and_referrals(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(EVENTS) + "\n")
    result = import_events(store, [path])
    assert result.stored == 8
    assert [n.split(" (import")[0] for n in result.notes] == [
        "From the events: 2 feedback row(s), 1 stored, 0 already present, 1 quarantined",
        "From the events: 1 referrals row(s), 1 stored, 0 already present, 0 quarantined",
    ]
    feedback = store.table("feedback").to_pyarrow().to_pylist()
    assert [
        (f["feedback_id"], f["customer_id"], f["kind"], f["score"], f["scale_max"], f["body"])
        for f in feedback
    ] == [("rv1", "C1", "review", 5.0, 5.0, "Lovely")]
    assert feedback[0]["source"] == "events"
    bad = store.table("quarantine").to_pyarrow().to_pylist()
    assert [(b["file"], b["column"], b["raw_value"], b["reason"]) for b in bad] == [
        ("events", "score", "7", "score outside the scale")
    ]
    referrals = store.table("referrals").to_pyarrow().to_pylist()
    assert [
        (
            r["referral_id"],
            r["referrer_customer_id"],
            r["referred_customer_id"],
            r["referred_email"],
            r["code"],
            r["order_id"],
            str(r["referred_at"]),
        )
        for r in referrals
    ] == [("events:C2", "C1", "C2", "bob@x.com", "ANN10", "O7", "2024-05-02 09:00:00")]
    # derived again from every event: nothing new, the referred person is not referred twice
    again = import_from_events(store)
    assert again["feedback"].already_present == 1 and "referrals" not in again
    assert store.table("referrals").count().execute() == 1

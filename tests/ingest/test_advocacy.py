"""Feedback and referrals as data (migration 11): imported with their checks, the presets of
the usual exports, referral cycles flagged, feedback without identifiers kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.ingest import import_feedback, import_file, import_referrals
from tenure.ingest.advocacy import cycle_referrals

FIXTURES = Path(__file__).parent / "fixtures"


def _quarantined(store: Store) -> list[tuple[Any, ...]]:
    rows = store.table("quarantine").order_by("line").to_pyarrow().to_pylist()
    return [
        (Path(r["file"]).name, r["line"], r["column"], r["raw_value"], r["reason"]) for r in rows
    ]


def test_feedback_scales_kinds_and_bad_rows(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "feedback.csv"
    path.write_text(
        "feedback_id,customer_id,email,kind,score,scale_min,scale_max,submitted_at\n"
        "F1,C1,,NPS,9,,,2024-03-01\n"  # NPS: 0-10 by default, kind in lower case
        "F2,,ann@x.com,review,4,,,2024-03-02\n"  # review: 1-5
        "F3,,bob@x.com,review,6,,,2024-03-02\n"  # line 4: outside 1-5
        "F4,,cat@x.com,poll,3,,,2024-03-02\n"  # line 5: unknown kind
        "F5,,dan@x.com,survey,7,1,7,2024-03-03\n"  # a survey on its own scale
        "F6,,eve@x.com,survey,8,1,7,2024-03-03\n"  # line 7: outside 1-7
        "F7,,fay@x.com,csat,5,,,03/04/2024 noon\n"  # line 8: unreadable date
        "F8,,,nps,0,,,2024-03-04\n"  # no identifier: kept, unlinked
    )
    result = import_feedback(store, [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (8, 4, 4)
    assert result.by_reason == {
        "score outside the scale": 2,
        "unknown kind": 1,
        "unreadable date": 1,
    }
    assert result.notes == (
        "1 feedback row carries no customer id, email nor anonymous id: stored, but no "
        "person is linked to it (unlinked).",
    )
    rows = store.table("feedback").order_by("feedback_id").to_pyarrow().to_pylist()
    got = [(r["feedback_id"], r["kind"], r["score"], r["scale_min"], r["scale_max"]) for r in rows]
    assert got == [
        ("F1", "nps", 9.0, 0.0, 10.0),
        ("F2", "review", 4.0, 1.0, 5.0),
        ("F5", "survey", 7.0, 1.0, 7.0),
        ("F8", "nps", 0.0, 0.0, 10.0),
    ]
    assert _quarantined(store) == [
        ("feedback.csv", 4, "score", "6", "score outside the scale"),
        ("feedback.csv", 5, "kind", "poll", "unknown kind"),
        ("feedback.csv", 7, "score", "8", "score outside the scale"),
        ("feedback.csv", 8, "submitted_at", "03/04/2024 noon", "unreadable date"),
    ]


def test_referrals_to_oneself_quarantined_and_cycles_flagged(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "referrals.csv"
    path.write_text(
        "referral_id,referrer_customer_id,referrer_email,referred_customer_id,referred_email,"
        "code,reward,currency,referred_at\n"
        "R1,C1,,C2,,ANN,5,EUR,2024-03-01\n"
        "R2,C2,,C1,,BOB,,,2024-03-02\n"  # closes the cycle C1 -> C2 -> C1: flagged
        "R3,C3,,C3,,CAT,,,2024-03-02\n"  # line 4: to oneself (customer id)
        "R4,,dan@x.com,,DAN@X.com,,,,2024-03-02\n"  # line 5: to oneself (email)
        "R5,C4,,,,,,,2024-03-02\n"  # line 6: nobody referred
        "R6,C4,,C5,,,5,,2024-03-02\n"  # line 7: a reward without a currency
    )
    result = import_referrals(store, [path], max_quarantine=1.0)
    assert (result.stored, result.quarantined, result.flagged) == (2, 4, 2)
    assert _quarantined(store) == [
        ("referrals.csv", 4, "referred_customer_id", "C3", "referral to oneself"),
        ("referrals.csv", 5, "referred_email", "DAN@X.com", "referral to oneself"),
        ("referrals.csv", 6, "referred_email", None, "missing value"),
        ("referrals.csv", 7, "currency", None, "unknown currency"),
    ]
    flags = store.table("flagged_values").order_by("record_key").to_pyarrow().to_pylist()
    assert [(json.loads(f["record_key"]), f["column"], f["reason"]) for f in flags] == [
        (
            {"referral_id": "R1"},
            "referral_id",
            "referral cycle: C2, referred by C1, also referred them (directly or through others)",
        ),
        (
            {"referral_id": "R2"},
            "referral_id",
            "referral cycle: C1, referred by C2, also referred them (directly or through others)",
        ),
    ]
    assert "2 referrals are on a referral cycle" in result.notes[0]
    # importing the file again flags nothing twice
    again = import_referrals(store, [path], max_quarantine=1.0)
    assert (again.stored, again.flagged) == (0, 0)
    assert store.table("flagged_values").count().execute() == 2


def test_review_export_preset(store: Store) -> None:
    result = import_file(
        store,
        "feedback",
        [FIXTURES / "judgeme_reviews.csv"],
        preset="judgeme_reviews",
        max_quarantine=1.0,
    )
    assert (result.stored, result.quarantined) == (3, 1)
    rows = store.table("feedback").order_by("feedback_id").to_pyarrow().to_pylist()
    assert [
        (r["feedback_id"], r["email"], r["kind"], r["score"], r["scale_max"], r["product_id"])
        for r in rows
    ] == [
        ("r-101", "ann@example.com", "review", 5.0, 5.0, "P1"),
        ("r-102", "Bob@Example.com", "review", 4.0, 5.0, "P2"),
        ("r-104", None, "review", 2.0, 5.0, "P3"),
    ]
    assert rows[0]["body"] == "Soft, warm, fits well"
    assert _quarantined(store) == [
        ("judgeme_reviews.csv", 4, "score", "6", "score outside the scale")
    ]
    assert len(result.notes) == 1 and "1 feedback row carries no" in result.notes[0]


def test_nps_survey_preset(store: Store) -> None:
    result = import_file(
        store,
        "feedback",
        [FIXTURES / "delighted_nps.csv"],
        preset="delighted_nps",
        max_quarantine=1.0,
    )
    assert (result.stored, result.quarantined) == (3, 2)
    rows = store.table("feedback").order_by("feedback_id").to_pyarrow().to_pylist()
    assert [(r["feedback_id"], r["kind"], r["score"], r["scale_min"], r["body"]) for r in rows] == [
        ("9001", "nps", 10.0, 0.0, "Great service"),
        ("9002", "nps", 7.0, 0.0, None),
        ("9003", "nps", 3.0, 0.0, "Late delivery"),
    ]
    assert [(q[1], q[2], q[4]) for q in _quarantined(store)] == [
        (5, "score", "score outside the scale"),
        (6, "submitted_at", "unreadable date"),
    ]


def test_referral_export_preset(store: Store) -> None:
    result = import_file(
        store,
        "referrals",
        [FIXTURES / "referralcandy.csv"],
        preset="referralcandy",
        max_quarantine=1.0,
    )
    assert (result.stored, result.quarantined, result.flagged) == (3, 1, 2)
    rows = store.table("referrals").order_by("referral_id").to_pyarrow().to_pylist()
    assert [
        (r["referral_id"], r["order_id"], r["code"], r["reward"], r["currency"]) for r in rows
    ] == [
        ("ann@example.com>bob@example.com", "O-2001", "ANN10", 10, "USD"),
        ("ann@example.com>cat@example.com", None, "ANN10", None, "USD"),
        ("bob@example.com>ann@example.com", "O-2002", "BOB10", 10, "USD"),
    ]
    assert [(q[1], q[4]) for q in _quarantined(store)] == [(5, "referral to oneself")]
    flagged = store.table("flagged_values").value.to_pyarrow().to_pylist()
    assert sorted(flagged) == [
        "ann@example.com>bob@example.com",
        "bob@example.com>ann@example.com",
    ]


def _edges(pairs: list[tuple[int, int]]) -> list[dict[str, str | None]]:
    return [
        {
            "referral_id": f"R{i}",
            "referrer_email": f"p{a}@x.com",
            "referrer_customer_id": None,
            "referred_email": f"p{b}@x.com",
            "referred_customer_id": None,
        }
        for i, (a, b) in enumerate(pairs)
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=15))
def test_a_referral_is_flagged_exactly_when_it_lies_on_a_cycle(
    pairs: list[tuple[int, int]],
) -> None:
    """Forward-only referrals (a lower number refers a higher) never cycle; a referral is
    flagged exactly when its referred person reaches its referrer again."""
    flagged = cycle_referrals(_edges(pairs))
    reach: dict[int, set[int]] = {n: {n} for n in range(7)}
    for _ in range(7):
        for a, b in pairs:
            if a != b:
                reach[a] |= reach[b]
    expected = {f"R{i}" for i, (a, b) in enumerate(pairs) if a != b and a in reach[b]}
    assert set(flagged) == expected
    forward = [(min(a, b), max(a, b)) for a, b in pairs if a != b]
    assert cycle_referrals(_edges(forward)) == {}


def test_referred_by_and_referral_code_are_imported(store: Store, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,email,referred_by\nC1,a@x.com,\nC2,b@x.com,ANN10\n")
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,ordered_at,currency,total,referral_code\n"
        "O1,C2,2024-03-01,EUR,20,ANN10\nO2,C1,2024-03-02,EUR,15,\n"
    )
    assert import_file(store, "customers", [customers]).stored == 2
    assert import_file(store, "orders", [orders]).stored == 2
    c = store.table("customers").order_by("customer_id").to_pyarrow().to_pylist()
    assert [(r["customer_id"], r["referred_by"]) for r in c] == [("C1", None), ("C2", "ANN10")]
    o = store.table("orders").order_by("order_id").to_pyarrow().to_pylist()
    assert [(r["order_id"], r["referral_code"]) for r in o] == [("O1", "ANN10"), ("O2", None)]


def test_feedback_from_parquet_and_json_lines(store: Store, tmp_path: Path) -> None:
    """Typed Parquet columns (a float score, a survey's own scale) and JSON Lines with a
    mapping go through the same checks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "feedback.parquet"
    table = {
        "feedback_id": [1, 2],
        "kind": ["survey", "csat"],
        "score": [4.5, 2.0],
        "scale_min": [1.0, None],
        "scale_max": [4.0, None],
    }
    pq.write_table(pa.table(table), parquet)
    result = import_feedback(store, [parquet], max_quarantine=1.0)
    assert (result.stored, result.by_reason) == (1, {"score outside the scale": 1})
    jsonl = tmp_path / "feedback.jsonl"
    jsonl.write_text(
        '{"id": "J1", "who": "a@x.com", "nps": 9, "at": "2024-01-01T00:00:00Z"}\n'
        '{"id": "J2", "who": "b@x.com", "nps": 12, "at": "2024-01-01T00:00:00Z"}\n'
    )
    mapping = {
        "columns": {"id": "feedback_id", "who": "email", "nps": "score", "at": "submitted_at"},
        "defaults": {"kind": "nps"},
    }
    result = import_feedback(store, [jsonl], mapping=mapping, max_quarantine=1.0)
    assert (result.stored, result.by_reason) == (1, {"score outside the scale": 1})
    rows = store.table("feedback").order_by("feedback_id").to_pyarrow().to_pylist()
    assert [
        (r["feedback_id"], r["kind"], r["score"], r["scale_min"], r["scale_max"]) for r in rows
    ] == [
        ("2", "csat", 2.0, 1.0, 5.0),
        ("J1", "nps", 9.0, 0.0, 10.0),
    ]


def test_an_edited_review_updates_the_stored_one(store: Store, tmp_path: Path) -> None:
    """A re-export with an edited rating: with --update it replaces the stored review, whose
    previous version goes to row_history; without, it is a conflict."""
    fixture = FIXTURES / "judgeme_reviews.csv"
    edited = tmp_path / "reviews.csv"
    edited.write_text(fixture.read_text().replace("r-102,P2,4,", "r-102,P2,3,"))
    kw: dict[str, Any] = {"preset": "judgeme_reviews", "max_quarantine": 1.0}
    import_file(store, "feedback", [fixture], **kw)
    plain = import_file(store, "feedback", [edited], **kw)
    assert plain.by_reason == {"score outside the scale": 1, "same key with different content": 1}
    result = import_file(store, "feedback", [edited], update=True, **kw)
    assert (result.updated, result.already_present) == (1, 2)
    f = store.table("feedback")
    assert f.filter(f.feedback_id == "r-102").score.execute().tolist() == [3.0]
    history = store.table("row_history").to_pyarrow().to_pylist()
    assert [(h["entity"], json.loads(h["record_key"])) for h in history] == [
        ("feedback", {"feedback_id": "r-102"})
    ]

"""Advocacy indicators and the ranked advocates (docs/metrics.md, "Advocacy indicators"),
counted by hand on a tiny store: a flagged cycle referral and a self-referral never count."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from tenure import Store
from tenure.analytics import advocacy
from tenure.analytics.advocacy import COLUMNS, advocacy_kpis, advocates, frames_once
from tenure.identity import person_of, resolve_identities
from tenure.ingest import import_customers, import_feedback, import_orders, import_referrals

END = date(2024, 6, 30)
ORDERS = (
    "order_id,customer_id,ordered_at,currency,total\n"
    "a1,c-a,2024-03-01T12:00:00,USD,60.00\n"
    "a2,c-a,2024-05-01T12:00:00,USD,40.00\n"
    "b1,c-b,2024-06-01T12:00:00,USD,80.00\n"
    "d1,c-d,2024-04-01T12:00:00,USD,50.00\n"
    "e1,c-e,2024-04-05T12:00:00,USD,50.00\n"
    "f1,c-f,2024-02-01T12:00:00,USD,50.00\n"
    "z1,c-b,2024-07-05T12:00:00,USD,999.00\n"  # after the day: not counted
)
CUSTOMERS = (
    "customer_id,email,created_at\n"
    "c-c,c@example.com,2024-03-01T09:00:00\n"
    "c-f,f@example.com,2024-01-01T09:00:00\n"
)
FEEDBACK = (
    "feedback_id,customer_id,kind,score,submitted_at\n"
    "F1,c-a,nps,10,2024-06-01\n"
    "F2,c-a,nps,3,2024-05-01\n"  # older: c-a's latest is 10
    "F3,c-b,nps,8,2024-06-10\n"
    "F4,c-d,nps,4,2024-06-10\n"
    "F5,c-e,nps,9,2024-06-10\n"
    "F6,c-e,nps,2,2024-07-02\n"  # after the day: not counted
    "F7,c-a,review,5,2024-06-02\n"
    "F8,c-b,review,3,2024-06-11\n"
)
REFERRALS = (
    "referral_id,referrer_customer_id,referred_customer_id,referred_email,referred_at,reward,currency\n"
    "R1,c-a,c-b,,2024-05-20,10,USD\n"  # a buyer referred
    "R2,c-a,c-c,,2024-05-21,5,USD\n"  # referred, did not buy
    "R3,c-d,c-e,,2024-03-01,100,USD\n"  # a cycle: flagged
    "R4,c-e,c-d,,2024-03-02,100,USD\n"
    "R5,c-f,,f@example.com,2024-03-02,7,USD\n"  # c-f referring c-f's own e-mail
)


def tiny(store: Store, tmp_path: Path) -> None:
    """The store the tests count by hand (also used by tests/cli/test_cli_advocacy.py)."""
    for name, text in (
        ("orders", ORDERS),
        ("customers", CUSTOMERS),
        ("feedback", FEEDBACK),
        ("referrals", REFERRALS),
    ):
        (tmp_path / f"{name}.csv").write_text(text)
    import_orders(store, [tmp_path / "orders.csv"])
    import_customers(store, [tmp_path / "customers.csv"])
    import_feedback(store, [tmp_path / "feedback.csv"])
    assert import_referrals(store, [tmp_path / "referrals.csv"]).flagged == 2
    resolve_identities(store)


def _independent_nps() -> float:
    """NPS from the raw answers: each customer's latest answer up to the day."""
    latest: dict[str, tuple[str, float]] = {}
    for row in csv.DictReader(io.StringIO(FEEDBACK)):
        if row["kind"] != "nps" or row["submitted_at"] > END.isoformat():
            continue
        held = latest.get(row["customer_id"])
        if held is None or row["submitted_at"] > held[0]:
            latest[row["customer_id"]] = (row["submitted_at"], float(row["score"]))
    scores = [s for _, s in latest.values()]
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def test_kpis_counted_by_hand(store: Store, tmp_path: Path) -> None:
    tiny(store, tmp_path)
    k = advocacy_kpis(store, END)
    assert k["nps"] == pytest.approx(_independent_nps()) == pytest.approx(25.0)
    assert (k["nps_respondents"], k["promoters"], k["detractors"]) == (4, 2, 1)
    assert (k["reviews"], k["average_rating"], k["share_4_plus"]) == (2, 4.0, 0.5)
    assert (k["buyers"], k["referrers"], k["referral_rate"]) == (5, 1, 0.2)
    assert (k["referred_persons"], k["referred_buyers"]) == (2, 1)
    assert k["referred_conversion"] == 0.5
    assert k["programme_cac"] == 15.0  # 10 + 5; the cycle's and the self-referral's rewards not
    assert k["revenue_referred"] == 80.0
    assert k["revenue_not_referred"] == 62.5  # (100 + 50 + 50 + 50) / 4: c-e's cycle not
    assert k["currency"] == "USD"


def test_advocates_ranked_with_reasons(store: Store, tmp_path: Path) -> None:
    tiny(store, tmp_path)
    got = advocates(store, END)
    assert tuple(got.columns) == COLUMNS
    order = [person_of(store, f"customer_id:{c}") for c in ("c-a", "c-b", "c-e", "c-d")]
    assert list(got.person_id) == order  # c-f's self-referral makes no advocate
    assert list(got.score) == [1, 2, 3, 4]
    first = got.iloc[0]
    assert (first.referred_buyers, first.referred_revenue, first.reviews) == (1, 80.0, 1)
    assert first.reason == "referred 1 buyer (80.00 USD), 1 review averaging 5.0, NPS 10"
    assert got.iloc[1].reason == "1 review averaging 3.0, NPS 8"
    assert got.iloc[3].referred_buyers == 0  # c-d's cycle referral of buyer c-e does not count
    assert got.average_rating.isna().tolist() == [False, False, True, True]
    assert len(advocates(store, END, top=2)) == 2


def test_empty_store_is_null_not_zero(store: Store) -> None:
    k = advocacy_kpis(store, END)
    assert k["nps"] is None and k["average_rating"] is None and k["programme_cac"] is None
    assert k["referral_rate"] is None and k["revenue_referred"] is None
    assert advocates(store, END).empty


def test_referral_rate_is_null_without_referral_data(store: Store, tmp_path: Path) -> None:
    """Orders but no referral recorded: the rate is unknown, not 0."""
    (tmp_path / "orders.csv").write_text(ORDERS)
    import_orders(store, [tmp_path / "orders.csv"])
    resolve_identities(store)
    k = advocacy_kpis(store, END)
    assert k["buyers"] == 5 and k["referral_rate"] is None


def test_demo_store_before_identity_resolution(demo_url: str) -> None:
    """The demo holds feedback and referrals, but before identity resolution no row is
    linked to a person: none counts, and the figures are unknown, not 0 (the resolved demo
    is checked against its truth in tests/demo/test_feedback.py)."""
    with Store(demo_url) as store:
        assert store.count("feedback") > 0 and store.count("referrals") > 0
        k = advocacy_kpis(store)
        frame = advocates(store)
    assert k["nps_respondents"] == 0 and k["nps"] is None and k["average_rating"] is None
    assert k["referred_persons"] == 0 and k["referred_conversion"] is None
    assert k["buyers"] > 0
    assert tuple(frame.columns) == COLUMNS and frame.empty


def test_inside_frames_once_the_frames_are_read_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny(store, tmp_path)
    alone = (advocacy_kpis(store, END), advocates(store, END))
    reads: list[date] = []
    real = advocacy._buyers

    def counted(st: Store, end: date) -> object:
        reads.append(end)
        return real(st, end)

    monkeypatch.setattr(advocacy, "_buyers", counted)
    with frames_once():
        shared = (advocacy_kpis(store, END), advocates(store, END))
    assert reads == [END]
    assert shared[0] == alone[0]
    assert shared[1].equals(alone[1])

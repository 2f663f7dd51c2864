"""Indicators per stage (docs/metrics.md, "Indicators per stage"): every indicator of a
hand-made store equals its hand computation; on the demo store they are finite and in range;
an empty store gives nulls, not zeros; ``kpis(by="stage")`` adds up to the overall rows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.base import orders_base
from tenure.analytics.channels import channels, historic_clv
from tenure.analytics.journey import JourneyRules, journey_counts
from tenure.analytics.periods import kpis
from tenure.analytics.stage_kpis import COLUMNS, UNITS, stage_indicators
from tenure.identity import resolve_identities
from tenure.ingest import (
    import_customers,
    import_events,
    import_feedback,
    import_file,
    import_orders,
    import_referrals,
    import_spend,
)
from tests.analytics.test_periods import ADDITIVE

END = date(2024, 12, 31)
#: customer -> (day, total): b1 repeats within 40 days and again; b2 and b5 buy once in
#: 2023 (lapsed), b3 twice 182 days apart; b4 twice in November 2024, a customer record since
#: October (a prospect who converted); b5 was referred by b1.
ORDERS = {
    "b1": (("2023-03-01", 100), ("2023-04-10", 50), ("2024-03-01", 30)),
    "b2": (("2023-06-01", 80),),
    "b3": (("2024-02-01", 60), ("2024-08-01", 40)),
    "b4": (("2024-11-15", 70), ("2024-11-20", 20)),
    "b5": (("2023-09-01", 200),),
}
CUSTOMERS = (
    "customer_id,email,created_at\n"
    "b4,b4@example.com,2024-10-01T09:00:00\n"
    "p1,p1@example.com,2024-05-01T09:00:00\n"  # a prospect who never bought
)
EVENTS = (
    # an anonymous visitor (reach, direct) and b3's first visit from a paid search ad
    {"messageId": "e1", "type": "page", "anonymousId": "v1", "timestamp": "2024-06-10T08:00:00Z"},
    {
        "messageId": "e2",
        "type": "page",
        "userId": "b3",
        "timestamp": "2024-01-20T08:00:00Z",
        "context": {"campaign": {"source": "google", "medium": "cpc"}},
    },
)
SPEND = (
    "date,channel,campaign,cost,currency\n"
    "2023-12-15,paid_search,brand,500,USD\n"  # before the 365-day window
    "2024-03-01,paid_search,brand,300,USD\n"
    "2024-06-01,paid_social,launch,100,EUR\n"  # 110 USD at 1.1
)
FX = "date,currency,rate\n2024-01-01,EUR,1.1\n"
FEEDBACK = (
    "feedback_id,customer_id,kind,score,submitted_at\n"
    "F1,b1,nps,10,2024-06-01\n"
    "F2,b2,nps,5,2024-06-01\n"
    "F3,b3,review,5,2024-09-01\n"
    "F4,b1,review,4,2024-09-01\n"
)
REFERRALS = (
    "referral_id,referrer_customer_id,referred_customer_id,referred_at,reward,currency\n"
    "R1,b1,b5,2023-08-20,10,USD\n"
    "R2,b2,p1,2024-04-01,,\n"
)
MARGIN = 0.30  # the default margin: no product costs


def hand(store: Store, tmp_path: Path) -> None:
    """The store counted by hand below (also the Spark parity and CLI tests' store)."""
    rows = [
        f"{cid}-{i},{cid},{day}T12:00:00,USD,{total}.00"
        for cid, orders in ORDERS.items()
        for i, (day, total) in enumerate(orders)
    ]
    files = {
        "orders.csv": "order_id,customer_id,ordered_at,currency,total\n" + "\n".join(rows) + "\n",
        "customers.csv": CUSTOMERS,
        "events.jsonl": "".join(json.dumps(e) + "\n" for e in EVENTS),
        "spend.csv": SPEND,
        "fx.csv": FX,
        "feedback.csv": FEEDBACK,
        "referrals.csv": REFERRALS,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    import_orders(store, [tmp_path / "orders.csv"])
    import_customers(store, [tmp_path / "customers.csv"])
    import_events(store, [tmp_path / "events.jsonl"])
    import_spend(store, [tmp_path / "spend.csv"])
    import_file(store, "fx_rates", [tmp_path / "fx.csv"])
    assert import_feedback(store, [tmp_path / "feedback.csv"]).stored == 4
    assert import_referrals(store, [tmp_path / "referrals.csv"]).stored == 2
    resolve_identities(store)


#: (stage, indicator) -> the hand computation.
EXPECTED = {
    # 7 persons: 5 buyers, the prospect p1, the anonymous visitor v1
    ("reach", "visitors"): 7,
    ("reach", "visitors_from_without_events"): 5,
    ("reach", "visitors_from_direct"): 1,
    ("reach", "visitors_from_paid_search"): 1,
    ("reach", "identified_share"): 6 / 7,
    ("acquire", "visitor_conversion"): 5 / 7,
    # known before the first purchase day: b4 (record 2024-10-01) and p1 (never bought)
    ("acquire", "prospect_conversion"): 1 / 2,
    # spend of 2024-01-02..2024-12-31: 300 + 100 EUR x 1.1; new buyers then: b3, b4
    ("acquire", "cac"): (300 + 110) / 2,
    # first purchase 90+ days old: b1, b2, b3, b5; a second within 90 days: b1 (40 days)
    ("develop", "second_order_rate"): 1 / 4,
    ("develop", "second_order_rate_ever"): 2 / 4,  # b1, b3
    ("develop", "median_days_to_second_order"): 40,  # of 40 (b1), 182 (b3), 5 (b4)
    # revenue within 90 days of the first: b1 150, b2 80, b3 60, b5 200
    ("develop", "first_90_day_value"): (150 + 80 + 60 + 200) / 4,
    # buyers of 2023-01-02..2024-01-01: b1, b2, b5; again in the last 365 days: b1
    ("retain", "retention"): 1 / 3,
    ("retain", "churn"): 2 / 3,
    ("retain", "repeat_rate"): 3 / 5,  # b1, b3, b4
    # b1 at risk (305 days since, twice the store's median gap 111); of b1, b3, b4 not lapsed
    ("retain", "at_risk_share"): 1 / 3,
    ("advocate", "nps"): 0.0,  # one promoter (b1), one detractor (b2)
    ("advocate", "nps_respondents"): 2,
    ("advocate", "reviews"): 2,
    ("advocate", "average_rating"): 4.5,
    ("advocate", "referral_rate"): 1 / 5,  # b1 referred b5, who bought
    ("advocate", "referred_conversion"): 1 / 2,  # b5 bought, p1 did not
    ("advocate", "programme_cac"): 10.0,
    # first purchase on or before 2024-01-01, margin within 365 days: b5 200; b1 150, b2 80
    ("advocate", "clv_referred"): 200 * MARGIN,
    ("advocate", "clv_not_referred"): (150 + 80) / 2 * MARGIN,
}


@pytest.fixture
def handmade(store: Store, tmp_path: Path) -> Store:
    hand(store, tmp_path)
    return store


def _values(frame: pd.DataFrame) -> dict[tuple[str, str], float | None]:
    return {
        (r.stage, r.indicator): None if pd.isna(r.value) else r.value for r in frame.itertuples()
    }


def test_every_indicator_equals_the_hand_computation(handmade: Store) -> None:
    frame = stage_indicators(handmade, END)
    assert list(frame.columns) == list(COLUMNS)
    got = _values(frame)
    assert set(got) == set(EXPECTED)
    for key, value in EXPECTED.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    assert list(frame["stage"].unique()) == ["reach", "acquire", "develop", "retain", "advocate"]
    assert set(frame["unit"]) <= set(UNITS)
    units = dict(zip(frame["indicator"], frame["unit"], strict=True))
    assert (units["cac"], units["median_days_to_second_order"], units["nps"]) == (
        "money",
        "days",
        "score",
    )
    basis = dict(zip(frame["indicator"], frame["basis"], strict=True))
    assert basis["second_order_rate"] == (
        "a second purchase day within 90 days, of 4 buyers whose first purchase is 90+ days old"
    )
    assert basis["retention"] == "1 bought again, of 3 buyers of the 365 days before the last 365"
    assert frame.attrs["currency"] == "USD" and frame.attrs["as_of"] == END


def test_indicators_agree_with_the_stages_and_the_yearly_churn(handmade: Store) -> None:
    got = _values(stage_indicators(handmade, END))
    counts = journey_counts(handmade, END).set_index("stage")["persons"]
    assert got["reach", "visitors"] == counts.sum()
    assert got["retain", "at_risk_share"] == counts["at_risk"] / (
        counts[["develop", "retain", "advocate", "at_risk"]].sum()
    )
    year = kpis(handmade, grain="month", as_of=END)
    assert 1.0 - got["retain", "retention"] == pytest.approx(year["yearly_churn"].iloc[-1])


def test_rules_and_horizon_move_the_indicators(handmade: Store) -> None:
    got = _values(stage_indicators(handmade, END, rules=JourneyRules(onboarding_days=200)))
    # first purchase 200+ days old: b1, b2, b3 (335 days), b5; b1 (40) and b3 (182) within
    assert got["develop", "second_order_rate"] == pytest.approx(2 / 4)
    short = _values(stage_indicators(handmade, END, horizon_days=30))
    assert short["acquire", "cac"] is None  # no spend in December 2024: unknown, not 0
    # first purchase 30+ days old: everyone; within 30 days: b1 100, b2 80, b3 60, b4 90
    assert short["advocate", "clv_not_referred"] == pytest.approx((100 + 80 + 60 + 90) / 4 * MARGIN)


def test_an_empty_store_gives_nulls_not_zeros(store: Store) -> None:
    frame = stage_indicators(store, END)
    got = _values(frame)
    counts = {"visitors", "visitors_from_without_events", "nps_respondents", "reviews"}
    for (_, indicator), value in got.items():
        if indicator in counts:
            assert value == 0, indicator
        else:
            assert value is None, indicator
    assert frame.loc[frame.indicator == "cac", "basis"].iloc[0] == (
        "spend of the 365 days to the day (0 rows) / 0 new buyers"
    )


def test_historic_clv_is_channels_clv(handmade: Store) -> None:
    """channels' CLV column is historic_clv per acquisition channel (one definition)."""
    table = channels(handmade, as_of=END).set_index("channel")
    buyers = orders_base(handmade, as_of=END).select("person_id").distinct()
    groups = buyers.mutate(group=buyers.person_id)
    per = historic_clv(handmade, groups, END, 365).to_pandas().set_index("group")
    # b1, b2, b5 are mature (each alone in its group); every one is a direct buyer
    assert sorted(per["clv"] / MARGIN) == pytest.approx([80, 150, 200])
    assert per["clv"].mean() == pytest.approx(table.loc["direct", "clv"])


def test_kpis_by_stage_add_up_to_the_overall_rows(handmade: Store) -> None:
    overall = kpis(handmade, grain="quarter", as_of=END)
    split = kpis(handmade, grain="quarter", by="stage", as_of=END)
    assert list(split.columns[:5]) == ["period", "period_start", "period_end", "partial", "stage"]
    assert set(split["stage"]) == {"retain", "advocate", "at_risk", "lapsed"}
    sums = split.groupby("period", sort=True)[ADDITIVE].sum()
    pd.testing.assert_frame_equal(
        sums, overall.set_index("period")[ADDITIVE], check_dtype=False, check_names=False
    )
    lapsed = split[split.stage == "lapsed"].set_index("period")
    assert lapsed.loc["2023-Q2", "revenue"] == 80.0 and lapsed["revenue"].sum() == 280.0
    assert split["prospects"].isna().all() and split["spend"].isna().all()


def test_demo_indicators_are_finite_and_in_range(demo: Store) -> None:
    frame = stage_indicators(demo)
    assert not frame.empty
    for r in frame.itertuples():
        if r.stage == "advocate" and r.indicator != "clv_not_referred":
            continue  # the demo has no feedback or referrals (yet): nulls or zeros
        assert r.value is not None and np.isfinite(r.value), r.indicator
        if r.unit == "share":
            assert 0.0 <= r.value <= 1.0, r.indicator
        else:
            assert r.value >= 0.0, r.indicator
    got = _values(frame)
    sources = sum(v for (_, i), v in got.items() if i.startswith("visitors_from_") and v)
    assert sources == got["reach", "visitors"]
    assert got["retain", "churn"] == pytest.approx(1.0 - got["retain", "retention"])

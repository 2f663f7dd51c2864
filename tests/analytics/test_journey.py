"""Journey stages (docs/metrics.md, "Journey stages"): each rule on a hand-made store, every
person of the demo store in exactly one stage, the history and its transitions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import ibis.expr.types as ir
import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.journey import (
    STAGES,
    JourneyRules,
    journey_counts,
    journey_stages,
    journey_transitions,
    record_journey,
)
from tenure.analytics.status import customer_status
from tenure.errors import ConfigError
from tenure.identity import person_of, resolve_identities
from tenure.ingest import (
    import_customers,
    import_events,
    import_feedback,
    import_orders,
    import_referrals,
)
from tenure.pipeline import run, why_stale

END = date(2024, 6, 30)
TWICE = ("2024-05-01", "2024-06-20")
ORDERS = {
    "c-d": ("2024-06-01",),  # develop: one order, 29 days ago
    "c-r": TWICE,  # retain: a repeat buyer, no promoter evidence
    "c-n": TWICE,  # advocate: NPS 10
    "c-m": TWICE,  # retain: NPS 10, then 5 (the latest counts)
    "c-v": TWICE,  # advocate: a review of 4 of 5 stars
    "c-w": TWICE,  # retain: a review of 3 of 5 stars
    "c-f": TWICE,  # advocate: referred c-d, who bought
    "c-g": TWICE,  # retain: referred c-a, who did not buy
    "c-c": TWICE,  # retain: referred c-e, but on a cycle (flagged)
    "c-e": TWICE,  # retain: referred c-c, on the same cycle
    "c-k": ("2024-01-01", "2024-01-10"),  # at risk: 172 days since, expected gap 50
    "c-l": ("2022-01-01",),  # lapsed
}
FEEDBACK = (
    "feedback_id,customer_id,kind,score,submitted_at\n"
    "F1,c-n,nps,10,2024-06-25\n"
    "F2,c-m,nps,10,2024-06-01\n"
    "F3,c-m,nps,5,2024-06-25\n"
    "F4,c-v,review,4,2024-06-22\n"
    "F5,c-w,review,3,2024-06-22\n"
    "F6,c-n,nps,10,2024-07-05\n"  # after the day: not counted
)
REFERRALS = (
    "referral_id,referrer_customer_id,referred_customer_id,referred_at\n"
    "R1,c-f,c-d,2024-05-30\n"
    "R2,c-g,c-a,2024-05-30\n"
    "R3,c-c,c-e,2024-04-01\n"
    "R4,c-e,c-c,2024-04-02\n"
)
EXPECTED = {
    "c-a": ("acquire", date(2024, 3, 1)),
    "c-d": ("develop", date(2024, 6, 1)),
    "c-r": ("retain", date(2024, 6, 20)),
    "c-n": ("advocate", date(2024, 6, 25)),
    "c-m": ("retain", date(2024, 6, 20)),
    "c-v": ("advocate", date(2024, 6, 22)),
    "c-w": ("retain", date(2024, 6, 20)),
    "c-f": ("advocate", date(2024, 6, 20)),
    "c-g": ("retain", date(2024, 6, 20)),
    "c-c": ("retain", date(2024, 6, 20)),
    "c-e": ("retain", date(2024, 6, 20)),
    "c-k": ("at_risk", None),
    "c-l": ("lapsed", date(2023, 1, 1)),
}


def _tiny(store: Store, tmp_path: Path) -> None:
    rows = [
        f"{cid}-{i},{cid},{day}T12:00:00,USD,50.00"
        for cid, days in ORDERS.items()
        for i, day in enumerate(days)
    ]
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,currency,total\n" + "\n".join(rows) + "\n"
    )
    (tmp_path / "customers.csv").write_text(
        "customer_id,email,created_at\nc-a,a@example.com,2024-03-01T09:00:00\n"
    )
    visit = {
        "messageId": "v1",
        "type": "page",
        "name": "Home",
        "anonymousId": "visitor-1",
        "timestamp": "2024-06-10T08:00:00Z",
    }
    (tmp_path / "events.jsonl").write_text(json.dumps(visit) + "\n")
    (tmp_path / "feedback.csv").write_text(FEEDBACK)
    (tmp_path / "referrals.csv").write_text(REFERRALS)
    import_orders(store, [tmp_path / "orders.csv"])
    import_customers(store, [tmp_path / "customers.csv"])
    import_events(store, [tmp_path / "events.jsonl"])
    assert import_feedback(store, [tmp_path / "feedback.csv"]).stored == 6
    assert import_referrals(store, [tmp_path / "referrals.csv"]).flagged == 2
    resolve_identities(store)


def _frame(expr: ir.Table) -> pd.DataFrame:
    """The rows with their days as dates, by person."""
    return pd.DataFrame(expr.to_pyarrow().to_pylist()).set_index("person_id")


def test_each_rule_on_a_tiny_store(store: Store, tmp_path: Path) -> None:
    _tiny(store, tmp_path)
    got = _frame(journey_stages(store, END))
    assert len(got) == len(EXPECTED) + 1 and got.index.is_unique
    for cid, (stage, since) in EXPECTED.items():
        row = got.loc[person_of(store, f"customer_id:{cid}")]
        assert (row["stage"], row["since"] if since else None) == (stage, since), cid
    visitor = got.loc[person_of(store, "anonymous_id:visitor-1")]
    assert (visitor["stage"], visitor["since"]) == ("reach", date(2024, 6, 10))
    reasons = dict(zip(got["stage"], got["reason"], strict=False))
    assert reasons["reach"] == "seen, not identified"
    n = got.loc[person_of(store, "customer_id:c-n")]
    assert n["reason"] == "repeat buyer, promoter: NPS 10"
    f = got.loc[person_of(store, "customer_id:c-f")]
    assert f["reason"] == "repeat buyer, promoter: a referral who bought"


def test_rules_change_the_stages(store: Store, tmp_path: Path) -> None:
    _tiny(store, tmp_path)
    strict = JourneyRules(review_share=0.9, referrals_count=False, onboarding_days=10)
    got = _frame(journey_stages(store, END, rules=strict))
    for cid in ("c-v", "c-f"):
        assert got.loc[person_of(store, f"customer_id:{cid}"), "stage"] == "retain"
    # past a 10-day window, the one-order buyer stays in develop until at risk
    d = got.loc[person_of(store, "customer_id:c-d")]
    assert d["stage"] == "develop" and "past the 10-day" in d["reason"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("onboarding_days", 0), ("onboarding_days", 1.5), ("nps_promoter", 11), ("review_share", 0)],
)
def test_rules_are_validated(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"The '{field}' parameter must be"):
        JourneyRules(**{field: value})  # type: ignore[arg-type]


def test_history_and_transitions(store: Store, tmp_path: Path) -> None:
    _tiny(store, tmp_path)
    assert record_journey(store, date(2024, 5, 15)) == 12  # no visitor yet, c-d unknown
    rows = record_journey(store, END)
    history = store.read("journey_history").to_pandas()
    assert rows == len(history)
    c_d = history[history["person_id"] == person_of(store, "customer_id:c-d")]
    assert list(c_d["stage"]) == ["develop"]
    moves = journey_transitions(store, period="month").set_index(["period", "stage"])
    june = moves.loc[date(2024, 6, 1)]
    # in June: c-n, c-v, c-f became advocates (from develop... retain), c-d and the visitor
    # arrived
    assert june.loc["advocate", "entries"] == 3
    assert june.loc["reach", "entries"] == 1
    assert moves["entries"].sum() - moves["exits"].sum() == 14
    # recording the same day twice changes nothing
    assert record_journey(store, END) == rows


def test_demo_store_every_person_once(demo: Store) -> None:
    stages = journey_stages(demo).to_pandas()
    assert stages["person_id"].is_unique
    assert set(stages["stage"]) <= set(STAGES)
    # everyone: the persons of the identities and the known persons of the statuses
    ids = demo.table("identities")
    seen = set(ids.filter(ids.person_id.notnull()).person_id.to_pyarrow().to_pylist())
    known = set(customer_status(demo).person_id.to_pyarrow().to_pylist())
    assert set(stages["person_id"]) == seen | known
    counts = journey_counts(demo)
    assert counts["persons"].sum() == len(stages) == len(seen | known)
    assert list(counts["stage"]) == list(STAGES)
    by = counts.set_index("stage")["persons"]
    # the statuses' persons: prospects acquire, the exits as the statuses minus the
    # one-time buyers still in their onboarding window
    status = customer_status(demo).to_pandas()["status"].value_counts()
    assert by["acquire"] == status["prospect"]
    assert by["lapsed"] <= status["lapsed"] and by["at_risk"] <= status["at_risk"]
    assert by["reach"] == len(seen - known)


def test_the_journey_step_records_the_day_and_new_feedback_makes_it_stale(
    store: Store, tmp_path: Path
) -> None:
    _tiny(store, tmp_path)
    result = run(store, steps=["journey"], as_of=END)
    assert result.ok and result.get("journey").rows == {"journey_history": 14}  # type: ignore[union-attr]
    stays = store.read("journey_history").to_pandas()
    assert dict(stays["stage"].value_counts()) == {
        "retain": 6,
        "advocate": 3,
        "reach": 1,
        "acquire": 1,
        "develop": 1,
        "at_risk": 1,
        "lapsed": 1,
    }
    assert why_stale(store, "journey_history", as_of=END) is None
    (tmp_path / "more.csv").write_text(
        "feedback_id,customer_id,kind,score,submitted_at\nF9,c-r,nps,9,2024-06-28\n"
    )
    import_feedback(store, [tmp_path / "more.csv"])
    assert why_stale(store, "journey_history", as_of=END) is not None
    again = run(store, steps=["journey"], as_of=END)
    assert again.ok
    stays = store.read("journey_history").to_pandas()
    assert dict(stays["stage"].value_counts())["advocate"] == 4


def test_demo_history_has_every_person_in_one_stage_at_any_time(
    ran_demo_url: str, tmp_path: Path
) -> None:
    """Must show: the journey recorded quarter by quarter over the run demo's year (with its
    reviews, NPS answers and referrals) has, on every recorded day, each person in exactly
    one stay, and the stays open on that day count what journey_counts gives for it."""
    import shutil

    path = tmp_path / "demo.duckdb"
    shutil.copy(ran_demo_url.removeprefix("duckdb://"), path)
    with Store(f"duckdb://{path}") as store:
        days = [date(2024, m, 28) for m in (3, 6, 9, 12)]
        counts = {}
        for day in days:
            record_journey(store, day)
            counts[day] = journey_counts(store, day).set_index("stage")["persons"]
        h = store.read("journey_history").to_pandas()
    for column in ("entered_at", "left_at"):
        h[column] = pd.to_datetime(h[column]).dt.date
    assert counts[days[-1]]["advocate"] > 0  # the demo's feedback makes advocates
    for day in days:
        left = h.left_at.isnull() | (h.left_at > day)  # null: still open
        on = h[(h.entered_at <= day) & left]
        assert on.person_id.is_unique, day
        got = on.stage.value_counts().reindex(list(STAGES), fill_value=0)
        assert got.tolist() == counts[day].tolist(), day
    # stays of one person never overlap
    h = h.sort_values(["person_id", "entered_at"])
    nxt = h.groupby("person_id").entered_at.shift(-1)
    closed = nxt.notna()
    assert (h.left_at[closed] <= nxt[closed]).all()

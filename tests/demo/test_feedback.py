"""The demo's feedback and referrals (docs/demo.md, "Feedback and referrals"): drawn apart,
so the other tables keep their rows, and what Tenure measures on them is the generator's
truth: the referral graph, NPS, the referred buyers and their revenue, the journey stages.

All on the tests' demo store (``demo_url``: 800 customers, one year, seed 7, after
``tenure run``), read only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.analytics.advocacy import advocacy_kpis
from tenure.analytics.base import store_end
from tenure.analytics.journey import counted_referrals, journey_counts, journey_stages
from tenure.analytics.stage_kpis import stage_indicators
from tenure.demo import DEMO_TABLES, generate_demo
from tenure.demo import params as P
from tenure.demo.feedback import BODIES, TITLES, draw_referrers
from tests.conftest import examples

#: Rows and content hash of the other tables of the tests' demo store, as generated before
#: the demo had feedback and referrals (``pd.util.hash_pandas_object`` of the rows as text,
#: summed: the row order does not matter; the load time left out).
#: The date traits of a customer record (tenure.demo.people.date_traits), drawn after.
DATE_TRAITS = r',"(?:birthday|credit_expires_at)":"[0-9-]+"'
BEFORE_FEEDBACK = {
    "customers": (1080, 0x35F905B78DB2DFB0),
    "products": (320, 0xC9CF4F31FD08E6C0),
    "orders": (1817, 0xB6284EB399A75BCA),
    "order_items": (4685, 0xE18D3B3DCBC104C0),
    "events": (41785, 0xEF3D8C974DDA3E96),
    "marketing_spend": (1536, 0x2D7CE2779E863F3A),
}


@pytest.fixture(scope="module")
def demo(demo_url: str) -> Iterator[Store]:
    with Store(demo_url) as store:
        yield store


@pytest.fixture(scope="module")
def raw(demo: Store) -> dict[str, pd.DataFrame]:
    """The tables the checks compute from, as pandas frames (money as floats)."""
    out = {n: demo.table(n).to_pandas() for n in ("feedback", "referrals", "customers")}
    out["truth"] = demo.table("generator_truth").to_pandas()
    orders = demo.table("orders").to_pandas()
    for column in ("total", "refunded"):
        orders[column] = orders[column].astype(float)
    out["orders"] = orders
    items = demo.table("order_items").select("order_id", "product_id").to_pandas()
    out["bought"] = items.merge(orders[["order_id", "customer_id"]], on="order_id")
    ids = demo.table("identities").to_pandas()
    ids = ids[ids.kind == "customer_id"]
    out["person"] = ids.set_index("value").person_id  # customer id -> person
    return out


def _truth(raw: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    t = raw["truth"]
    return t[t.name == name]


def _global(raw: dict[str, pd.DataFrame], name: str) -> float:
    (value,) = _truth(raw, name).value.tolist()
    return float(value)


def test_the_other_tables_keep_the_rows_they_had_before_feedback(demo: Store) -> None:
    got = {}
    for name in BEFORE_FEEDBACK:
        t = demo.table(name)
        frame = t.select([c for c in t.columns if c != "imported_at"]).to_pandas()
        if name == "customers":  # the date traits came later, from a stream of their own
            frame["traits"] = frame.traits.str.replace(DATE_TRAITS, "", regex=True)
        digest = int(pd.util.hash_pandas_object(frame.astype(str), index=False).sum()) % 2**64
        got[name] = (len(frame), digest)
    assert got == BEFORE_FEEDBACK
    assert {"feedback", "referrals"} <= set(DEMO_TABLES)


def test_rows_name_persons_as_their_customer_records_do(raw: dict[str, pd.DataFrame]) -> None:
    fb, ref, customers = raw["feedback"], raw["referrals"], raw["customers"]
    pairs = set(zip(customers.customer_id, customers.email, strict=True))
    assert set(zip(fb.customer_id, fb.email, strict=True)) <= pairs
    for side in ("referrer", "referred"):
        ids = zip(ref[f"{side}_customer_id"], ref[f"{side}_email"], strict=True)
        assert set(ids) <= pairs
    assert fb.feedback_id.is_unique and ref.referral_id.is_unique
    assert fb.anonymous_id.isna().all()


def test_answers_and_reviews_are_on_their_scales_before_the_end(
    demo: Store, raw: dict[str, pd.DataFrame]
) -> None:
    fb = raw["feedback"]
    assert set(fb.kind) == {"nps", "review"}
    nps, rev = fb[fb.kind == "nps"], fb[fb.kind == "review"]
    assert ((nps.scale_min == 0) & (nps.scale_max == 10)).all()
    assert nps.score.isin(range(11)).all() and nps.product_id.isna().all()
    assert ((rev.scale_min == 1) & (rev.scale_max == 5)).all() and rev.score.isin(range(1, 6)).all()
    assert (fb.submitted_at.dt.date <= store_end(demo)).all()
    # a review is of a product the reviewer bought, after an order of theirs
    bought = set(zip(raw["bought"].customer_id, raw["bought"].product_id, strict=True))
    assert set(zip(rev.customer_id, rev.product_id, strict=True)) <= bought
    first = raw["orders"].groupby("customer_id").ordered_at.min()
    assert (fb.submitted_at.to_numpy() > first.loc[fb.customer_id].to_numpy()).all()
    # some answer twice; text on some reviews, title and body matching the stars
    assert nps.customer_id.duplicated().any()
    texted = rev[rev.title.notna()]
    assert 0 < len(texted) < len(rev) and texted.body.notna().all()
    stars = texted.score.astype(int) - 1
    assert (texted.title == [TITLES[s] for s in stars]).all()
    assert (texted.body == [BODIES[s] for s in stars]).all()


def test_satisfaction_of_every_buyer_follows_the_drop_out_probability(
    raw: dict[str, pd.DataFrame],
) -> None:
    sat = _truth(raw, "satisfaction").set_index("scope").value
    buyers = set(raw["orders"].customer_id)
    assert sat.index.is_unique and set(sat.index) == buyers
    assert sat.between(0, 10).all()
    c = raw["customers"].set_index("customer_id").loc[sat.index]
    drop_out = c.traits.map(lambda t: json.loads(t)["demo_truth"]["p"]).astype(float)
    assert np.corrcoef(sat, drop_out)[0, 1] < -0.3  # the less likely to drop out, the happier
    # answers follow satisfaction; referrers are happier than buyers at large
    fb = raw["feedback"]
    nps = fb[fb.kind == "nps"]
    assert np.corrcoef(sat.loc[nps.customer_id], nps.score)[0, 1] > 0.5
    referrers = raw["referrals"].referrer_customer_id
    assert sat.loc[referrers].mean() > sat.mean() + 0.5


def test_referrals_go_forward_in_time(raw: dict[str, pd.DataFrame]) -> None:
    ref, orders = raw["referrals"], raw["orders"]
    first = orders.sort_values("ordered_at").groupby("customer_id").head(1)
    first = first.set_index("customer_id")
    assert (ref.referrer_customer_id != ref.referred_customer_id).all()
    assert ref.referred_customer_id.is_unique  # one referrer each
    assert (first.ordered_at.loc[ref.referrer_customer_id].to_numpy() < ref.referred_at).all()
    buyers = ref[ref.referred_customer_id.isin(first.index)]
    prospects = ref[~ref.referred_customer_id.isin(first.index)]
    assert len(buyers) and len(prospects)  # referred conversion below 1
    mine = first.loc[buyers.referred_customer_id]
    assert (buyers.order_id == mine.order_id.to_numpy()).all()
    assert (buyers.referred_at < mine.ordered_at.to_numpy()).all()
    assert prospects.order_id.isna().all()
    assert (ref.code == "REF-" + ref.referrer_customer_id).all()
    assert (ref.reward.astype(float) == np.where(ref.order_id.notna(), 10.0, 0.0)).all()
    assert (ref.currency == "USD").all()


def test_the_referral_graph_tenure_sees_is_the_truth(
    demo: Store, raw: dict[str, pd.DataFrame]
) -> None:
    """Must show: who referred whom, as Tenure resolves it, is the generator's truth."""
    r = counted_referrals(demo, store_end(demo)).select("rp", "dp").to_pandas()
    customer_of = pd.Series(raw["person"].index, index=raw["person"].to_numpy())
    assert customer_of.index.is_unique  # one customer id per person in the demo
    seen = set(zip(customer_of.loc[r.rp], customer_of.loc[r.dp], strict=True))
    truth = _truth(raw, "referred_by")
    assert seen == set(zip(truth.description, truth.scope, strict=True))
    assert len(r) == len(truth) == _global(raw, "referrals_realised")


def test_nps_is_the_raw_answers_and_the_truth(demo: Store, raw: dict[str, pd.DataFrame]) -> None:
    """Must show: NPS from the latest answer of each person, computed independently."""
    fb = raw["feedback"]
    nps = fb[fb.kind == "nps"].sort_values(["submitted_at", "feedback_id"])
    latest = nps.groupby("customer_id").tail(1).score
    expected = 100.0 * ((latest >= 9).mean() - (latest <= 6).mean())
    k = advocacy_kpis(demo)
    assert k["nps"] == pytest.approx(expected, rel=1e-12)
    assert k["nps"] == pytest.approx(_global(raw, "nps_realised"), rel=1e-12)
    assert k["nps_respondents"] == len(latest) == _global(raw, "nps_respondents_realised")
    assert k["reviews"] == _global(raw, "reviews_realised") == (fb.kind == "review").sum()
    assert k["average_rating"] == pytest.approx(_global(raw, "average_rating_realised"))


def test_referred_buyers_and_their_revenue_are_the_truth(
    demo: Store, raw: dict[str, pd.DataFrame]
) -> None:
    """Must show: the referred buyers, and their value (net revenue, all their orders, as
    tenure.analytics.base.orders_base counts it: total - refunded), are the truth."""
    truth = _truth(raw, "referred_by")
    bought = truth[truth.value == 1.0].scope
    orders = raw["orders"]
    # a purchase: an order not refunded in full (the demo's orders are none void)
    purchasers = set(orders[orders.status != "refunded"].customer_id)
    assert set(bought) == set(truth.scope) & purchasers
    net = (orders.total - orders.refunded).groupby(orders.customer_id).sum()
    k = advocacy_kpis(demo)
    assert k["referred_buyers"] == len(bought) == _global(raw, "referred_buyers_realised")
    assert k["referred_persons"] == len(truth)
    assert 0 < k["referred_conversion"] < 1
    assert k["revenue_referred"] == pytest.approx(net.loc[bought].mean(), rel=1e-9)
    assert k["revenue_referred"] == pytest.approx(_global(raw, "revenue_referred_realised"))
    rewards = _global(raw, "referral_rewards_realised")
    assert rewards == raw["referrals"].reward.astype(float).sum()
    assert k["programme_cac"] == pytest.approx(rewards / len(bought))
    assert _global(raw, "referral_reward") == P.REFERRAL_REWARD_CENTS / 100


def _margins(demo: Store, raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each order's customer, day, whether it is a purchase and its margin, from the raw
    rows: (total - refunded) x (1 - cost / price of its lines), the store's default margin
    when a line has no cost (docs/metrics.md, "margin")."""
    orders = raw["orders"].copy()
    items = demo.table("order_items").to_pandas()
    products = demo.table("products").to_pandas()
    lines = items.merge(products[["product_id", "unit_cost"]], on="product_id", how="left")
    quantity = lines.quantity.astype(float)
    lines["price"] = quantity * lines.unit_price.astype(float)
    lines["cost"] = quantity * lines.unit_cost.astype(float)
    per = lines.groupby("order_id").agg(price=("price", "sum"), cost=("cost", "sum"))
    costed = lines.groupby("order_id").cost.apply(lambda c: c.notna().all())
    rate = (1 - per.cost / per.price).where(costed & (per.price > 0))
    orders["rate"] = orders.order_id.map(rate).fillna(demo.settings.default_margin)
    orders["margin"] = (orders.total - orders.refunded) * orders.rate
    orders["day"] = pd.to_datetime(orders.ordered_at).dt.date
    full = (orders.refunded > 0) & (orders.refunded >= orders.total)
    orders["purchase"] = (orders.total >= 0) & ~full
    return orders


def test_referred_buyers_clv_is_the_truth(demo: Store, raw: dict[str, pd.DataFrame]) -> None:
    """Must show: the CLV of the referred buyers (and of the others), stage_indicators'
    clv_referred / clv_not_referred, equals the historical CLV computed from the raw orders of
    the truth's referred buyers: mean margin within the horizon of the first purchase, over
    the buyers whose first purchase is at least the horizon old."""
    horizon = 90
    end = store_end(demo)
    orders = _margins(demo, raw)
    first = orders[orders.purchase].groupby("customer_id").day.min()
    mature = first[first <= end - pd.Timedelta(days=horizon)]
    o = orders[orders.customer_id.isin(mature.index)]
    within = o[(o.day - o.customer_id.map(mature)).map(lambda d: d.days) < horizon]
    value = within.groupby("customer_id").margin.sum().reindex(mature.index, fill_value=0.0)
    truth = _truth(raw, "referred_by")
    referred = set(truth[truth.value == 1.0].scope)
    is_referred = value.index.isin(referred)
    assert is_referred.sum() > 10  # enough mature referred buyers to mean something
    got = stage_indicators(demo, horizon_days=horizon).set_index("indicator").value
    assert got["clv_referred"] == pytest.approx(value[is_referred].mean(), rel=1e-9)
    assert got["clv_not_referred"] == pytest.approx(value[~is_referred].mean(), rel=1e-9)


def test_every_person_in_one_stage_and_the_advocates_are_the_promoters(
    demo: Store, raw: dict[str, pd.DataFrame]
) -> None:
    """Must show: one stage per person, counts adding up; the advocates are the retained
    buyers with promoter evidence in the raw rows (latest NPS 9+, a review of 4+ stars, a
    referred person who bought), and only they."""
    stages = journey_stages(demo).to_pandas()
    counts = journey_counts(demo).set_index("stage").persons
    assert stages.person_id.is_unique and counts.sum() == len(stages)
    assert (counts == stages.stage.value_counts().reindex(counts.index, fill_value=0)).all()
    assert counts["advocate"] > 0
    fb = raw["feedback"]
    nps = fb[fb.kind == "nps"].sort_values(["submitted_at", "feedback_id"])
    latest = nps.groupby("customer_id").tail(1)
    truth = _truth(raw, "referred_by")
    evidence = (
        set(latest[latest.score >= 9].customer_id)
        | set(fb[(fb.kind == "review") & (fb.score >= 4)].customer_id)
        | set(truth[truth.value == 1.0].description)
    )
    promoters = set(raw["person"].loc[sorted(evidence)])
    by_stage = stages.groupby("stage").person_id.apply(set)
    assert by_stage["advocate"] <= promoters
    assert not by_stage["retain"] & promoters
    reasons = stages[stages.stage == "advocate"].reason
    assert reasons.str.contains("NPS").any() and reasons.str.contains("referral").any()


_DAY = st.floats(0, 100, allow_nan=False)


@examples(100)
def test_a_referrer_ordered_before_the_referral_and_has_a_weight(examples: int) -> None:
    """No self-referral, no cycle: a referral's referrer is a buyer whose first order came
    strictly before it, with a satisfaction above 0; none (-1) only when there is no such
    buyer."""
    buyers = st.lists(st.tuples(_DAY, st.sampled_from([0.0, 0.5, 7.0, 10.0])), min_size=1)
    draws = given(buyers, st.lists(_DAY, max_size=20), st.integers(0, 2**32 - 1))
    settings(max_examples=examples, deadline=None)(draws(_referrers_came_first))()


def _referrers_came_first(buyers: list[tuple[float, float]], at: list[float], seed: int) -> None:
    acquired, s = (np.array(column) for column in zip(*buyers, strict=True))
    when = np.array(at, dtype=np.float64)
    got = draw_referrers(np.random.default_rng(seed), s, acquired, when)
    for referrer, day in zip(got, when, strict=True):
        if referrer < 0:
            assert not ((acquired < day) & (s > 0)).any()
        else:
            assert acquired[referrer] < day and s[referrer] > 0


def test_referrers_are_drawn_by_satisfaction_to_the_fourth() -> None:
    """Two earlier buyers, satisfied 10 and 5: the second refers (5/10)^4 = 1/16 as often."""
    got = draw_referrers(
        np.random.default_rng(1), np.array([10.0, 5.0]), np.array([1.0, 2.0]), np.full(20_000, 3.0)
    )
    assert (got == 1).mean() == pytest.approx(1 / 17, abs=0.005)


def test_a_tiny_demo_has_no_figure_without_data(tmp_path: Path) -> None:
    """One buyer, 30 days: no referral, so no referred buyers' revenue (unknown, not 0)."""
    with Store(f"duckdb://{tmp_path / 'tiny.duckdb'}") as store:
        generate_demo(store, customers=1, seed=3, days=30)
        truth = store.table("generator_truth").to_pandas()
        assert store.count("referrals") == 0 and store.count("feedback") == 0
    names = set(truth.name)
    assert {"referrals_realised", "reviews_realised", "nps_respondents_realised"} <= names
    assert not {"nps_realised", "average_rating_realised", "revenue_referred_realised"} & names
    assert truth[truth.name == "satisfaction"].scope.tolist() == ["C0000000"]

"""The channel economics and the budget proposal (docs/advisor.md, "Channels and budget"):
against the demo generator's truth, on synthetic spend histories with a known exponent,
under random bounds (hypothesis), and on stores missing what a proposal needs."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import hyp2f1

from tenure import Store
from tenure.advisor.budget import BudgetRules, propose_budget
from tenure.advisor.channels import ChannelEconomics, channel_economics, payback_months
from tenure.advisor.response import fit_power, variation_test
from tenure.demo import params as P
from tenure.errors import ConfigError
from tests.conftest import examples

PAID = ("paid_search", "paid_social", "referral")
FAST = BudgetRules(bootstrap=30)


def true_repeat_orders(ch: P.Channel, t: float = 365.0) -> float:
    """BG/NBD expected repeat purchases in (0, t] of a new customer (Fader, Hardie & Lee
    2005, equation 9) with the channel's generating r, alpha, a, b."""
    r, alpha, a, b = ch.r, ch.alpha, ch.a, ch.b
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def true_clv_cac() -> dict[str, float]:
    """The generator's true 12-month value per unit of acquisition cost per paid channel:
    (1 + expected repeat orders) x mean order margin / CAC. The mean subtotal (gamma-gamma:
    p x gamma / (q - 1)) and the margin rate are the same for every channel, so they scale
    every ratio alike; the ranking is that of (1 + E[X(365)]) / CAC."""
    subtotal = P.GG_P * P.GG_GAMMA / (P.GG_Q - 1)
    return {
        ch.name: (1 + true_repeat_orders(ch)) * subtotal / ch.cac
        for ch in P.CHANNELS
        if ch.name in PAID
    }


@pytest.fixture(scope="module")
def demo_copy(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the session's demo store (the tests here only read it)."""
    src = demo_url.removeprefix("duckdb://")
    dst = tmp_path_factory.mktemp("budget") / "demo.duckdb"
    shutil.copy(src, dst)
    return f"duckdb://{dst}"


@pytest.fixture(scope="module")
def econ(demo_copy: str) -> ChannelEconomics:
    with Store(demo_copy) as store:
        return channel_economics(store)


def test_true_values_are_what_the_generator_implies() -> None:
    truth = true_clv_cac()
    assert sorted(truth, key=truth.get) == ["paid_social", "paid_search", "referral"]
    assert true_repeat_orders(P.CHANNELS[P.CHANNEL_INDEX["paid_search"]]) == pytest.approx(
        1.836, abs=1e-3
    )


def test_channel_ranking_agrees_with_the_truth(econ: ChannelEconomics) -> None:
    truth = true_clv_cac()
    rows = econ.channels.set_index("channel")
    measured = {c: float(rows.at[c, "clv_cac"]) for c in PAID}
    assert sorted(measured, key=measured.get) == sorted(truth, key=truth.get)
    assert econ.clv_source == "predicted"
    # CAC is spend / new customers, close to the generator's target CAC of each channel
    for ch in P.CHANNELS:
        if ch.name in PAID:
            assert rows.at[ch.name, "cac"] == pytest.approx(ch.cac, rel=0.25)
    # unpaid channels: spend, CAC and CLV:CAC unknown (never 0)
    assert rows.loc[["direct", "email", "organic_search"], "cac"].isna().all()


def test_campaigns_and_trend_cover_every_channel(econ: ChannelEconomics) -> None:
    camp = econ.campaigns
    assert camp["new_customers"].sum() == econ.channels["new_customers"].sum()
    assert camp["spend"].sum() == pytest.approx(econ.channels["spend"].sum())
    brand = camp[camp["campaign"] == "search_brand"].iloc[0]
    generic = camp[camp["campaign"] == "search_generic"].iloc[0]
    assert brand["cac"] < generic["cac"]  # 18 vs 52 in the generator
    trend = econ.trend
    assert trend.groupby("channel")["new_customers"].sum().to_dict() == (
        econ.channels.set_index("channel")["new_customers"].to_dict()
    )
    assert len(trend["cohort"].unique()) == 4  # one year in quarters
    doc = econ.to_dict()
    assert doc["channels"][0]["channel"] == "direct" and doc["channels"][0]["spend"] is None


def test_proposal_shifts_budget_toward_the_truly_better_channel(demo_copy: str) -> None:
    truth = true_clv_cac()
    best, worst = max(truth, key=truth.get), min(truth, key=truth.get)
    with Store(demo_copy) as store:
        current = propose_budget(store, 1000.0, rules=FAST).channels.set_index("channel")
        total = float(current.loc[list(PAID), "current_spend"].sum())
        result = propose_budget(store, total, rules=FAST)
    rows = result.channels.set_index("channel")
    assert not result.missing
    assert rows.at[best, "proposed_spend"] > rows.at[best, "current_spend"]
    assert rows.at[worst, "proposed_spend"] < rows.at[worst, "current_spend"]
    assert rows.loc[list(PAID), "proposed_spend"].sum() + result.unallocated == pytest.approx(total)
    e = result.expected
    assert e["proposed_value"] > e["current_value"]
    assert e["proposed_value_low"] <= e["proposed_value"] <= e["proposed_value_high"]
    assert rows.loc[["direct", "email", "organic_search"], "proposed_spend"].isna().all()
    assert any("constant CAC" in line or "a x spend^b" in line for line in result.assumptions)


@examples(60, fast=8)
def test_bounds_are_respected_or_refused(econ: ChannelEconomics, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        total=st.floats(50, 5000),
        lows=st.lists(st.one_of(st.none(), st.floats(0, 1500)), min_size=3, max_size=3),
        highs=st.lists(st.one_of(st.none(), st.floats(0, 3000)), min_size=3, max_size=3),
    )
    def check(total: float, lows: list, highs: list) -> None:
        low = {c: v for c, v in zip(PAID, lows, strict=True) if v is not None}
        high = {c: v for c, v in zip(PAID, highs, strict=True) if v is not None}
        try:
            result = propose_budget(
                None,  # type: ignore[arg-type]  # the economics are given: no store read
                total,
                minimum=low,
                maximum=high,
                rules=BudgetRules(bootstrap=5),
                economics=econ,
            )
        except ConfigError as exc:
            assert exc.message
            infeasible = sum(low.values()) > total or any(
                low.get(c, 0) > high.get(c, np.inf) for c in PAID
            )
            all_capped = all(c in high for c in PAID) and sum(high.values()) < total
            assert infeasible or all_capped, exc.message
            return
        rows = result.channels.set_index("channel").loc[list(PAID)]
        spend = rows["proposed_spend"].astype(float)
        assert spend.sum() + result.unallocated == pytest.approx(total, rel=1e-9, abs=1e-6)
        for c in PAID:
            assert spend[c] >= low.get(c, 0.0) - 1e-6
            assert spend[c] <= high.get(c, np.inf) + 1e-6
            assert spend[c] <= float(rows.at[c, "max"]) + 1e-6
        assert result.unallocated >= -1e-6

    check()


def test_unknown_or_unpaid_channel_in_the_bounds_is_a_clear_error(econ: ChannelEconomics) -> None:
    with pytest.raises(ConfigError) as exc:
        propose_budget(None, 1000, minimum={"paid_serch": 10}, economics=econ)  # type: ignore[arg-type]
    assert "paid_serch" in exc.value.message and "paid_search" in (exc.value.hint or "")
    with pytest.raises(ConfigError) as exc:
        propose_budget(None, 1000, maximum={"organic_search": 10}, economics=econ)  # type: ignore[arg-type]
    assert "no spend" in exc.value.message and "referral" in (exc.value.hint or "")


def test_power_curve_exponent_is_recovered_within_its_interval() -> None:
    """Synthetic weekly history with diminishing returns b = 0.6: the 95% interval of the
    fitted b holds it, for several seeds; the variation test accepts it."""
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        spend = 1000 * rng.lognormal(0, 0.5, 104)
        new = rng.poisson(0.8 * spend**0.6)
        fit, why = variation_test(spend, new, min_weeks=12, min_cv=0.2, max_se=0.2)
        assert fit is not None, why
        hits += abs(fit.b - 0.6) <= 1.96 * fit.b_se
    assert hits >= 17  # a 95% interval: about 19 of 20


def test_flat_spend_fails_the_variation_test() -> None:
    rng = np.random.default_rng(1)
    spend = 1000 * rng.lognormal(0, 0.05, 52)
    fit, why = variation_test(spend, rng.poisson(20, 52), min_weeks=12, min_cv=0.2, max_se=0.2)
    assert fit is None and "varies too little" in (why or "")
    fit, why = variation_test(spend[:5], np.ones(5), min_weeks=12, min_cv=0.2, max_se=0.2)
    assert fit is None and "5 weeks" in (why or "")
    assert fit_power(np.zeros(5), np.ones(5)) is None


def test_payback_reads_the_value_curve() -> None:
    curve = np.array([10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130])
    assert payback_months(curve, 5.0) == 0.0
    assert payback_months(curve, 25.0) == pytest.approx(1.5)
    assert payback_months(curve, 500.0) is None


def _edited(demo_copy: str, tmp_path: Path, sql: str) -> str:
    path = tmp_path / "edited.duckdb"
    shutil.copy(demo_copy.removeprefix("duckdb://"), path)
    con = duckdb.connect(str(path))
    con.execute(sql)
    con.close()
    return f"duckdb://{path}"


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("delete from marketing_spend", "No channel has spend"),
        ("delete from marketing_spend where channel <> 'paid_search'", "Only one paid channel"),
        (
            "delete from marketing_spend where date < (select max(date) - 13 from marketing_spend)",
            "full weeks of spend history",
        ),
    ],
    ids=["no-spend", "one-channel", "two-weeks"],
)
def test_missing_data_gives_what_is_missing_not_numbers(
    demo_copy: str, tmp_path: Path, sql: str, says: str
) -> None:
    url = _edited(demo_copy, tmp_path, sql)
    with Store(url) as store:
        result = propose_budget(store, 1000.0, rules=FAST)
    assert any(says in line for line in result.missing), result.missing
    assert result.channels["proposed_spend"].isna().all()
    assert result.expected == {}
    doc = result.to_dict()
    assert doc["unallocated"] is None
    assert all(row["proposed_spend"] is None for row in doc["channels"])

"""`tenure predict` on demo stores: predictions against the generator's truth, explanations,
the thin-data heuristic, and invariants of the pattern scoring (hypothesis)."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.demo import generate_demo
from tenure.errors import ConfigError
from tenure.models import BetaGeo, ModifiedBetaGeo
from tenure.pipeline import refresh
from tenure.predictions.holdout import DataFloor
from tenure.predictions.predict import PREDICTIONS, PredictResult, predict
from tenure.predictions.scoring import MONTH_DAYS, p_at_least, score_patterns
from tests.conftest import freeze_clock
from tests.models.test_invariants import histories, purchase_model, purchase_params

COLUMNS = [
    "person_id",
    "model",
    "method",
    "predicted_as_of",
    "clv_12m",
    "p_alive",
    "expected_orders_12m",
    "expected_next_purchase_days",
    "future_vip_probability",
    "explanation",
]
MODEL_LINE = re.compile(
    r"^(?P<history>1 order, .+|\d+ orders on one day, .+|\d+ orders, usual gap \d+ days, "
    r"last order .+) -> P\(alive\) (?P<p>\d\.\d\d), (?P<n>\d+\.\d) orders and "
    r"\$(?P<m>\d+) margin expected in 12 months$"
)


def _open(url: str) -> Store:
    return Store(url)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """4,000 buyers over two years (seed 11), refreshed, then predicted."""
    url = f"duckdb://{tmp_path_factory.mktemp('predict') / 'demo.duckdb'}"
    with _open(url) as store:
        generate_demo(store, customers=4000, seed=11)
        refresh(store)
        predict(store)
    return url


@pytest.fixture
def demo(demo_url: str) -> Iterator[Store]:
    with _open(demo_url) as store:
        yield store


@pytest.fixture
def demo_copy(demo_url: str, tmp_path: Path) -> Iterator[Store]:
    """A copy of the demo store for tests that predict again."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    with _open(f"duckdb://{path}") as store:
        yield store


def _predictions(store: Store) -> pd.DataFrame:
    return store.con.table(PREDICTIONS).to_pandas().set_index("person_id")


def _truth(store: Store) -> pd.DataFrame:
    """The generator's truth per buyer (customers.traits.demo_truth), by customer id."""
    customers = store.table("customers").select("customer_id", "traits").to_pandas()
    rows = {}
    for cid, traits in zip(customers["customer_id"], customers["traits"], strict=True):
        truth = json.loads(traits).get("demo_truth")
        if truth is not None:
            rows[cid] = truth
    return pd.DataFrame.from_dict(rows, orient="index")


def test_one_row_per_person_of_customer_facts(demo: Store) -> None:
    predictions = demo.con.table(PREDICTIONS)
    assert predictions.columns == tuple(COLUMNS)
    frame = _predictions(demo)
    facts = demo.con.table("customer_facts").to_pandas().set_index("person_id")
    assert set(frame.index) == set(facts.index) and frame.index.is_unique
    buyers = frame[facts.loc[frame.index, "is_buyer"].to_numpy()]
    assert (buyers["method"] == "BetaGeo").all() and (buyers["model"] == "BetaGeo").all()
    assert (buyers["predicted_as_of"] == facts["as_of"].iloc[0]).all()
    prospects = frame.drop(buyers.index)
    assert len(prospects) > 1000
    assert prospects.drop(columns=["predicted_as_of", "explanation"]).isna().all().all()
    assert set(prospects["explanation"]) == {"Prospect: no purchase yet, so no prediction."}
    # predictions live in their own table: customer_facts holds none of their columns
    assert not set(COLUMNS[1:]) & set(facts.columns)


def test_predicting_again_replaces_the_predictions_not_the_facts(demo_copy: Store) -> None:
    facts = demo_copy.con.table("customer_facts").to_pandas()
    predict(demo_copy, horizon_months=6)
    assert "clv_6m" in demo_copy.con.table(PREDICTIONS).columns
    six = _predictions(demo_copy)
    predict(demo_copy)
    twelve = _predictions(demo_copy).loc[six.index]
    pd.testing.assert_frame_equal(demo_copy.con.table("customer_facts").to_pandas(), facts)
    buyers = twelve["method"].notna()
    # CLV and expected orders never decrease with the horizon, person by person
    assert (twelve.loc[buyers, "clv_12m"] >= six.loc[buyers, "clv_6m"] - 1e-9).all()
    assert (
        twelve.loc[buyers, "expected_orders_12m"] >= six.loc[buyers, "expected_orders_6m"]
    ).all()


def test_refresh_leaves_the_predictions_alone(demo_copy: Store) -> None:
    before = _predictions(demo_copy)
    refresh(demo_copy)
    pd.testing.assert_frame_equal(_predictions(demo_copy), before)
    assert "clv_12m" not in demo_copy.con.table("customer_facts").columns


def test_expected_orders_and_p_alive_agree_with_the_generator_truth(demo: Store) -> None:
    """The generator's truth gives each buyer's expected purchases in the next year exactly:
    alive ones buy at rate lambda and leave after each purchase with probability p, so
    E = (1 - exp(-lambda p t)) / p (Fader, Hardie & Lee 2005, eq. 7 given lambda and p).
    Measured (4,000 buyers, seed 11): mean predicted 1.76 purchase days, truth 1.63
    purchases (+8%; calendar vs the generator's operational time, one BG/NBD fitted on six
    channels' mixture); mean P(alive) 0.755 vs 72.2% truly alive."""
    frame = _predictions(demo)
    truth = _truth(demo)
    both = frame.join(truth, how="inner")
    assert len(both) > 3900
    p = both["p"].clip(lower=1e-12)
    expected = np.where(both["alive"], -np.expm1(-both["lambda"] * p * 365.25) / p, 0.0)
    assert both["expected_orders_12m"].mean() == pytest.approx(expected.mean(), rel=0.12)
    assert both["p_alive"].mean() == pytest.approx(both["alive"].mean(), abs=0.06)
    alive = both["alive"].astype(bool)
    assert both.loc[alive, "p_alive"].mean() > both.loc[~alive, "p_alive"].mean() + 0.2


def test_future_vip_probability_is_a_probability_led_by_value(demo: Store) -> None:
    frame = _predictions(demo).dropna(subset=["method"])
    vip = frame["future_vip_probability"]
    assert vip.between(0.0, 1.0).all()
    tier = 0.05 * len(frame)  # the VIP tier holds vip_share of the buyers
    assert 0.5 * tier < vip.sum() < 2.0 * tier
    assert np.corrcoef(vip, frame["clv_12m"])[0, 1] > 0.5


def test_explanations_state_the_history_and_the_numbers(demo: Store) -> None:
    frame = _predictions(demo).dropna(subset=["method"])
    facts = demo.con.table("customer_facts").to_pandas().set_index("person_id")
    for person, row in frame.sample(200, random_state=1).iterrows():
        match = MODEL_LINE.match(row["explanation"])
        assert match, row["explanation"]
        fact = facts.loc[person]
        since = int(fact["days_since_last_order"])
        ago = {0: "today", 1: "1 day ago"}.get(since, f"{since} days ago")
        assert match["history"].endswith(ago)
        assert match["history"].startswith(f"{fact['orders']} order")
        if fact["frequency"] > 0:
            gap = math.floor(fact["gap_median"] + 0.5)  # half away from zero, as the engines
            assert f"usual gap {gap} days" in match["history"]
        assert float(match["p"]) == pytest.approx(row["p_alive"], abs=0.0051)
        assert float(match["n"]) == pytest.approx(row["expected_orders_12m"], abs=0.051)
        # the margin is the undiscounted expectation: a little above the discounted CLV
        assert int(match["m"]) >= round(row["clv_12m"]) - 1
        assert int(match["m"]) <= row["clv_12m"] * 1.06 + 1


def test_result_reports_the_fit(demo_copy: Store) -> None:
    result = predict(demo_copy, model="ModifiedBetaGeo", discount_rate=0.0)
    assert isinstance(result, PredictResult)
    assert (result.method, result.model, result.reason) == (
        "ModifiedBetaGeo",
        "ModifiedBetaGeo",
        None,
    )
    assert result.stats is not None and result.stats.buyers > 3900
    assert result.stats.history_days > 700 and result.stats.repeat_buyers > 2000
    assert set(result.parameters) == {"r", "alpha", "a", "b", "gg_p", "gg_q", "gg_gamma"}
    assert 0 < result.patterns < result.stats.buyers and result.vip_threshold is not None
    frame = _predictions(demo_copy).dropna(subset=["method"])
    assert result.totals["clv"] == pytest.approx(frame["clv_12m"].sum())
    assert result.to_dict()["as_of"] == frame["predicted_as_of"].iloc[0].date().isoformat()


@pytest.mark.slow
def test_gradient_boosted_clv_replaces_only_the_clv(demo_copy: Store) -> None:
    """clv_model="GradientBoosting": the CLV is the boosted margin of the next 365 days
    (trained on the buyers a year before the facts' day), discounted by the mean monthly
    factor; everything else is the purchase model's, unchanged. Measured (4,000 buyers, seed
    11): CLV total 168,977 against Gamma-Gamma's 195,263, correlation 0.83 per buyer."""
    before = _predictions(demo_copy)
    result = predict(demo_copy, clv_model="GradientBoosting")
    after = _predictions(demo_copy).loc[before.index]
    assert (result.model, result.method, result.clv_model, result.reason) == (
        "BetaGeo",
        "BetaGeo+GradientBoosting",
        "GradientBoosting",
        None,
    )
    assert 1000 < result.parameters["gbm_training_buyers"] < result.stats.buyers  # type: ignore[union-attr]
    buyers = before["method"].notna()
    assert (after.loc[buyers, "method"] == "BetaGeo+GradientBoosting").all()
    assert after.loc[~buyers, "method"].isna().all()
    assert after.loc[~buyers, "clv_12m"].isna().all()
    boosted, gamma = after.loc[buyers, "clv_12m"], before.loc[buyers, "clv_12m"]
    assert boosted.notna().all() and (boosted >= 0).all()
    assert (boosted - gamma).abs().mean() > 5.0
    assert 0.7 < boosted.sum() / gamma.sum() < 1.1
    assert np.corrcoef(boosted, gamma)[0, 1] > 0.6
    assert result.totals["clv"] == pytest.approx(boosted.sum())
    for column in ("p_alive", "expected_orders_12m", "expected_next_purchase_days"):
        pd.testing.assert_series_equal(after[column], before[column])
    pd.testing.assert_series_equal(
        after["future_vip_probability"], before["future_vip_probability"]
    )
    discount = sum(1.1 ** (-k / 12) for k in range(1, 13)) / 12
    for _, row in after[buyers].sample(200, random_state=2).iterrows():
        text = row["explanation"]
        assert text.endswith(" margin expected in 12 months (gradient boosting)"), text
        match = MODEL_LINE.match(text.removesuffix(" (gradient boosting)"))
        assert match, text
        assert float(match["p"]) == pytest.approx(row["p_alive"], abs=0.0051)
        # the margin is the undiscounted boosted prediction
        assert abs(int(match["m"]) - row["clv_12m"] / discount) <= 0.51


def test_another_day_is_predicted_without_touching_customer_facts(demo_copy: Store) -> None:
    facts = demo_copy.con.table("customer_facts").to_pandas()
    day = facts["as_of"].iloc[0].date() - timedelta(days=90)
    result = predict(demo_copy, as_of=day)
    assert result.as_of == day
    assert (_predictions(demo_copy)["predicted_as_of"] == pd.Timestamp(day)).all()
    pd.testing.assert_frame_equal(demo_copy.con.table("customer_facts").to_pandas(), facts)


def test_bad_arguments_name_the_choices(demo: Store) -> None:
    with pytest.raises(ConfigError, match="must be one of BetaGeo, ModifiedBetaGeo"):
        predict(demo, model="lifetimes")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "'clv_model' parameter of predict must be one of GammaGamma, GradientBoosting. "
            "Got 'XGBoost' instead."
        ),
    ):
        predict(demo, clv_model="XGBoost")
    with pytest.raises(ConfigError, match="'horizon_months' parameter of predict must be an int"):
        predict(demo, horizon_months=0)
    with pytest.raises(ConfigError, match="'discount_rate' parameter of predict must be a float"):
        predict(demo, discount_rate=-0.1)


# -- thin data --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb://{tmp_path_factory.mktemp('small') / 'small.duckdb'}"
    with _open(url) as store:
        generate_demo(store, customers=100, seed=3)
    return url


def test_thin_data_fall_back_to_the_heuristic_and_say_so(small_url: str) -> None:
    with _open(small_url) as store:
        result = predict(store)
        frame = _predictions(store)
    assert result.method == "heuristic" and result.model == "BetaGeo"
    assert result.reason == "99 buyers, fewer than 1,000" and not result.parameters
    buyers = frame.dropna(subset=["method"])  # one of the 100 only has a refunded order
    assert len(buyers) == 99 and (buyers["method"] == "heuristic").all()
    prefix = "Heuristic (too little data for a model: 99 buyers, fewer than 1,000): "
    assert buyers["explanation"].str.startswith(prefix).all()
    assert (
        buyers["explanation"].str.contains(r"; in the segment \d+% buy again, usually after ").all()
    )
    assert buyers["p_alive"].between(0, 1).all() and (buyers["clv_12m"] >= 0).all()
    assert (buyers["expected_orders_12m"] >= 0).all()
    assert (buyers["expected_next_purchase_days"] >= 0).all()
    assert buyers["future_vip_probability"].between(0, 1).all()
    recent = buyers[buyers["explanation"].str.contains("today|1 day ago|, [1-9] days ago")]
    assert (recent["p_alive"] == 1.0).all()


def test_a_lower_floor_fits_the_model_on_the_same_store(small_url: str) -> None:
    with _open(small_url) as store:
        result = predict(store, floor=DataFloor(buyers=50, repeat_buyers=20, history_days=90))
    assert result.method == "BetaGeo" and result.reason is None


@pytest.mark.slow
def test_gradient_boosting_needs_a_training_window_above_the_floor(small_url: str) -> None:
    """Below the floor the heuristic makes every number; above it, a training window (the
    buyers a horizon before the facts' day) below the floor leaves Gamma-Gamma's CLV."""
    with _open(small_url) as store:
        thin = predict(store, clv_model="GradientBoosting")
        low = DataFloor(buyers=50, repeat_buyers=20, history_days=90)
        short = predict(store, floor=low, clv_model="GradientBoosting")
        frame = _predictions(store).dropna(subset=["method"])
    assert (thin.method, thin.clv_model) == ("heuristic", "heuristic")
    assert thin.reason == "99 buyers, fewer than 1,000; no GradientBoosting CLV with the heuristic"
    assert (short.method, short.clv_model) == ("BetaGeo", "GammaGamma")
    start = (short.as_of - timedelta(days=365)).isoformat()
    assert short.reason == (
        "GradientBoosting CLV not used, GammaGamma instead: its training window (the buyers "
        f"as of {start}, the facts' day minus the 12-month horizon) has too little data: "
        "48 buyers, fewer than 50; use a shorter --horizon-months"
    )
    assert "gbm_training_buyers" not in short.parameters
    assert (frame["method"] == "BetaGeo").all()
    assert not frame["explanation"].str.contains("gradient boosting").any()


@pytest.mark.slow
def test_a_failed_fit_falls_back_and_keeps_the_reason(store: Store) -> None:
    """One order per customer: BG/NBD cannot estimate a purchase rate."""
    n = 30
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": [f"O{i}" for i in range(n)],
                "customer_id": [f"C{i}" for i in range(n)],
                "ordered_at": pa.array(
                    [datetime(2025, 1, 1) + timedelta(days=7 * i) for i in range(n)],
                    pa.timestamp("us"),
                ),
                "currency": ["USD"] * n,
                "total": pa.array([Decimal("40.00")] * n, pa.decimal128(18, 4)),
                "status": ["paid"] * n,
            }
        ),
    )
    freeze_clock(store)  # a historical store, analysed as of its latest order
    result = predict(store, floor=DataFloor(0, 0, 0))
    assert result.method == "heuristic"
    assert result.reason is not None
    assert result.reason.startswith("BetaGeo could not be fitted: BetaGeo.fit: none of the 30")
    frame = _predictions(store)
    assert (
        frame["explanation"]
        .str.startswith("Heuristic (BetaGeo could not be fitted): 1 order, ")
        .all()
    )
    assert (
        frame["explanation"]
        .str.endswith("; no repeat purchase in the store yet to measure a rhythm")
        .all()
    )
    assert frame["p_alive"].isna().all() and result.as_of == date(2025, 7, 23)


# -- the pattern scoring: invariants -------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [BetaGeo, ModifiedBetaGeo, pytest.param("ParetoNBD", marks=pytest.mark.slow)]
)
def test_count_tail_sums_to_the_expected_purchases(cdnow: pd.DataFrame, model: object) -> None:
    """sum_{n>=1} P(N >= n) = E[N]: the tail behind future_vip_probability is the model's."""
    if model == "ParetoNBD":
        model = pytest.importorskip("tenure.models.pareto_nbd").ParetoNBD
    fitted = model().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])  # type: ignore[operator]
    x, t_x, age = np.array([0, 1, 3, 10, 30.0]), np.array([0, 5, 20, 30, 38.0]), np.full(5, 39.0)
    total = sum(p_at_least(fitted, np.full(5, n), 52.0, x, t_x, age) for n in range(1, 250))
    expected = fitted.conditional_expected_purchases(52.0, x, t_x, age)
    np.testing.assert_allclose(total, expected, rtol=1e-8)


@settings(max_examples=150, deadline=None)
@given(
    purchase_params,
    histories(max_frequency=200),
    st.booleans(),
    st.integers(1, 24),
    st.floats(0.0, 0.05),
    st.integers(0, 60),
)
def test_scored_patterns_are_non_negative_and_grow_with_the_horizon(
    params: dict[str, float],
    history: tuple[int, float, float],
    modified: bool,
    months: int,
    monthly_rate: float,
    need: int,
) -> None:
    model = purchase_model(params, modified)
    frequency, recency, age = history
    patterns = pd.DataFrame(
        {"frequency": [frequency], "recency_days": [recency], "T_days": [age], "need": [need]}
    )
    short, long = (
        score_patterns(model, patterns, horizon_months=h, monthly_rate=monthly_rate)
        for h in (months, months + 1)
    )
    for column in ("discounted_orders", "expected_orders", "p_reach"):
        assert long[column][0] >= short[column][0] - 1e-12 >= -1e-12
    assert short["discounted_orders"][0] <= short["expected_orders"][0] + 1e-9
    assert 0.0 <= short["p_reach"][0] <= 1.0
    fewer = p_at_least(
        model, np.array([max(need - 1, 0)]), months * MONTH_DAYS, *history_arrays(history)
    )
    assert fewer[0] >= short["p_reach"][0] - 1e-12


def history_arrays(history: tuple[int, float, float]) -> tuple[np.ndarray, ...]:
    return tuple(np.array([float(v)]) for v in history)

"""The goals' interval calibrated on the store's own past forecasts (tenure.advisor.calibration,
docs/advisor.md "Calibration"): the score and the conformal factor on hand-computed numbers,
the stretch it applies, which past forecasts it learns from, and on series whose noise the
model misjudges, an interval that covers about 80% where the model's own does not."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenure.advisor.calibration import (
    MIN_ORIGINS,
    ORIGINS,
    Calibration,
    Calibrator,
    conformal_factor,
    score,
)
from tenure.advisor.forecast import simulate
from tenure.advisor.goal_forecast import Goal, forecast_goal
from tenure.advisor.goal_metrics import Scope
from tenure.advisor.goals import add_goal, goal_progress
from tests.advisor.test_goals import _store

START = date(2024, 1, 1)


def test_score_is_the_distance_in_half_widths_of_the_side() -> None:
    # on the values themselves: median 100, interval 80..150
    assert score(100, 80, 100, 150, log=False) == 0
    assert score(125, 80, 100, 150, log=False) == 0.5  # half the upper half-width (50)
    assert score(60, 80, 100, 150, log=False) == 2  # twice the lower one (20)
    assert score(150, 80, 100, 150, log=False) == 1  # on the edge
    # on log(1 + x): median e^2 - 1, interval e^1 - 1 .. e^4 - 1, outcome e^3 - 1
    e = math.e
    assert score(e**3 - 1, e - 1, e**2 - 1, e**4 - 1, log=True) == pytest.approx(0.5)
    # a zero-width interval: 0 on the median, infinite anywhere else
    assert score(5, 5, 5, 5, log=False) == 0 and score(6, 5, 5, 5, log=False) == math.inf


def test_the_factor_is_the_conformal_quantile() -> None:
    # n = 9: the ceil(0.8 x 10) = 8th smallest
    assert conformal_factor([0.1 * i for i in range(9, 0, -1)]) == pytest.approx(0.8)
    # n = 26 (a half-year of origins): the ceil(0.8 x 27) = 22nd
    assert conformal_factor(list(range(26))) == 21
    # too few for the level: the 4th of 3 does not exist
    assert conformal_factor([1.0, 2.0, 3.0]) == math.inf


@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=MIN_ORIGINS, max_size=60))
def test_the_factor_holds_at_least_80_percent_of_the_scores_plus_one(scores: list[float]) -> None:
    q = conformal_factor(scores)
    assert q in scores
    assert sum(s <= q for s in scores) >= 0.8 * (len(scores) + 1) - 1e-9


def test_the_stretch_moves_every_quantile_from_the_median_by_the_factor() -> None:
    rng = np.random.default_rng(3)
    values = 500 + np.exp(rng.normal(4, 0.5, (999, 3))).cumsum(axis=1)  # paths x days
    base = 500.0
    stretched = Calibration(2.0, 10).apply(values, base)
    for day in range(3):
        before = np.log1p(np.sort(values[:, day]) - base)
        after = np.log1p(np.sort(stretched[:, day]) - base)
        mid = before[499]
        assert after[499] == pytest.approx(mid)  # the median stays
        assert after == pytest.approx(mid + 2 * (before - mid))
    assert Calibration(None, 3).apply(values, base) is values  # too few: the model's own
    assert Calibration(1.0, 10).apply(values, base) == pytest.approx(values)


def _series(y: np.ndarray) -> pd.DataFrame:
    index = pd.Index([START + timedelta(days=i) for i in range(len(y))])
    return pd.DataFrame({"revenue": y}, index=index)


def test_past_forecasts_are_the_weekly_origins_whose_outcome_is_known() -> None:
    """200 days, 30-day goals as of the last day: origins at day 169, 162, ... back to the
    first with 8 weeks of history (day 55): 17 of them, none after as-of - 30."""
    y = 100 + 10 * np.sin(np.arange(200) * 2 * np.pi / 7)
    y = y * np.exp(np.random.default_rng(1).normal(0, 0.1, 200))
    calibrator = Calibrator(_series(y), "revenue", 30, simulations=200)
    as_of = START + timedelta(days=199)
    got = calibrator.at(as_of)
    origins = sorted(calibrator.made)
    assert got.forecasts == len(origins) == 17
    assert origins[-1] == as_of - timedelta(days=30)
    assert origins[0] == START + timedelta(days=57)  # the first with 8 weeks of history
    assert all((b - a).days == 7 for a, b in itertools.pairwise(origins))
    assert got.factor is not None and 0 < got.factor < 5
    # at most ORIGINS of them: a longer store learns from the last half-year only
    longer = Calibrator(_series(np.tile(y, 2)[:300]), "revenue", 30, simulations=100)
    assert longer.at(START + timedelta(days=299)).forecasts == ORIGINS


def test_a_young_store_states_the_models_own_interval_and_says_so(tmp_path: Path) -> None:
    """The hand-made store has 182 days: a 91-day goal as of its end has its past forecasts
    at origins from day 56 to day 91, 6 of them (< 8)."""
    with _store(tmp_path) as store:
        p = goal_progress(store, add_goal(store, "revenue +7% in 3 months"))
    assert p.forecast is not None and p.calibration is not None
    assert p.calibration.factor is None and p.calibration.forecasts < MIN_ORIGINS
    assert "not yet checked against this store" in (p.note or "")
    assert p.to_dict()["calibration"] == {"factor": None, "forecasts": p.calibration.forecasts}


def _shifted(seed: int, days: int) -> np.ndarray:
    """Daily revenue 200 + e_t - e_(t-1), e ~ N(0, 40): demand that moves between
    neighbouring days (a sale pulled a day earlier is missing the next day), so a month's sum
    hardly varies (its noise telescopes to two days') while every day is noisy. The model
    takes the days' noise as independent and states far too wide an interval for a sum."""
    e = np.random.default_rng(seed).normal(0, 40, days + 1)
    return 200 + e[1:] - e[:-1]


@pytest.mark.slow  # ~80 fits: ~20 s on a quiet machine, a minute on a busy one
def test_where_the_model_misjudges_the_noise_the_calibration_corrects_it() -> None:
    """Two stores of :func:`_shifted` demand, 30-day revenue goals every 28 days from day
    280: the model's own interval holds every outcome (far more than 80%: too wide); the
    calibrated one is less than half as wide and still holds about 80% (at least 7 of 10).
    Measured: the model's own 10 of 10, the calibrated 9 of 10, factors 0.18-0.26, the
    calibrated interval 0.26 as wide at most."""
    raw = covered = total = 0
    ratios = []
    for seed in range(2):
        y = _shifted(seed, 450)
        for cut in range(280, 420, 28):
            as_of = START + timedelta(days=cut - 1)
            start, deadline = as_of + timedelta(days=1), as_of + timedelta(days=30)
            goal = Goal(1, "g", "revenue", Scope(), "+5%", start, deadline, 1, 2, start, deadline)
            p = forecast_goal(_frame(y[:cut]), goal, as_of)
            assert p.calibration is not None and p.calibration.factor is not None
            assert p.calibration.factor < 1 and p.low is not None and p.high is not None
            outcome = float(y[cut : cut + 30].sum())
            own = simulate(_series(y[:cut])["revenue"], 30).values.sum(axis=1)
            low, high = np.quantile(own, [0.1, 0.9])
            raw += int(low <= outcome <= high)
            covered += int(p.low <= outcome <= p.high)
            ratios.append((p.high - p.low) / (high - low))
            total += 1
    assert raw == total
    assert covered >= 7
    assert max(ratios) < 0.5


def _frame(y: np.ndarray) -> pd.DataFrame:
    """Person-days of one buyer a day whose revenue is ``y`` (the goal metrics' input)."""
    days = [START + timedelta(days=i) for i in range(len(y))]
    return pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(len(y))],
            "day": days,
            "purchases": 1,
            "revenue": y,
            "margin": y,
            "purchase_revenue": y,
            "first_day": days,
        }
    )

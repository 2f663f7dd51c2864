"""Parameter recovery: data simulated from known parameters (fixed numpy Generator seeds) are
fitted 40 times per model; the 95% intervals must hold the truth at about the nominal rate,
and the standard errors must match the spread of the estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenure.models import BetaGeo, GammaGamma, ModifiedBetaGeo
from tenure.models.base import BaseFitter
from tests.models._simulate import simulate_bgnbd, simulate_spend

RUNS = 40
PURCHASES = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.0, "q": 4.0, "gamma": 15.0}


def check_recovery(fits: list[BaseFitter], truth: dict[str, float]) -> None:
    """Coverage of the truth by the 95% intervals, pooled over parameters, is within about
    two binomial standard errors of 0.95 (a 40 x 4 pool: 0.88 .. 1.0); and the mean
    standard error of log(parameter) is within 30% of the spread of the estimates."""
    names = list(truth)
    tables = [fit.summary() for fit in fits]
    inside = np.array(
        [
            [t.loc[n, "lower 95%"] <= truth[n] <= t.loc[n, "upper 95%"] for n in names]
            for t in tables
        ]
    )
    assert 0.88 <= inside.mean() <= 1.0, pd.Series(inside.mean(axis=0), index=names)
    logs = np.log(np.array([[t.loc[n, "coef"] for n in names] for t in tables]))
    se_log = np.array([[t.loc[n, "se"] / t.loc[n, "coef"] for n in names] for t in tables])
    ratio = se_log.mean(axis=0) / logs.std(axis=0, ddof=1)
    assert np.all((ratio > 0.7) & (ratio < 1.3)), pd.Series(ratio, index=names)


@pytest.mark.parametrize(
    ("model", "leave_at_start", "seed"),
    [(BetaGeo, False, 20261123), (ModifiedBetaGeo, True, 20261124)],
)
def test_bgnbd_family_recovers_known_parameters(
    model: type[BetaGeo], leave_at_start: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    fits: list[BaseFitter] = []
    for _ in range(RUNS):
        data = simulate_bgnbd(rng, 4_000, PURCHASES, leave_at_start=leave_at_start)
        fits.append(model().fit(data["frequency"], data["recency"], data["T"]))
    check_recovery(fits, PURCHASES)


def test_gamma_gamma_recovers_known_parameters() -> None:
    rng = np.random.default_rng(7)
    fits: list[BaseFitter] = []
    for _ in range(RUNS):
        frequency = 1.0 + rng.poisson(2.0, 1_000)
        fits.append(GammaGamma().fit(frequency, simulate_spend(rng, frequency, SPEND)))
    check_recovery(fits, SPEND)


def test_simulation_matches_the_models_own_expectation() -> None:
    """The simulator and the closed form agree: mean repeat purchases of 20,000 simulated
    customers aged 52 weeks equals E[X(52)] within three standard errors (so recovery tests
    check the fitter, not a simulator that disagrees with the model)."""
    rng = np.random.default_rng(11)
    for model, start in ((BetaGeo(), False), (ModifiedBetaGeo(), True)):
        model.params_ = pd.Series(PURCHASES)
        sample = simulate_bgnbd(rng, 20_000, PURCHASES, fixed_age=52.0, leave_at_start=start)
        counts = sample["frequency"]
        expected = float(model.expected_purchases(52.0)[0])
        assert abs(counts.mean() - expected) < 3 * counts.std() / np.sqrt(len(counts))

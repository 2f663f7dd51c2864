"""Gamma-Gamma's boundary fit: spend without heterogeneity between customers (issue 11, item
7, the spend side; docs/models.md, "Boundary fits").

When every customer's transaction values come from the same ``Gamma(p, nu)``, Gamma-Gamma's
``q`` and ``gamma`` run to infinity with ``gamma / q = 1 / nu``; the fit is then the nested
:class:`GammaSpend` and every customer's expected spend per transaction is ``p / nu``.
"""

from __future__ import annotations

import pickle

import ibis
import numpy as np
import pandas as pd
import pytest

from tenure.models import GammaGamma
from tenure.models.base import Boundary, reported_params
from tenure.models.gamma_gamma import GammaSpend, discounted_purchases
from tenure.predictions.scoring import expected_spend

P, NU = 3.0, 0.15  # mean spend per transaction p / nu = 20


def homogeneous(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """(x, m) of ``n`` customers with 1 + Poisson(3) repeat transactions, all ~ Gamma(P, NU)."""
    rng = np.random.default_rng(seed)
    x = (rng.poisson(3.0, n) + 1).astype(float)
    return x, rng.gamma(P * x, 1.0 / (NU * x))


def heterogeneous(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """(x, m) from Gamma-Gamma with p = 6, q = 4, gamma = 30 (the demo store's values)."""
    rng = np.random.default_rng(seed)
    x = (rng.poisson(3.0, n) + 1).astype(float)
    nu = rng.gamma(4.0, 1.0 / 30.0, n)
    return x, rng.gamma(6.0 * x, 1.0 / (nu * x))


@pytest.mark.parametrize("seed", [1, 3, 7])  # 7: an optimum at q = 3e6 before FLAT_Q
def test_without_heterogeneity_the_fit_is_the_boundary(seed: int) -> None:
    x, m = homogeneous(seed)
    model = GammaGamma().fit(x, m)
    assert model.boundary_ is True and isinstance(model.nested_, GammaSpend)
    p, nu = model.nested_.params_["p"], model.nested_.params_["nu"]
    assert p / nu == pytest.approx(P / NU, rel=0.03)
    assert p == pytest.approx(P, rel=0.1) and nu == pytest.approx(NU, rel=0.1)
    assert model.params_.to_dict() == {"p": p, "q": np.inf, "gamma": np.inf}
    assert np.isfinite(model.nested_.standard_errors_).all()
    assert model.log_likelihood_ == model.nested_.log_likelihood_
    spend = model.conditional_expected_average_profit(x, m)
    assert np.array_equal(spend, np.full(len(x), p / nu))


def test_without_heterogeneity_every_fit_predicts_the_common_mean() -> None:
    """Over 12 draws without heterogeneity: every fit succeeds (before the boundary fit, 3
    failed with "the data do not pin down q, gamma"); most are boundary fits, the others
    interior optima where chance shows a little heterogeneity (q of 100-400); the mean expected
    spend is within 3% of p / nu every time."""
    boundary = 0
    for seed in range(1, 13):
        x, m = homogeneous(seed)
        model = GammaGamma().fit(x, m)
        boundary += model.boundary_
        spend = np.asarray(model.conditional_expected_average_profit(x, m))
        assert spend.mean() == pytest.approx(P / NU, rel=0.03), seed
    assert boundary == 7


def test_a_boundary_fit_reports_and_predicts_with_the_nested_model() -> None:
    x, m = homogeneous(1)
    model = GammaGamma().fit(x, m)
    nested = model.nested_
    assert nested is not None
    table = model.summary()
    assert list(table.index) == ["p", "q", "gamma", "nu"]
    assert table.loc["q", "note"] == "no heterogeneity in spend (boundary fit)"
    assert table.loc["gamma", "note"] == "infinite with q (gamma / q = 1 / nu)"
    assert table.loc["nu", "se"] == nested.standard_errors_["nu"]
    assert table.loc["p", "coef"] == nested.params_["p"]
    assert reported_params(model) == {"p": nested.params_["p"], "nu": nested.params_["nu"]}
    # x = 0 (no repeat purchase, monetary ignored) gets p / nu too
    mean = float(nested.params_["p"] / nested.params_["nu"])
    assert model.conditional_expected_average_profit([0, 2], [np.nan, 99.0]).tolist() == [mean] * 2
    # CLV: the purchase model's discounted purchases x p / nu x margin
    purchases = _Steady(0.25)
    frequency, recency, age = [0, 2, 5], [0.0, 10.0, 30.0], [40.0, 40.0, 40.0]
    clv = model.clv(
        purchases,
        frequency,
        recency,
        age,
        [1.0, 30.0, 10.0],
        horizon=12,
        discount_rate=0.01,
        time_unit=4.348,
        margin=0.3,
    )
    flow = discounted_purchases(purchases, "t", frequency, recency, age, 12, 0.01, 4.348)
    np.testing.assert_allclose(clv, flow * mean * 0.3, rtol=1e-12)
    # the engine expression of tenure predict
    frame = ibis.memtable({"frequency": [0, 3], "monetary": [None, 55.0]})
    value = frame.select(s=expected_spend(model, frame.frequency, frame.monetary))
    assert ibis.duckdb.connect().execute(value)["s"].tolist() == pytest.approx([mean, mean])


class _Steady:
    """A purchase model buying ``rate`` per time unit for ever, whatever the history."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def conditional_expected_purchases(self, t: object, *_: object) -> np.ndarray:
        return self.rate * np.asarray(t, dtype=np.float64)


def test_the_nested_log_likelihood_is_the_full_one_in_the_limit() -> None:
    """Gamma-Gamma's log-likelihood at (p, q, gamma = q / nu) tends to GammaSpend's at
    (p, nu) as q -> inf, the gap shrinking like 1 / q."""
    x, m = homogeneous(4, n=500)
    weights = np.ones(len(x))
    bare, _ = GammaSpend()._neg_log_likelihood(np.log([P, NU]), (x, m), weights)
    gaps = []
    for q in (1e3, 1e4, 1e5, 1e6):
        full, _ = GammaGamma()._neg_log_likelihood(np.log([P, q, q / NU]), (x, m), weights)
        gaps.append(full - bare)
    assert abs(gaps[-1]) < 1e-6 * abs(bare)
    np.testing.assert_allclose(np.array(gaps[:-1]) / np.array(gaps[1:]), 10.0, rtol=0.1)


def test_gamma_spend_gradient_matches_finite_differences() -> None:
    x, m = homogeneous(5, n=200)
    weights = np.ones(len(x))
    at = np.log([2.0, 0.1])
    _, grad = GammaSpend()._neg_log_likelihood(at, (x, m), weights)
    step = 1e-6
    for i in range(2):
        shift = np.zeros(2)
        shift[i] = step
        up, _ = GammaSpend()._neg_log_likelihood(at + shift, (x, m), weights)
        down, _ = GammaSpend()._neg_log_likelihood(at - shift, (x, m), weights)
        assert grad[i] == pytest.approx((up - down) / (2 * step), rel=1e-5)


@pytest.mark.parametrize("seed", [1, 2])
def test_heterogeneous_spend_stays_an_interior_fit(seed: int) -> None:
    x, m = heterogeneous(seed)
    model = GammaGamma().fit(x, m)
    assert model.boundary_ is False and model.nested_ is None
    assert "note" not in model.summary().columns
    for name, value in {"p": 6.0, "q": 4.0, "gamma": 30.0}.items():
        assert model.params_[name] == pytest.approx(value, rel=0.25), name


def test_interior_cdnow_fit_is_unchanged(cdnow: pd.DataFrame) -> None:
    repeaters = cdnow[cdnow["frequency"] > 0]
    model = GammaGamma().fit(repeaters["frequency"], repeaters["monetary"])
    assert model.boundary_ is False and model.nested_ is None
    assert list(model.summary().columns) == ["coef", "se", "lower 95%", "upper 95%"]


def test_refused_when_the_expected_spend_is_undetermined() -> None:
    """Where the search ended the expected spends spread far from p / nu: the data cannot tell
    which, so no boundary fit (the rule's own test, as for the purchase models)."""
    x, m = homogeneous(1, n=500)
    weights = np.ones(len(x))
    nested = GammaSpend().fit(x, m)
    boundary = Boundary(lambda: nested, (x, m), weights)
    why = GammaGamma()._predictions_differ(np.log([3.0, 3.0, 40.0]), nested, boundary)
    assert why.startswith("The predictions are not determined either: where the search ended")
    assert "without heterogeneity (Gamma(p, nu) spend)" in why
    close = GammaGamma()._predictions_differ(np.log([3.0, 1e8, 1e8 / 0.15]), nested, boundary)
    assert close == ""


def test_estimator_contract_with_a_boundary_fit() -> None:
    x, m = homogeneous(1)
    model = GammaGamma(penalizer=0.0)
    assert model.fit(x, m) is model and model.boundary_
    again = pickle.loads(pickle.dumps(model))
    assert again.conditional_expected_average_profit([1], [5.0]).tolist() == pytest.approx(
        model.conditional_expected_average_profit([1], [5.0]).tolist()
    )
    assert model.nested_ is not None and model.nested_.get_params() == model.get_params()
    model.fit(*heterogeneous(2))  # a refit forgets the boundary fit
    assert model.boundary_ is False and model.nested_ is None
    assert repr(GammaSpend()) == "GammaSpend(penalizer=0.0, tol=1e-08, max_iter=1000)"

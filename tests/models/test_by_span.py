"""``expected_purchases_by_span``: the conditional expectation at several horizons at once
gives exactly the numbers of one call per horizon, and CLV's discounted purchases are the
same with it as without it; the negative binomial tail without scipy.stats is scipy.stats'
(the daily re-scoring relies on all three)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tenure.models import NBD, BetaGeo, ModifiedBetaGeo, ParetoNBD
from tenure.models.gamma_gamma import discounted_purchases, expected_and_discounted
from tenure.models.inputs import check_transactions
from tenure.models.nbd import nbinom_sf
from tests.models.test_boundary import nbd_customers

SPANS = np.array([0.0, 1.0, 4.348125, 39.0, 52.17857])
MODELS = (BetaGeo, ModifiedBetaGeo, ParetoNBD, NBD)


@pytest.fixture(scope="module", params=MODELS, ids=lambda m: m.__name__)
def fitted(request: pytest.FixtureRequest, cdnow: pd.DataFrame) -> Any:
    return request.param().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def _history(cdnow: pd.DataFrame) -> list[np.ndarray]:
    return [cdnow[k].to_numpy(dtype=float) for k in ("frequency", "recency", "T")]


def test_by_span_is_one_call_per_span_exactly(fitted: Any, cdnow: pd.DataFrame) -> None:
    history = _history(cdnow)
    grid = fitted.expected_purchases_by_span(SPANS, *history)
    assert grid.shape == (len(SPANS), len(cdnow))
    for row, span in zip(grid, SPANS, strict=True):
        one = np.asarray(fitted.conditional_expected_purchases(span, *history))
        assert np.array_equal(row, one)


class _OneSpanAtATime:
    """A purchase model without ``expected_purchases_by_span`` (the generic path)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def conditional_expected_purchases(self, t: Any, x: Any, t_x: Any, age: Any) -> Any:
        return self.model.conditional_expected_purchases(t, x, t_x, age)


def test_discounted_purchases_same_with_and_without_by_span(
    fitted: Any, cdnow: pd.DataFrame
) -> None:
    history = _history(cdnow)
    args = (12, 0.008, 4.348125)
    fast = discounted_purchases(fitted, "test", *history, *args)
    plain = discounted_purchases(_OneSpanAtATime(fitted), "test", *history, *args)
    assert np.array_equal(fast, plain)
    assert (fast >= 0).all() and fast.max() > 0
    expected, discounted = expected_and_discounted(fitted, check_transactions("t", *history), *args)
    assert np.array_equal(discounted, fast)
    whole = fitted.conditional_expected_purchases(12 * 4.348125, *history)
    assert np.array_equal(expected, np.asarray(whole))


@pytest.mark.parametrize("model_class", (BetaGeo, ParetoNBD))
def test_boundary_fit_answers_with_its_nested_model(model_class: type) -> None:
    customers = nbd_customers()  # nobody leaves: the boundary fit, the NBD
    history = _history(customers)
    model = model_class().fit(*history)
    assert model.boundary_
    grid = model.expected_purchases_by_span(SPANS, *history)
    for row, span in zip(grid, SPANS, strict=True):
        assert np.array_equal(row, model.conditional_expected_purchases(span, *history))


def test_nbinom_sf_is_scipy_stats_exactly() -> None:
    rng = np.random.default_rng(11)
    k = np.concatenate([rng.integers(0, 10_000, 5000).astype(float), [-1.0, -0.5, 2.5, np.inf]])
    n = rng.uniform(0.01, 3000.0, len(k))
    p = rng.uniform(0.0, 1.0, len(k))
    n[:3], p[3:6] = [0.0, -1.0, np.nan], [0.0, 1.0, 1.5]
    k[6] = np.nan
    assert np.array_equal(nbinom_sf(k, n, p), stats.nbinom.sf(k, n, p), equal_nan=True)

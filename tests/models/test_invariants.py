"""Invariants that hold for every parameter value and every customer history (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.models import BetaGeo, GammaGamma, ModifiedBetaGeo

purchase_params = st.fixed_dictionaries(
    {
        "r": st.floats(0.05, 5.0),
        "alpha": st.floats(0.1, 200.0),
        "a": st.floats(0.05, 5.0),
        "b": st.floats(0.05, 10.0),
    }
)
spend_params = st.fixed_dictionaries(
    {"p": st.floats(0.5, 20.0), "q": st.floats(1.1, 20.0), "gamma": st.floats(0.5, 100.0)}
)


@st.composite
def histories(draw: st.DrawFn, max_frequency: int = 10_000) -> tuple[int, float, float]:
    """(frequency, recency, T): recency <= T, and recency 0 without repeat purchases."""
    frequency = draw(st.integers(0, max_frequency))
    age = draw(st.floats(0.0, 500.0))
    recency = draw(st.floats(0.0, 1.0)) * age if frequency else 0.0
    return frequency, recency, age


def purchase_model(params: dict[str, float], modified: bool) -> BetaGeo:
    model = ModifiedBetaGeo() if modified else BetaGeo()
    model.params_ = pd.Series(params)
    return model


@settings(max_examples=300, deadline=None)
@given(purchase_params, histories(), st.booleans())
def test_p_alive_is_a_probability(
    params: dict[str, float], history: tuple[int, float, float], modified: bool
) -> None:
    value = float(purchase_model(params, modified).p_alive(*history)[0])
    assert 0.0 <= value <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    purchase_params,
    histories(),
    st.booleans(),
    st.lists(st.floats(0.0, 1_000.0), min_size=2, max_size=6),
)
def test_expected_purchases_never_decrease_with_t(
    params: dict[str, float], history: tuple[int, float, float], modified: bool, times: list[float]
) -> None:
    model = purchase_model(params, modified)
    t = np.sort(np.array(times))
    new = np.asarray(model.expected_purchases(t))
    known = np.asarray(model.conditional_expected_purchases(t, *([v] * len(t) for v in history)))
    for values in (new, known):
        assert np.all(np.isfinite(values)) and values[0] >= 0.0
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1.0, values[1:]))


@settings(max_examples=150, deadline=None)
@given(purchase_params, spend_params, histories(2_000), st.floats(0.5, 5_000.0), st.booleans())
def test_clv_is_non_negative_and_grows_with_the_horizon(
    params: dict[str, float],
    spend: dict[str, float],
    history: tuple[int, float, float],
    monetary: float,
    modified: bool,
) -> None:
    model = purchase_model(params, modified)
    gamma_gamma = GammaGamma()
    gamma_gamma.params_ = pd.Series(spend)
    values = [
        float(
            gamma_gamma.clv(
                model, *history, monetary, horizon=h, discount_rate=0.01, time_unit=4.35
            )[0]
        )
        for h in (1, 2, 6, 12, 36)
    ]
    assert np.all(np.isfinite(values)) and values[0] >= 0.0
    assert np.all(np.diff(values) >= 0.0)


@settings(max_examples=100, deadline=None)
@given(purchase_params, histories(), st.floats(0.0, 500.0))
def test_probabilities_of_x_purchases_add_up_to_one(
    params: dict[str, float], history: tuple[int, float, float], t: float
) -> None:
    """P(X(t) = x) over x = 0 .. 5,000 sums to 1 minus a tail that the mean bounds (Markov)."""
    for modified in (False, True):
        model = purchase_model(params, modified)
        probabilities = np.asarray(model.p_purchases(np.arange(5_000), t))
        assert np.all((probabilities >= 0) & (probabilities <= 1 + 1e-12))
        mean = float(model.expected_purchases(t)[0])
        assert 1.0 - mean / 5_000 - 1e-9 <= probabilities.sum() <= 1.0 + 1e-9

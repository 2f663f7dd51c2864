"""A fitted model kept as JSON (tenure.models.state) scores exactly as the fitted one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tenure.models import NBD, BetaGeo, GammaGamma, ModelError, ModifiedBetaGeo
from tenure.models.state import model_from_state, model_state
from tests.models._simulate import simulate_bgnbd


def _data(seed: int = 1, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD customers with the CDNOW parameters (Fader, Hardie & Lee 2005, weeks)."""
    rng = np.random.default_rng(seed)
    df = simulate_bgnbd(rng, n, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    cols = [np.asarray(df[c], dtype=float) for c in ("frequency", "recency", "T")]
    return cols[0], cols[1], cols[2]


def _round_trip(model: object) -> object:
    return model_from_state(json.loads(json.dumps(model_state(model))))  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [BetaGeo, ModifiedBetaGeo, NBD])
def test_a_purchase_model_scores_the_same_after_json(cls: type) -> None:
    x, t_x, age = _data()
    fitted = cls().fit(x, t_x, age)
    again = _round_trip(fitted)
    assert type(again) is cls
    for h in (7.0, 90.0):
        np.testing.assert_array_equal(
            again.conditional_expected_purchases(h, x, t_x, age),
            fitted.conditional_expected_purchases(h, x, t_x, age),
        )
    np.testing.assert_array_equal(again.p_alive(x, t_x, age), fitted.p_alive(x, t_x, age))
    assert again.summary().equals(fitted.summary())


def test_a_boundary_fit_keeps_its_nested_model() -> None:
    """Buyers who never drop out: BG/NBD's boundary fit holds the NBD in ``nested_``."""
    rng = np.random.default_rng(3)
    n = 2000
    rate = rng.gamma(2.0, 1 / 20.0, n)
    age = rng.uniform(100.0, 300.0, n)
    x = rng.poisson(rate * age).astype(float)
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    fitted = BetaGeo().fit(x, t_x, age)
    again = _round_trip(fitted)
    assert again.boundary_ == fitted.boundary_
    assert type(again.nested_) is type(fitted.nested_)
    np.testing.assert_array_equal(
        again.conditional_expected_purchases(30.0, x, t_x, age),
        fitted.conditional_expected_purchases(30.0, x, t_x, age),
    )


def test_gamma_gamma_after_json() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 500).astype(float)
    m = rng.gamma(6.0, 8.0, 500)
    fitted = GammaGamma().fit(x, m)
    again = _round_trip(fitted)
    np.testing.assert_array_equal(
        again.conditional_expected_average_profit(x, m),
        fitted.conditional_expected_average_profit(x, m),
    )


def test_a_state_builds_only_tenure_estimators() -> None:
    with pytest.raises(ModelError, match=r"unknown estimator 'os\.system'"):
        model_from_state({"estimator": "os.system", "params": {}, "learned": {}})
    state = model_state(BetaGeo().fit(*_data()))
    state["learned"]["__class__"] = None
    with pytest.raises(ModelError, match="not a learned attribute"):
        model_from_state(state)

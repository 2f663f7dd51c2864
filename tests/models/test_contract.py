"""The estimator contract (STYLE.md) and the error messages, word for word."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from tenure.errors import ConfigError, TenureError
from tenure.models import (
    BetaGeo,
    ConvergenceError,
    GammaGamma,
    ModelDataError,
    ModifiedBetaGeo,
    NotFittedError,
)
from tenure.models.beta_geo import _pattern_data


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> BetaGeo:
    return BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_init_only_stores_arguments() -> None:
    model = BetaGeo(penalizer=-1, tol=0, max_iter="x")  # type: ignore[arg-type]
    assert vars(model) == {"penalizer": -1, "tol": 0, "max_iter": "x"}
    assert repr(BetaGeo()) == "BetaGeo(penalizer=0.0, tol=1e-08, max_iter=1000)"
    assert BetaGeo(penalizer=0.1).get_params() == {"penalizer": 0.1, "tol": 1e-8, "max_iter": 1000}


def test_fit_returns_self_and_learned_state_ends_in_underscore(cdnow: pd.DataFrame) -> None:
    model = ModifiedBetaGeo()
    assert model.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]) is model
    learned = {k for k in vars(model) if k not in model.get_params()}
    assert learned == {
        "params_",
        "standard_errors_",
        "covariance_",
        "log_likelihood_",
        "n_customers_",
        "aic_",
        "bic_",
        "boundary_",
        "nested_",
    }
    assert list(model.params_.index) == ["r", "alpha", "a", "b"]
    assert model.boundary_ is False and model.nested_ is None  # an interior fit


def test_refit_forgets_the_last_fit(cdnow: pd.DataFrame) -> None:
    model = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    with pytest.raises(ConvergenceError):
        model.fit([1] * 50, [5] * 50, [10] * 50)
    assert not hasattr(model, "params_")
    with pytest.raises(NotFittedError):
        model.p_alive(1, 1, 2)


def test_pickles_without_training_data(fitted: BetaGeo, cdnow: pd.DataFrame) -> None:
    blob = pickle.dumps(fitted)
    assert len(blob) < 5_000  # parameters and covariance only, not 2,357 customers
    copy = pickle.loads(blob)
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    pd.testing.assert_series_equal(copy.p_alive(*args), fitted.p_alive(*args))


def test_weights_give_the_same_fit_as_repeated_rows(cdnow: pd.DataFrame) -> None:
    patterns = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    assert len(patterns) < len(cdnow)
    weighted = BetaGeo().fit(
        patterns["frequency"], patterns["recency"], patterns["T"], weights=patterns["n"]
    )
    plain = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(weighted.params_, plain.params_, rtol=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    assert weighted.n_customers_ == 2357


def test_series_in_series_out(fitted: BetaGeo, cdnow: pd.DataFrame) -> None:
    alive = fitted.p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert isinstance(alive, pd.Series) and alive.index.equals(cdnow.index)
    assert isinstance(fitted.p_alive([1], [1], [2]), np.ndarray)


def test_penalizer_shrinks_the_parameters(cdnow: pd.DataFrame) -> None:
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    plain = BetaGeo().fit(*args)
    shrunk = BetaGeo(penalizer=0.01).fit(*args)
    assert (shrunk.params_**2).sum() < (plain.params_**2).sum()
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_analytic_gradients_match_finite_differences(cdnow: pd.DataFrame) -> None:
    columns = [cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T")]
    ones = np.ones(len(cdnow))
    repeaters = cdnow[cdnow["frequency"] > 0]
    spend = (repeaters["frequency"].to_numpy(float), repeaters["monetary"].to_numpy(float))
    cases = [
        (BetaGeo(), _pattern_data(columns, ones), ones),
        (ModifiedBetaGeo(), _pattern_data(columns, ones), ones),
        (GammaGamma(), spend, np.ones(len(repeaters))),
    ]
    for model, data, weights in cases:
        point = np.log(np.array([0.7, 3.0, 1.3, 2.2][: len(model._param_names)]))
        _, grad = model._neg_log_likelihood(point, data, weights)
        step = 1e-6
        numeric = [
            (
                model._neg_log_likelihood(point + step * e, data, weights)[0]
                - model._neg_log_likelihood(point - step * e, data, weights)[0]
            )
            / (2 * step)
            for e in np.eye(len(point))
        ]
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, err_msg=type(model).__name__)


# -- messages -----------------------------------------------------------------------------


def test_unfitted_message() -> None:
    with pytest.raises(NotFittedError) as info:
        BetaGeo().p_alive(1, 1, 2)
    assert str(info.value) == (
        "This BetaGeo instance is not fitted yet. Call 'fit' with appropriate arguments "
        "before using this model."
    )
    with pytest.raises(NotFittedError, match=r"^This GammaGamma instance is not fitted yet"):
        GammaGamma().summary()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"penalizer": -1},
            "The 'penalizer' parameter of BetaGeo must be a float in the range [0, inf). "
            "Got -1 instead.",
        ),
        (
            {"tol": 0},
            "The 'tol' parameter of BetaGeo must be a float in the range (0, inf). Got 0 instead.",
        ),
        (
            {"max_iter": 2.5},
            "The 'max_iter' parameter of BetaGeo must be an int in the range [1, inf). "
            "Got 2.5 instead.",
        ),
        (
            {"penalizer": True},
            "The 'penalizer' parameter of BetaGeo must be a float in the range [0, inf). "
            "Got True instead.",
        ),
    ],
)
def test_bad_parameter_messages(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        BetaGeo(**kwargs).fit([1, 0], [1, 0], [2, 2])  # type: ignore[arg-type]
    assert str(info.value) == message


RECENCY_HINT = (
    "Hint: recency is the age at the last repeat purchase and cannot exceed the age T; "
    "compute both from the same first purchase and the same end date."
)


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        (
            pd.Series([1, 2, 0], index=["ann", "bob", "cy"]),
            [3.0, 1.0, 0.0],
            [2.0, 2.0, 2.0],
            "BetaGeo.fit: 1 of 3 customers have recency greater than T (row ann).\n" + RECENCY_HINT,
        ),
        (
            [1] * 8,
            [9.0] * 8,
            [5.0] * 8,
            "BetaGeo.fit: 8 of 8 customers have recency greater than T "
            "(rows 0, 1, 2, 3, 4, ...).\n" + RECENCY_HINT,
        ),
        (
            [1, -1, 0],
            [1.0, 1.0, 0.0],
            [2.0, 2.0, -2.0],
            "BetaGeo.fit: 2 of 3 customers have a negative frequency, recency or T (rows 1, 2)."
            "\nHint: Counts and ages are measured forward from each customer's first purchase.",
        ),
        (
            [0, 1],
            [1.5, 1.0],
            [2.0, 2.0],
            "BetaGeo.fit: 1 of 2 customers have frequency 0 but recency above 0 (row 0).\n"
            "Hint: A customer without repeat purchases has recency 0 by convention.",
        ),
        (
            [1, np.nan],
            [1.0, 1.0],
            [np.inf, 2.0],
            "BetaGeo.fit: 2 of 2 customers have a missing or infinite frequency, recency or T "
            "(rows 0, 1).\nHint: Drop these rows or fill them from the order history.",
        ),
        (
            [1.5, 1],
            [1.0, 1.0],
            [2.0, 2.0],
            "BetaGeo.fit: 1 of 2 customers have a frequency that is not a whole number (row 0)."
            "\nHint: frequency counts repeat purchases (purchase days after the first one).",
        ),
        (
            [1, 1],
            [1.0],
            [2.0, 2.0],
            "BetaGeo.fit: the inputs must have the same length; got frequency 2, recency 1, T 2.",
        ),
        (
            [0, 0],
            [0.0, 0.0],
            [2.0, 3.0],
            "BetaGeo.fit: none of the 2 customers has a repeat purchase, so no purchase rate "
            "can be estimated.\nHint: Wait for more history, or use a longer calibration period.",
        ),
    ],
)
def test_data_error_messages(frequency: object, recency: object, T: object, message: str) -> None:
    with pytest.raises(ModelDataError) as info:
        BetaGeo().fit(frequency, recency, T)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert isinstance(info.value, TenureError) and not info.value.transient


def test_prediction_inputs_are_checked_too(fitted: BetaGeo) -> None:
    with pytest.raises(ModelDataError) as info:
        fitted.conditional_expected_purchases(-1, 1, 1.0, 2.0)
    assert str(info.value) == (
        "BetaGeo.conditional_expected_purchases: 1 of 1 customers have a negative or "
        "non-finite t (row 0).\nHint: t is a time span from now, in the unit the model was "
        "fitted in."
    )
    with pytest.raises(ModelDataError, match=r"^BetaGeo.p_alive: 1 of 2 customers have recency"):
        fitted.p_alive([1, 1], [1.0, 3.0], [2.0, 2.0])


def test_gamma_gamma_data_errors() -> None:
    with pytest.raises(ModelDataError) as info:
        GammaGamma().fit(pd.Series([2, 1, 3], index=[10, 11, 12]), [20.0, 0.0, -5.0])
    assert str(info.value) == (
        "GammaGamma.fit: 2 of 3 customers have a monetary value that is missing or <= 0 "
        "(rows 11, 12).\nHint: monetary_value is the mean value of the repeat purchases; drop "
        "free or fully refunded customers, or fix their values."
    )
    with pytest.raises(ModelDataError) as info:
        GammaGamma().fit([0, 1], [np.nan, 10.0])
    assert str(info.value) == (
        "GammaGamma.fit: 1 of 2 customers have frequency 0 (row 0).\nHint: Gamma-Gamma is "
        "fitted on customers with repeat purchases only (their monetary value is the mean "
        "repeat-purchase value); pass the rows with frequency > 0."
    )


HINT = (
    "Hint: Try BetaGeo(penalizer=0.001) (or larger) to keep the parameters finite, rescale "
    "time (weeks instead of days, so that T is in the tens or hundreds), or raise max_iter "
    "(now 1000)."
)


def test_convergence_error_says_what_to_try() -> None:
    """50 identical customers cannot identify four parameters: the search runs along a ridge
    (to the edge of the search space, or stops where the likelihood is flat)."""
    with pytest.raises(ConvergenceError) as info:
        BetaGeo().fit([1] * 50, [5.0] * 50, [10.0] * 50)
    first, hint = str(info.value).split("\n")
    assert first.startswith(("BetaGeo did not converge: ", "BetaGeo: the data do not pin down"))
    assert hint == HINT
    with pytest.raises(ConvergenceError, match=r"Try BetaGeo\(penalizer=0.01\)"):
        BetaGeo(penalizer=0.001).fit([1] * 50, [5.0] * 50, [10.0] * 50)


def test_flat_likelihood_message() -> None:
    with pytest.raises(ConvergenceError) as info:
        BetaGeo()._check_identified(np.diag([3.0, 1e-12, 2.0, 5.0]))
    assert str(info.value) == (
        "BetaGeo: the data do not pin down alpha; the log-likelihood is flat along that "
        "direction at the optimum (too few customers, or too few repeat purchases, to "
        "estimate every parameter).\n" + HINT
    )


def test_iteration_limit_is_a_convergence_error(cdnow: pd.DataFrame) -> None:
    with pytest.raises(ConvergenceError) as info:
        BetaGeo(max_iter=1).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    text = str(info.value)
    assert text.startswith("BetaGeo did not converge after 1 iterations (")
    assert text.endswith("or raise max_iter (now 1).")


def test_gamma_gamma_without_a_customer_to_fit() -> None:
    """Issue 11, item 6: every spend 0 leaves no customer, which divided by zero in the
    starting values (a ZeroDivisionError); now a ModelDataError says why."""
    with pytest.raises(ModelDataError) as info:
        GammaGamma().fit(np.array([]), np.array([]))
    assert str(info.value) == (
        "GammaGamma.fit: no customer to fit spend on: Gamma-Gamma needs customers with a "
        "repeat purchase of positive value (frequency > 0, monetary value > 0).\nHint: With "
        "every amount 0 (free orders, or order totals not imported) there is no spend to "
        "model: import the order amounts."
    )

"""BG/BB: the donation data against Fader, Hardie & Shang (2010) and Hardie's spreadsheet,
closed forms against sums, parameter recovery on simulated donors, invariants and errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from tenure.errors import ConfigError
from tenure.models.bgbb import BetaGeoBetaBinom, future_alive_sum, log_likelihood
from tenure.models.errors import ModelDataError, NotFittedError

DONATIONS = Path(__file__).parents[1] / "fixtures" / "donations.csv"
NAMES = ["alpha", "beta", "gamma", "delta"]


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    """11,104 first-time supporters of 1995, six yearly opportunities (1996-2001), as the 22
    (frequency, recency) patterns of FHS 2010 with their counts."""
    return pd.read_csv(DONATIONS)


@pytest.fixture(scope="module")
def fitted(donations: pd.DataFrame) -> BetaGeoBetaBinom:
    d = donations
    return BetaGeoBetaBinom().fit(d["frequency"], d["recency"], d["periods"], d["weights"])


def model_with(params: tuple[float, float, float, float]) -> BetaGeoBetaBinom:
    model = BetaGeoBetaBinom()
    model.params_ = pd.Series(params, index=NAMES)
    return model


def simulate(
    n: int, periods: int, params: tuple[float, float, float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Donors drawn from the BG/BB: p ~ Beta(alpha, beta), theta ~ Beta(gamma, delta)."""
    alpha, beta, gamma, delta = params
    p = rng.beta(alpha, beta, n)
    theta = rng.beta(gamma, delta, n)
    alive_for = rng.geometric(theta) - 1  # opportunities reached before leaving
    opportunity = np.arange(1, periods + 1)[None, :]
    buys = (rng.uniform(size=(n, periods)) < p[:, None]) & (opportunity <= alive_for[:, None])
    x = buys.sum(axis=1).astype(float)
    last = np.where(x > 0, periods - np.argmax(buys[:, ::-1], axis=1), 0).astype(float)
    return x, last, np.full(n, float(periods))


# -- the literature -----------------------------------------------------------------------------


def test_donations_match_fader_hardie_shang_2010(fitted: BetaGeoBetaBinom) -> None:
    """Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
    setting", Marketing Science 29(6), section 4, maximum-likelihood estimates of the BG/BB on
    the 1995 cohort (1996-2001 calibration): alpha = 1.204, beta = 0.750, gamma = 0.657,
    delta = 2.783, LL = -33,225.6."""
    paper = np.array([1.204, 0.750, 0.657, 2.783])
    assert fitted.params_.to_numpy() == pytest.approx(paper, rel=0.005)
    assert fitted.log_likelihood_ == pytest.approx(-33225.6, abs=0.1)
    assert fitted.n_customers_ == 11104
    assert fitted.bic_ == pytest.approx(4 * np.log(11104) - 2 * fitted.log_likelihood_)


def test_p_alive_matches_fhs_2010_table_6(fitted: BetaGeoBetaBinom) -> None:
    """FHS 2010, Table 6, P(alive in 2002) by recency and frequency: 0.11 for no repeat
    donation, 0.59 for 2 donations, the last in 1999, 0.93 for a donation every year."""
    alive = fitted.p_alive([0, 2, 6], [0, 4, 6], [6, 6, 6])
    assert alive == pytest.approx([0.11, 0.59, 0.93], abs=0.005)


def test_likelihood_matches_hardies_spreadsheet(fitted: BetaGeoBetaBinom) -> None:
    """Per-pattern log-likelihoods of Hardie's BG/BB spreadsheet (brucehardie.com/notes/010,
    sheet "Parameter estimates", evaluated at the MLE) for the 22 patterns of n = 6."""
    x = np.array([6, 5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 4, 3, 2, 1, 3, 2, 1, 2, 1, 1, 0.0])
    t_x = np.array([6, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 2, 2, 1, 0.0])
    sheet = [-2.18167018824, -4.29485034929, -5.38473334360, -5.80915881601, -5.65172964525]
    sheet += [-4.88370164695, -3.71682127437, -5.09558227343, -5.61576884108, -5.50636893346]
    sheet += [-4.76723821904, -3.84829625138, -5.05936147828, -5.19562191019, -4.57070931973]
    sheet += [-3.52745257839, -4.51620272962, -4.22465969453, -3.01199924784, -3.58817880928]
    sheet += [-2.28882847451, -1.16751622367]
    params = tuple(float(v) for v in fitted.params_)
    ll, _ = log_likelihood((params[0], params[1], params[2], params[3]), x, t_x, np.full(22, 6.0))
    assert ll == pytest.approx(sheet, abs=5e-5)


def test_predictions_match_hardies_spreadsheet(
    fitted: BetaGeoBetaBinom, donations: pd.DataFrame
) -> None:
    """Hardie's spreadsheet (notes/010): 12,884.2 donations expected from the cohort in
    2002-2006 ("Conditional expectations"), and 3,454.9 and 1,253.1 supporters expected with
    0 and 6 repeat donations in 1996-2001 ("In-sample fit", via P(X(n) = x))."""
    d = donations
    expected = fitted.conditional_expected_purchases(5, d["frequency"], d["recency"], d["periods"])
    assert float(expected @ d["weights"]) == pytest.approx(12884.2, abs=0.5)
    counts = fitted.p_purchases([0, 6], 6) * d["weights"].sum()
    assert counts == pytest.approx([3454.9, 1253.1], abs=0.1)


# -- numerics --------------------------------------------------------------------------------------


def test_gradient_equals_central_differences(fitted: BetaGeoBetaBinom) -> None:
    rng = np.random.default_rng(3)
    x, t_x, n = simulate(300, 12, (0.8, 1.5, 0.4, 3.0), rng)
    log_params = np.log(fitted.params_.to_numpy())
    model = BetaGeoBetaBinom()
    _, grad = model._neg_log_likelihood(log_params, (x, t_x, n), np.ones(300))
    step = 1e-6
    numeric = [
        (
            model._neg_log_likelihood(log_params + step * e, (x, t_x, n), np.ones(300))[0]
            - model._neg_log_likelihood(log_params - step * e, (x, t_x, n), np.ones(300))[0]
        )
        / (2 * step)
        for e in np.eye(4)
    ]
    assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_probabilities_add_up_and_match_the_mean(fitted: BetaGeoBetaBinom) -> None:
    """P(X(n) = x) sums to 1 over x = 0..n, and its mean is E[X(n)] (FHS 2010, eqs. 7-8)."""
    for n in (1, 6, 25):
        pmf = fitted.p_purchases(np.arange(n + 1), n)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.arange(n + 1) @ pmf == pytest.approx(fitted.expected_purchases(n)[0], rel=1e-12)
    assert fitted.p_purchases(7, 6)[0] == 0.0


@pytest.mark.parametrize("gamma", [0.4, 1.0 - 2e-4, 1.0 - 5e-5, 1.0, 1.0 + 5e-5, 2.5])
def test_future_alive_sum_is_the_sum_of_betas(gamma: float) -> None:
    """The closed form B(gamma-1, .) - B(gamma-1, .) has a pole at gamma = 1: it is summed
    term by term near it, and both agree with the sum everywhere."""
    n, horizon, delta = np.array([0.0, 6.0, 6.0]), np.array([5.0, 5.0, 40.0]), 2.783
    direct = [
        sum(
            np.exp(special.betaln(gamma, delta + m + j) - special.betaln(gamma, delta))
            for j in range(1, int(h) + 1)
        )
        for m, h in zip(n, horizon, strict=True)
    ]
    assert future_alive_sum(gamma, delta, n, horizon) == pytest.approx(direct, rel=1e-10)


# -- fitting ---------------------------------------------------------------------------------------


def test_weights_count_customers(donations: pd.DataFrame, fitted: BetaGeoBetaBinom) -> None:
    rows = donations.loc[donations.index.repeat(donations["weights"])]
    model = BetaGeoBetaBinom().fit(rows["frequency"], rows["recency"], rows["periods"])
    assert model.params_.to_numpy() == pytest.approx(fitted.params_.to_numpy(), rel=1e-6)
    assert model.log_likelihood_ == pytest.approx(fitted.log_likelihood_, abs=1e-6)


def test_parameter_recovery_at_the_nominal_rate() -> None:
    """60 simulated cohorts of 5,000 donors over 6 opportunities, from the FHS estimates (seed
    fixed): the 95% intervals hold the truth about 95% of the time (240 intervals)."""
    truth = (1.204, 0.750, 0.657, 2.783)
    rng = np.random.default_rng(20261123)
    covered = np.zeros(4)
    for _ in range(60):
        table = BetaGeoBetaBinom().fit(*simulate(5000, 6, truth, rng)).summary()
        covered += ((table["lower 95%"] <= truth) & (truth <= table["upper 95%"])).to_numpy()
    assert 0.90 <= covered.sum() / 240 <= 0.99
    assert covered.min() >= 48  # no parameter below 80%


def test_pickles_without_data(fitted: BetaGeoBetaBinom) -> None:
    again = pickle.loads(pickle.dumps(fitted))
    assert again.params_.equals(fitted.params_)
    assert again.summary().equals(fitted.summary())
    assert not [v for v in vars(fitted).values() if np.size(v) > 16 and not isinstance(v, str)]


# -- invariants ------------------------------------------------------------------------------------

params_strategy = st.tuples(
    st.floats(0.01, 50), st.floats(0.01, 50), st.floats(0.01, 50), st.floats(0.01, 50)
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(0, 60))
    t_x = draw(st.integers(0, n))
    x = draw(st.integers(1, t_x)) if t_x > 0 else 0
    return x, t_x, n


@settings(max_examples=200, deadline=None)
@given(params_strategy, histories())
def test_p_alive_is_a_probability(
    params: tuple[float, float, float, float], history: tuple[int, int, int]
) -> None:
    alive = model_with(params).p_alive(*history)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1 + 1e-12))


@settings(max_examples=200, deadline=None)
@given(params_strategy, histories(), st.integers(0, 40), st.integers(0, 40))
def test_expected_purchases_never_decrease_with_the_horizon(
    params: tuple[float, float, float, float], history: tuple[int, int, int], h1: int, h2: int
) -> None:
    model = model_with(params)
    short, long = sorted((h1, h2))
    new = model.expected_purchases([short, long])
    assert np.all(np.isfinite(new)) and 0 <= new[0] <= new[1] * (1 + 1e-12) + 1e-300
    x, t_x, n = history
    known = model.conditional_expected_purchases([short, long], [x, x], [t_x, t_x], [n, n])
    assert np.all(np.isfinite(known)) and 0 <= known[0] <= known[1] * (1 + 1e-12) + 1e-300


# -- errors ----------------------------------------------------------------------------------------


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError) as err:
        BetaGeoBetaBinom().expected_purchases(5)
    assert str(err.value) == (
        "This BetaGeoBetaBinom instance is not fitted yet. Call 'fit' with appropriate "
        "arguments before using this model."
    )


def test_bad_penalizer_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        BetaGeoBetaBinom(penalizer=-1).fit([0], [0], [6])
    assert str(err.value) == (
        "The 'penalizer' parameter of BetaGeoBetaBinom must be a float in the range [0, inf). "
        "Got -1 instead."
    )


@pytest.mark.parametrize(
    ("frequency", "recency", "n_periods", "message"),
    [
        (
            [1, 2, 0],
            [1, 7, 0],
            [6, 6, 6],
            "BetaGeoBetaBinom.fit: 1 of 3 customers have recency greater than n_periods (row 1).",
        ),
        (
            [1, 3, 2],
            [1, 2, 1],
            [6, 6, 6],
            "BetaGeoBetaBinom.fit: 2 of 3 customers have more repeat transactions than periods "
            "up to the last one (frequency > recency) (rows 1, 2).",
        ),
        (
            [1, 1, 0],
            [1.5, 2, 0],
            [6, 6, 6],
            "BetaGeoBetaBinom.fit: 1 of 3 customers have a recency or n_periods that is not a "
            "whole number (row 0).",
        ),
    ],
)
def test_bad_rows_are_counted_and_named(
    frequency: list[float], recency: list[float], n_periods: list[float], message: str
) -> None:
    with pytest.raises(ModelDataError) as err:
        BetaGeoBetaBinom().fit(frequency, recency, n_periods)
    assert err.value.message == message


def test_bad_horizon_is_named(fitted: BetaGeoBetaBinom) -> None:
    with pytest.raises(ModelDataError) as err:
        fitted.conditional_expected_purchases(2.5, 1, 1, 6)
    assert err.value.message == (
        "BetaGeoBetaBinom.conditional_expected_purchases: 1 of 1 customers have an n_future "
        "that is not a whole number >= 0 (row 0)."
    )


def test_no_repeat_transaction_is_a_data_error() -> None:
    with pytest.raises(ModelDataError) as err:
        BetaGeoBetaBinom().fit([0, 0, 0], [0, 0, 0], [6, 4, 6], weights=[10, 5, 1])
    assert err.value.message == (
        "BetaGeoBetaBinom.fit: none of the 16 customers has a repeat transaction, so no "
        "transaction probability can be estimated and the drop-out probability is not "
        "identified."
    )

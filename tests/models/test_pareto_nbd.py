"""Pareto/NBD: CDNOW against Fader, Hardie & Lee (2005), the likelihood against the integral it
comes from, the continued fraction against a 50-digit series, parameter recovery on simulated
customers, invariants, errors and speed."""

from __future__ import annotations

import pickle
import time
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from tenure.errors import ConfigError
from tenure.models._hyp2f1 import hyp2f1_one
from tenure.models._special import log_hyp2f1
from tenure.models.errors import ModelDataError, NotFittedError
from tenure.models.pareto_nbd import ParetoNBD, _pattern_data

NAMES = ["r", "alpha", "s", "beta"]
#: Parameter sets covering both branches of the likelihood (alpha >= beta, alpha < beta).
PARAM_SETS = [
    (0.55, 10.58, 0.61, 11.67),
    (0.55, 11.67, 0.61, 10.58),
    (2.0, 3.0, 0.3, 30.0),
    (0.3, 30.0, 2.0, 3.0),
    (0.8, 5.0, 0.8, 5.0),
]
HISTORIES = [
    (0, 0.0, 38.86),
    (2, 30.43, 38.86),
    (5, 38.0, 38.86),
    (1, 1.71, 38.86),
    (20, 10.0, 30.0),
]


def simulate(
    params: tuple[float, float, float, float], age: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from the Pareto/NBD, observed until their ``age`` (exact times)."""
    r, alpha, s, beta = params
    n = len(age)
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.gamma(s, 1.0 / beta, n)
    span = np.minimum(rng.exponential(1.0 / death), age)
    x = rng.poisson(rate * span).astype(float)
    # Given x purchases in (0, span], the last one is span * (max of x uniforms).
    last = np.where(x > 0, span * rng.uniform(size=n) ** (1.0 / np.maximum(x, 1.0)), 0.0)
    return x, last, age


def neg_ll(params: tuple[float, ...], x: float, t_x: float, age: float) -> tuple[float, np.ndarray]:
    """The fitter's objective for one customer, as a function of the parameters."""
    data = _pattern_data(np.array([x], float), np.array([t_x]), np.array([age]), np.ones(1))
    return ParetoNBD()._neg_log_likelihood(np.log(params), data, np.ones(1))


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> ParetoNBD:
    return ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


# -- the literature -----------------------------------------------------------------------------


def test_cdnow_matches_fader_hardie_lee_2005(fitted: ParetoNBD) -> None:
    """Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
    Pareto/NBD model", Marketing Science 24(2), Table 1 (Pareto/NBD column, CDNOW sample,
    39-week calibration): r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0."""
    paper = pd.Series([0.553, 10.578, 0.606, 11.669], index=NAMES)
    assert fitted.params_.to_numpy() == pytest.approx(paper.to_numpy(), rel=0.005)
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)
    assert fitted.n_customers_ == 2357
    assert fitted.aic_ == pytest.approx(8 - 2 * fitted.log_likelihood_)


def test_cdnow_standard_errors_match_clvtools(fitted: ParetoNBD) -> None:
    """Standard errors from the inverse Hessian equal those CLVTools (Bachmann, Meierer & Naef)
    pins in its Pareto/NBD correctness tests on the same data: 0.0476264, 0.8427222,
    0.1872594, 6.2105448. beta's is half its estimate: a flat ridge, as the literature notes."""
    clvtools = np.array([0.0476264, 0.8427222, 0.1872594, 6.2105448])
    assert fitted.standard_errors_.to_numpy() == pytest.approx(clvtools, rel=2e-3)
    table = fitted.summary()
    assert list(table.columns) == ["coef", "se", "lower 95%", "upper 95%"]
    assert (table["lower 95%"] < table["coef"]).all() and (table["coef"] < table["upper 95%"]).all()


def test_predictions_match_the_btyd_walkthrough(fitted: ParetoNBD) -> None:
    """BTYD's walkthrough vignette (Dziurzynski, Wadsworth & McCarthy), CDNOW: a customer with
    x = 26, t_x = 30.86, T = 31 is alive with probability 0.9979 at (0.5534, 10.5802, 0.6061,
    11.6562) and is expected to buy 25.46 times in the next 52 weeks at the fitted estimates."""
    assert fitted.conditional_expected_purchases(52, 26, 30.86, 31) == pytest.approx(
        25.46, abs=0.01
    )
    btyd = ParetoNBD()
    btyd.params_ = pd.Series([0.5534, 10.5802, 0.6061, 11.6562], index=NAMES)
    assert btyd.p_alive(26, 30.86, 31) == pytest.approx(0.9979, abs=2e-4)


# -- numerics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize(("x", "t_x", "age"), HISTORIES)
def test_likelihood_is_the_integral_it_comes_from(
    params: tuple[float, float, float, float], x: int, t_x: float, age: float
) -> None:
    """L = E[alive at T] + E[left in (t_x, T]] integrated over lambda and mu (Fader & Hardie 2005
    note, eq. 15), by quadrature; and the analytic gradient equals central differences."""
    r, alpha, s, beta = params

    def leaving(u: float) -> float:
        return float((alpha + u) ** -(r + x) * (beta + u) ** -(s + 1.0))

    between = integrate.quad(leaving, t_x, age, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    prefactor = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = (alpha + age) ** -(r + x) * (beta + age) ** -s
    value, grad = neg_ll(params, x, t_x, age)
    assert -value == pytest.approx(prefactor + np.log(alive + s * between), abs=1e-12)
    step = 1e-6
    numeric = [
        (
            neg_ll(params * np.exp(step * e), x, t_x, age)[0]
            - neg_ll(params * np.exp(-step * e), x, t_x, age)[0]
        )
        / (2 * step)
        for e in np.eye(4)
    ]
    assert grad == pytest.approx(numeric, abs=1e-7)


def test_branches_meet_at_alpha_equal_beta() -> None:
    """The alpha >= beta and alpha < beta forms agree where they meet, gradient included."""
    below = neg_ll((0.7, 8.0 * (1 - 1e-10), 1.3, 8.0), 3, 12.0, 40.0)
    above = neg_ll((0.7, 8.0 * (1 + 1e-10), 1.3, 8.0), 3, 12.0, 40.0)
    assert below[0] == pytest.approx(above[0], abs=1e-9)
    assert below[1] == pytest.approx(above[1], abs=1e-8)


def _series(p: Decimal, c: Decimal, z: Decimal) -> Decimal:
    """2F1(1, p; c; z) from its power series in 50-digit decimals."""
    term = total = Decimal(1)
    n = 0
    while term > total * Decimal("1e-40"):
        term = term * (p + n) / (c + n) * z
        total += term
        n += 1
    return total


@pytest.mark.parametrize(
    ("p", "c", "z"),
    [
        # z <= 0.5: by the power series.
        (0.5, 2.1, 0.3),
        (0.55, 2.16, 0.02),
        (30.0, 31.6, 0.45),
        (1e4, 10040.0, 0.2),
        (0.01, 1.02, 1e-12),
        # 0.5 < z <= 0.99: by continued fraction.
        (0.55, 2.16, 0.9),
        (1.6, 3.2, 0.99),
        (2000.5, 2002.1, 0.5),
        (1.61, 3000.0, 0.7),
        (0.1, 1.2, 0.999),
        (5.0, 6.0, 0.0),
        (3.0, 1e4, 0.95),
        (0.01, 1.02, 0.5),
        # 1 - z < 0.01: by quadrature (the last two: where s, beta run off to infinity).
        (0.55, 2.16, 0.995),
        (0.3, 1.4, 0.999),
        (1e4, 10040.0, 1 - 1e-6),
        (2000.0, 2300.0, 1 - 1e-9),
    ],
)
def test_hypergeometric_matches_a_50_digit_series(p: float, c: float, z: float) -> None:
    """G = 2F1(1, p; c; z) and its three partial derivatives, by continued fraction or (near
    z = 1) quadrature (derivatives of the reference by central differences with a 1e-15 step in
    50-digit arithmetic, so exact to ~1e-28)."""
    with localcontext() as ctx:
        ctx.prec = 50
        dp, dc, dz, h = Decimal(p), Decimal(c), Decimal(z), Decimal("1e-15")
        want = [_series(dp, dc, dz)]
        for i in range(3):
            up = [dp, dc, dz]
            down = [dp, dc, dz]
            up[i] += h
            down[i] -= h
            want.append((_series(*up) - _series(*down)) / (2 * h))
    got = hyp2f1_one(p, c, z)
    for value, reference in zip(got, want, strict=True):
        assert float(value) == pytest.approx(float(reference), rel=1e-12, abs=1e-14)


def test_hypergeometric_paths_agree_in_one_batch() -> None:
    """One call mixing series (z <= 0.5), continued fraction and quadrature (z near 1) and
    invalid points gives each element what it gets alone; series and fraction agree where
    they meet."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 40.0, 60)
    c = p + 1.0 + rng.uniform(0.05, 3.0, 60)
    z = np.concatenate([rng.uniform(0.0, 0.5, 30), rng.uniform(0.5, 0.999, 28), [1.0, -0.1]])
    together = np.array(hyp2f1_one(p, c, z))
    alone = np.array([hyp2f1_one(*v) for v in zip(p, c, z, strict=True)]).T
    assert np.isnan(together[:, -2:]).all()
    assert together[:, :-2] == pytest.approx(alone[:, :-2], rel=1e-13)
    edge = np.array(hyp2f1_one([0.7, 25.0], [2.3, 27.0], 0.5))
    above = np.array(hyp2f1_one([0.7, 25.0], [2.3, 27.0], 0.5 + 1e-15))
    assert edge == pytest.approx(above, rel=1e-12)


def test_thousands_of_purchases_stay_finite() -> None:
    """scipy's hyp2f1 overflows past ~2,000 purchases (ENGINE_NOTES.md); here the likelihood
    agrees with the note's untransformed formula evaluated by the 60-digit-checked log 2F1, and
    the predictions stay finite and in range."""
    r, alpha, s, beta = 0.55, 10.58, 0.61, 11.67
    x, t_x, age = 5000.0, 99.0, 100.0
    value, grad = neg_ll((r, alpha, s, beta), x, t_x, age)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    a = (
        r + s + x
    )  # note, eq. 23 (alpha < beta): 2F1(a, r+x; a+1; (beta-alpha)/(beta+t)) / (beta+t)^a
    ends = [
        log_hyp2f1(a, r + x, a + 1, (beta - alpha) / (beta + t)) - a * np.log(beta + t)
        for t in (t_x, age)
    ]
    log_a0 = ends[0] + np.log(-np.expm1(ends[1] - ends[0]))
    log_alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    prefactor = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    note = prefactor + np.logaddexp(log_alive, np.log(s / a) + log_a0)
    assert -value == pytest.approx(float(note), rel=1e-10)
    model = ParetoNBD()
    model.params_ = pd.Series([r, alpha, s, beta], index=NAMES)
    # ~50 purchases a week: a silent week means gone, a silent hour does not.
    alive = model.p_alive([x, x, x, 0.0], [t_x, age - 1e-3, age, 0.0], [age, age, age, 1e5])
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[0] < 1e-12 and alive[1] > 0.9 and alive[2] == 1.0 and 0 < alive[3] < 1e-4
    expected = model.conditional_expected_purchases(10.0, x, age, age)
    assert 0.9 * 10.0 * (r + x) / (alpha + age) < expected[0] < 10.0 * (r + x) / (alpha + age)


# -- fitting ---------------------------------------------------------------------------------------


def test_weights_count_customers(cdnow: pd.DataFrame) -> None:
    """A table of distinct rows with weights fits exactly as the customers themselves."""
    table = cdnow.groupby(["frequency", "recency", "T"]).size().rename("weights").reset_index()
    model = ParetoNBD().fit(table["frequency"], table["recency"], table["T"], table["weights"])
    again = ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert model.params_.to_numpy() == pytest.approx(again.params_.to_numpy(), rel=1e-6)
    assert model.log_likelihood_ == pytest.approx(again.log_likelihood_, abs=1e-6)
    assert model.n_customers_ == again.n_customers_ == len(cdnow)


def test_parameter_recovery_at_the_nominal_rate() -> None:
    """30 simulated stores of 2,000 customers from known parameters (seed fixed): the 95%
    intervals hold the truth about 95% of the time (120 intervals; 0.95 +- 3 sd)."""
    truth = (0.55, 10.58, 0.61, 11.67)
    rng = np.random.default_rng(20261123)
    covered = np.zeros(4)
    for _ in range(30):
        table = ParetoNBD().fit(*simulate(truth, rng.uniform(20.0, 52.0, 2000), rng)).summary()
        covered += ((table["lower 95%"] <= truth) & (truth <= table["upper 95%"])).to_numpy()
    assert 0.88 <= covered.sum() / 120 <= 1.0 - 1 / 120
    assert covered.min() >= 24  # no parameter below 80%


def test_fit_is_fast_on_100k_customers_in_whole_days() -> None:
    """100,000 customers acquired over a year, purchase days in whole days (weeks = days / 7):
    the likelihood runs on distinct (x, t) pairs, so the fit takes a fraction of a second on an
    idle machine (a loose bound here against pathologies; bench/ measures it properly)."""
    rng = np.random.default_rng(5)
    days = rng.integers(1, 365, 100_000).astype(float)
    x, last, _ = simulate((0.55, 10.58, 0.61, 11.67), days / 7.0, rng)
    recency = np.where(x > 0, np.clip(np.ceil(last * 7.0), 1.0, days), 0.0) / 7.0
    start = time.perf_counter()
    model = ParetoNBD().fit(x, recency, days / 7.0)
    assert time.perf_counter() - start < 15.0
    assert model.params_.to_numpy() == pytest.approx([0.55, 10.58, 0.61, 11.67], rel=0.25)


def test_likelihood_tends_to_exponential_lifetimes_as_s_and_beta_grow() -> None:
    """With s, beta -> inf and s/beta = mu fixed every customer leaves at rate mu, and the
    likelihood tends to Gamma(r+x)/Gamma(r) alpha^r [(alpha+T)^-(r+x) e^(-mu T)
    + mu int_{t_x}^T (alpha+u)^-(r+x) e^(-mu u) du] (error O(1/s)). That is where a fit without
    dropout heterogeneity goes, with beta/alpha ~ 1e8: there the hypergeometric is integrated
    (a continued fraction would need ~1e5 levels), so an evaluation stays quick and exact."""
    r, alpha, mu, s = 0.5, 5.0, 0.05, 1e8
    rng = np.random.default_rng(11)
    age = rng.uniform(20.0, 52.0, 2000)
    x = rng.poisson(rng.gamma(r, 1.0 / alpha, 2000) * age * 0.5).astype(float)
    t_x = np.where(x > 0, age * rng.uniform(size=2000), 0.0)
    data = _pattern_data(x, t_x, age, np.ones(2000))
    start = time.perf_counter()
    value, grad = ParetoNBD()._neg_log_likelihood(
        np.log([r, alpha, s, s / mu]), data, np.ones(2000)
    )
    assert time.perf_counter() - start < 5.0 and np.all(np.isfinite(grad))
    limit = 0.0
    for xi, ti, ai in zip(x[:50], t_x[:50], age[:50], strict=True):
        between = integrate.quad(
            lambda u, xi=xi: (alpha + u) ** -(r + xi) * np.exp(-mu * u), ti, ai, epsrel=1e-12
        )[0]
        alive = (alpha + ai) ** -(r + xi) * np.exp(-mu * ai)
        limit += special.gammaln(r + xi) - special.gammaln(r) + r * np.log(alpha)
        limit += np.log(alive + mu * between)
    head = _pattern_data(x[:50], t_x[:50], age[:50], np.ones(50))
    value, _ = ParetoNBD()._neg_log_likelihood(np.log([r, alpha, s, s / mu]), head, np.ones(50))
    assert -value == pytest.approx(limit, abs=1e-5)


def test_refit_forgets_and_pickles_without_data(fitted: ParetoNBD, cdnow: pd.DataFrame) -> None:
    again = pickle.loads(pickle.dumps(fitted))
    assert again.params_.equals(fitted.params_)
    assert not [v for v in vars(fitted).values() if np.size(v) > 16 and not isinstance(v, str)]
    model = ParetoNBD().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    part = cdnow.iloc[:500]
    model.fit(part["frequency"], part["recency"], part["T"])
    assert model.n_customers_ == 500
    assert model.params_.to_numpy() != pytest.approx(fitted.params_.to_numpy(), rel=1e-3)


# -- predictions and invariants ------------------------------------------------------------------

params_strategy = st.tuples(
    st.floats(0.05, 20), st.floats(0.01, 1000), st.floats(0.05, 20), st.floats(0.01, 1000)
)


def model_with(params: tuple[float, float, float, float]) -> ParetoNBD:
    model = ParetoNBD()
    model.params_ = pd.Series(params, index=NAMES)
    return model


@settings(max_examples=200, deadline=None)
@given(params_strategy, st.integers(0, 3000), st.floats(0, 1), st.floats(0, 500))
def test_p_alive_is_a_probability(
    params: tuple[float, float, float, float], x: int, share: float, age: float
) -> None:
    t_x = share * age if x > 0 else 0.0
    alive = model_with(params).p_alive(x, t_x, age)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))


@settings(max_examples=200, deadline=None)
@given(
    params_strategy,
    st.integers(0, 500),
    st.floats(0, 1),
    st.floats(0, 300),
    st.floats(0, 200),
    st.floats(0, 200),
)
def test_expected_purchases_never_decrease_with_t(
    params: tuple[float, float, float, float],
    x: int,
    share: float,
    age: float,
    t1: float,
    t2: float,
) -> None:
    model = model_with(params)
    short, long = sorted((t1, t2))
    new = model.expected_purchases([short, long])
    assert np.all(np.isfinite(new)) and 0 <= new[0] <= new[1] * (1 + 1e-12)
    t_x = share * age if x > 0 else 0.0
    known = model.conditional_expected_purchases(
        np.array([short, long]), [x, x], [t_x, t_x], [age, age]
    )
    assert np.all(np.isfinite(known)) and 0 <= known[0] <= known[1] * (1 + 1e-12)


def test_expected_purchases_of_a_new_customer(fitted: ParetoNBD) -> None:
    """E[X(t)] = r beta/(alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] (note, eq. 17), continuous
    through s = 1 (where it is r beta/alpha log(1 + t/beta)); Series in, Series out."""
    r, alpha, s, beta = fitted.params_
    t = pd.Series([0.0, 39.0, 78.0], index=["now", "39w", "78w"])
    formula = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    got = fitted.expected_purchases(t)
    assert isinstance(got, pd.Series) and list(got.index) == list(t.index)
    assert got.to_numpy() == pytest.approx(formula.to_numpy(), rel=1e-12)
    near_one = model_with((r, alpha, 1.0 + 1e-12, beta)).expected_purchases(39.0)
    assert near_one == pytest.approx(r * beta / alpha * np.log1p(39.0 / beta), rel=1e-9)


# -- errors ----------------------------------------------------------------------------------------


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError) as err:
        ParetoNBD().p_alive(1, 1, 2)
    assert str(err.value) == (
        "This ParetoNBD instance is not fitted yet. Call 'fit' with appropriate arguments "
        "before using this model."
    )


def test_bad_penalizer_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        ParetoNBD(penalizer=-1).fit([0], [0], [1])
    assert str(err.value) == (
        "The 'penalizer' parameter of ParetoNBD must be a float in the range [0, inf). "
        "Got -1 instead."
    )


def test_bad_rows_are_counted_and_named() -> None:
    frequency = pd.Series([1, 2, 0, 3], index=["ann", "bob", "cy", "dee"])
    with pytest.raises(ModelDataError) as err:
        ParetoNBD().fit(frequency, [1, 5, 0, 7], [2, 4, 3, 6])
    assert err.value.message == (
        "ParetoNBD.fit: 2 of 4 customers have recency greater than T (rows bob, dee)."
    )
    with pytest.raises(ModelDataError) as err:
        model_with(PARAM_SETS[0]).conditional_expected_purchases(-1.0, 1, 1, 2)
    assert err.value.message == (
        "ParetoNBD.conditional_expected_purchases: 1 of 1 customers have a negative or "
        "non-finite t (row 0)."
    )

"""The prediction API completed for every purchase model (issue 5): Pareto/NBD's P(X(t) = x)
and time to the next purchase, BG/BB's time to the next transaction, and the fit guard for
data without repeat buyers. Each is checked against an independent computation (the defining
integral by adaptive quadrature, the note's closed form in 60-digit 2F1s, Monte Carlo
simulation, brute-force sums), CLVTools' documented example, and hypothesis invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

import tests.models.conftest as cdnow_data
from tenure.models import BetaGeo
from tenure.models.bgbb import BetaGeoBetaBinom
from tenure.models.errors import ModelDataError
from tenure.models.pareto_nbd import ParetoNBD
from tests.models._reference import hyp2f1_reference
from tests.models.test_pareto_nbd import PARAM_SETS, model_with, simulate

CDNOW_PNBD = (0.553, 10.578, 0.606, 11.669)  # FHL 2005, Table 1
DONATIONS_BGBB = (1.204, 0.750, 0.657, 2.783)  # FHS 2010
BGBB_NAMES = ["alpha", "beta", "gamma", "delta"]


def bgbb_with(params: tuple[float, float, float, float]) -> BetaGeoBetaBinom:
    model = BetaGeoBetaBinom()
    model.params_ = pd.Series(params, index=BGBB_NAMES)
    return model


def pnbd_pmf_by_quad(params: tuple[float, float, float, float], x: int, t: float) -> float:
    """P(X(t) = x) from its definition, with QUADPACK in tau (the model integrates in log tau
    with fixed Gauss-Legendre panels): NB(x; t) S(t) + int_0^t NB(x; tau) f(tau) dtau."""
    r, alpha, s, beta = params
    log_c = special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)

    def nb(tau: float) -> float:
        return (
            float(np.exp(log_c + special.xlogy(x, tau / (alpha + tau))))
            * (alpha / (alpha + tau)) ** r
        )

    def lifetime_density(tau: float) -> float:
        return s / beta * (beta / (beta + tau)) ** (s + 1)

    peak = [alpha * x / r] if 0 < alpha * x / r < t else None
    left, _ = integrate.quad(
        lambda tau: nb(tau) * lifetime_density(tau), 0, t, points=peak, epsabs=0,
        epsrel=1e-13, limit=500,
    )  # fmt: skip
    return nb(t) * (beta / (beta + t)) ** s + left


def pnbd_pmf_note_012(params: tuple[float, float, float, float], x: int, t: float) -> float:
    """Fader, Hardie & Lee (2006), "Deriving an expression for P(X(t) = x) under the
    Pareto/NBD model" (brucehardie.com note 012), the closed form, with each 2F1 summed in
    60-digit decimals: NB(x; t) S(t) + alpha^r beta^s B(r+x, s+1)/B(r, s)
    [B1 - sum_{i=0}^{x} Gamma(r+s+i)/(Gamma(r+s) i!) t^i B2(i)]."""
    r, alpha, s, beta = params
    if alpha >= beta:
        big, second = alpha, s + 1.0
    else:
        big, second = beta, r + x
    gap = abs(alpha - beta)
    c = r + s + x + 1.0
    b1 = hyp2f1_reference(r + s, second, c, gap / big) / big ** (r + s)
    tail = 0.0
    for i in range(x + 1):
        log_w = special.gammaln(r + s + i) - special.gammaln(r + s) - special.gammaln(i + 1)
        log_w += i * np.log(t) - (r + s + i) * np.log(big + t)
        tail += np.exp(log_w) * hyp2f1_reference(r + s + i, second, c, gap / (big + t))
    weight = alpha**r * beta**s * np.exp(special.betaln(r + x, s + 1) - special.betaln(r, s))
    log_nb = special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
    log_nb += r * np.log(alpha / (alpha + t)) + x * np.log(t / (alpha + t))
    return float(np.exp(log_nb) * (beta / (beta + t)) ** s + weight * (b1 - tail))


# -- Pareto/NBD: P(X(t) = x) ----------------------------------------------------------------------


@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize("t", [0.5, 39.0, 260.0])
def test_pareto_pmf_is_the_integral_it_comes_from(
    params: tuple[float, float, float, float], t: float
) -> None:
    x = np.array([0, 1, 2, 5, 12, 40])
    got = model_with(params).p_purchases(x, t)
    expected = [pnbd_pmf_by_quad(params, int(k), t) for k in x]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("params", PARAM_SETS)
def test_pareto_pmf_matches_the_closed_form_of_note_012(
    params: tuple[float, float, float, float],
) -> None:
    """Both branches of the note (alpha >= beta and alpha < beta)."""
    x = np.arange(0, 9)
    got = model_with(params).p_purchases(x, 39.0)
    expected = [pnbd_pmf_note_012(params, int(k), 39.0) for k in x]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0, 156.0])
def test_pareto_pmf_adds_up_to_one_and_to_the_mean(t: float) -> None:
    """sum_x P(X(t) = x) = 1 and sum_x x P(X(t) = x) = E[X(t)] (note 009, eq. 17); past
    x = 1,500 the terms are below 1e-40 at these t."""
    model = model_with(CDNOW_PNBD)
    x = np.arange(1_500)
    pmf = np.asarray(model.p_purchases(x, t))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert np.sum(x * pmf) == pytest.approx(float(model.expected_purchases(t)[0]), rel=1e-10)


def test_pareto_pmf_matches_a_simulation() -> None:
    """200,000 new customers drawn from known parameters and watched for t = 39: the share
    with x repeat purchases is within 4 standard errors of P(X(39) = x)."""
    rng = np.random.default_rng(2024)
    n, t = 200_000, 39.0
    x, _, _ = simulate(CDNOW_PNBD, np.full(n, t), rng)
    shares = np.bincount(x.astype(int), minlength=8)[:8] / n
    pmf = np.asarray(model_with(CDNOW_PNBD).p_purchases(np.arange(8), t))
    error = np.sqrt(pmf * (1 - pmf) / n)
    assert np.all(np.abs(shares - pmf) < 4 * error)


def test_pareto_pmf_matches_the_clvtools_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLVTools' ``pmf`` help page (Bachmann, Meierer & Naef): Pareto/NBD fitted on CDNOW
    with a 37-week calibration (to 1997-09-17), mean over customers of P(X(T_i) = x):
    0.616514, 0.168309, 0.080971, 0.046190, 0.028566, 0.018506, 0.012351 for x = 0..6, next
    to the actual shares 1432, 436, 208, 100, 60, 36, 27 of 2357. The actual counts match
    exactly; the probabilities to 2e-5 (the fits' optimisers stop at slightly different
    points of a flat likelihood)."""
    monkeypatch.setattr(cdnow_data, "CALIBRATION_END", pd.Timestamp("1997-09-17"))
    data = cdnow_data.cdnow_calibration()
    counts = data["frequency"].value_counts().sort_index()
    assert counts.iloc[:7].tolist() == [1432, 436, 208, 100, 60, 36, 27]
    model = ParetoNBD().fit(data["frequency"], data["recency"], data["T"])
    ages = data["T"].to_numpy()
    means = [float(np.mean(model.p_purchases(x, ages))) for x in range(7)]
    clvtools = [0.616514, 0.168309, 0.080971, 0.046190, 0.028566, 0.018506, 0.012351]
    np.testing.assert_allclose(means, clvtools, atol=3e-5)


def test_pareto_pmf_for_heavy_buyers_and_extreme_parameters() -> None:
    """Thousands of purchases, nearly homogeneous rates (r, s in the millions: purchases
    before leaving are geometric with p = 1/2 at equal rates), and a zero horizon."""
    model = model_with(CDNOW_PNBD)
    heavy = np.asarray(model.p_purchases([2_000, 5_000], 2_000.0))
    expected = [pnbd_pmf_by_quad(CDNOW_PNBD, 2_000, 2_000.0), 0.0]
    assert np.all(np.isfinite(heavy)) and heavy[0] == pytest.approx(expected[0], rel=1e-9)
    assert heavy[1] == pytest.approx(pnbd_pmf_by_quad(CDNOW_PNBD, 5_000, 2_000.0), rel=1e-8)
    homogeneous = model_with((5e6, 1e6, 5e6, 1e6))  # lambda = mu = 5
    pmf = np.asarray(homogeneous.p_purchases(np.arange(4), 1e4))
    np.testing.assert_allclose(pmf, 0.5 ** np.arange(1, 5), rtol=1e-5)
    assert model.p_purchases([0, 1, 3], 0.0).tolist() == [1.0, 0.0, 0.0]


def test_pareto_pmf_keeps_the_index_and_checks_x() -> None:
    model = model_with(CDNOW_PNBD)
    x = pd.Series([0, 1, 2], index=["none", "one", "two"])
    got = model.p_purchases(x, 39.0)
    assert isinstance(got, pd.Series) and list(got.index) == ["none", "one", "two"]
    with pytest.raises(ModelDataError) as err:
        model.p_purchases([1, 1.5, -1], 39.0)
    assert str(err.value) == (
        "ParetoNBD.p_purchases: 2 of 3 customers have an x that is not a whole number >= 0 "
        "(rows 1, 2).\nHint: x counts repeat purchases."
    )


pareto_params = st.tuples(
    st.floats(0.05, 20), st.floats(0.01, 1000), st.floats(0.05, 20), st.floats(0.01, 1000)
)


@settings(max_examples=40, deadline=None)
@given(pareto_params, st.floats(0.0, 500.0), st.lists(st.integers(0, 5_000), max_size=20))
def test_pareto_pmf_is_a_probability(
    params: tuple[float, float, float, float], t: float, counts: list[int]
) -> None:
    """0 <= P <= 1 everywhere, and the first 400 values never add up to more than 1."""
    model = model_with(params)
    pmf = np.asarray(model.p_purchases(np.array([*counts, *range(400)]), t))
    assert np.all(np.isfinite(pmf)) and np.all((pmf >= 0) & (pmf <= 1))
    assert pmf[len(counts) :].sum() <= 1.0 + 1e-9


# -- expected time to the next purchase -----------------------------------------------------------


def test_pareto_time_to_next_purchase_is_the_median_wait_of_an_alive_customer() -> None:
    """The same definition as BetaGeo's: P(W > w | alive) = ((alpha+T)/(alpha+T+w))^(r+x)
    is 1/2 at the returned w, and equals BetaGeo's for the same r and alpha."""
    r, alpha = CDNOW_PNBD[:2]
    model = model_with(CDNOW_PNBD)
    frequency, age = np.array([0, 2, 10, 5_000]), np.array([38.86, 38.86, 38.86, 38.86])
    recency = np.array([0.0, 30.43, 38.0, 38.8])
    wait = model.expected_time_to_next_purchase(frequency, recency, age)
    survival = ((alpha + age) / (alpha + age + wait)) ** (r + frequency)
    np.testing.assert_allclose(survival, 0.5, rtol=1e-12)
    assert np.all(np.diff(wait) < 0)
    bg = BetaGeo()
    bg.params_ = pd.Series({"r": r, "alpha": alpha, "a": 1.0, "b": 2.0})
    same = bg.expected_time_to_next_purchase(frequency, recency, age)
    np.testing.assert_allclose(wait, same, rtol=1e-15)


@pytest.mark.parametrize("x", [0, 2])
def test_pareto_time_to_next_purchase_matches_a_simulation(x: int) -> None:
    """Customers drawn from known parameters and alive at T = 39 with x repeat purchases:
    the median of their next wait (an exponential at their own rate, had they stayed) is the
    returned value, within 4 standard errors of a sample median, 1 / (2 f(m) sqrt(n))."""
    r, alpha, s, beta = CDNOW_PNBD
    rng = np.random.default_rng(7)
    n, age = 400_000, 39.0
    rate = rng.gamma(r, 1.0 / alpha, n)
    death = rng.exponential(1.0 / rng.gamma(s, 1.0 / beta, n))
    count = rng.poisson(rate * age)
    chosen = (death > age) & (count == x)
    waits = rng.exponential(1.0 / rate[chosen])
    median = float(model_with(CDNOW_PNBD).expected_time_to_next_purchase(x, 0.0 + x, age)[0])
    scale, shape = alpha + age, r + x
    density = shape / scale * (scale / (scale + median)) ** (shape + 1)
    error = 1.0 / (2.0 * density * np.sqrt(chosen.sum()))
    assert abs(np.median(waits) - median) < 4 * error


def bgbb_median_by_sums(params: tuple[float, float, float, float], x: int, n: int) -> int:
    """The first w with P(W <= w) >= 1/2, adding P(W = j) = B(a+1, b+j-1)/B(a, b) term by term
    (a = alpha+x, b = beta+n-x)."""
    a, b = params[0] + x, params[1] + n - x
    total, j = 0.0, 0
    while total < 0.5:
        j += 1
        total += np.exp(special.betaln(a + 1, b + j - 1) - special.betaln(a, b))
    return j


@pytest.mark.parametrize(
    ("x", "t_x", "n"), [(0, 0, 6), (1, 1, 6), (3, 5, 6), (6, 6, 6), (0, 0, 1), (2, 3, 20)]
)
@pytest.mark.parametrize("params", [DONATIONS_BGBB, (0.3, 4.0, 0.5, 3.0), (40.0, 2.0, 1.0, 9.0)])
def test_bgbb_time_to_next_transaction_is_the_median_wait(
    params: tuple[float, float, float, float], x: int, t_x: int, n: int
) -> None:
    got = bgbb_with(params).expected_time_to_next_purchase(x, t_x, n)
    assert float(got[0]) == bgbb_median_by_sums(params, x, n)


def test_bgbb_time_to_next_transaction_on_the_donations() -> None:
    """The 1995 donors (FHS 2010 parameters): a donor who gave in all six years is expected
    back next year, one who gave once, in 1996, in three years, one who never gave again in
    six; a Series keeps its index."""
    model = bgbb_with(DONATIONS_BGBB)
    frequency = pd.Series([6, 1, 0], index=["every year", "once", "never"])
    got = model.expected_time_to_next_purchase(frequency, [6, 1, 0], [6, 6, 6])
    assert isinstance(got, pd.Series) and got.index.equals(frequency.index)
    assert got.tolist() == [1.0, 3.0, 6.0]
    with pytest.raises(ModelDataError, match="frequency > recency"):
        model.expected_time_to_next_purchase([2], [1], [6])


def test_bgbb_time_to_next_transaction_can_be_beyond_reach() -> None:
    """With a transaction probability almost surely 0 (alpha = 1e-9, no transaction yet), the
    median wait exceeds 1e300 periods: infinite."""
    got = bgbb_with((1e-9, 0.75, 0.657, 2.783)).expected_time_to_next_purchase(
        [0, 1], [0, 1], [3, 3]
    )
    assert got[0] == np.inf and got[1] == bgbb_median_by_sums((1e-9, 0.75, 0, 0), 1, 3)


@settings(max_examples=150, deadline=None)
@given(
    pareto_params,
    st.integers(0, 3_000),
    st.floats(0, 1),
    st.floats(0, 500),
    st.tuples(st.floats(0.05, 20), st.floats(0.05, 20), st.floats(0.05, 20), st.floats(0.05, 20)),
    st.integers(0, 30),
    st.data(),
)
def test_time_to_next_purchase_is_positive_and_finite(
    params: tuple[float, float, float, float],
    x: int,
    share: float,
    age: float,
    bgbb_params: tuple[float, float, float, float],
    periods: int,
    data: st.DataObject,
) -> None:
    t_x = share * age if x > 0 else 0.0
    wait = float(model_with(params).expected_time_to_next_purchase(x, t_x, age)[0])
    assert np.isfinite(wait) and wait > 0
    bx = data.draw(st.integers(0, periods))
    last = data.draw(st.integers(bx, periods)) if bx > 0 else 0
    opportunities = float(
        bgbb_with(bgbb_params).expected_time_to_next_purchase(bx, last, periods)[0]
    )
    assert np.isfinite(opportunities) and opportunities >= 1
    assert opportunities == float(np.ceil(opportunities))


# -- no repeat buyers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            ParetoNBD(),
            "ParetoNBD.fit: none of the 3 customers has a repeat purchase, so no purchase rate "
            "can be estimated and the drop-out rate is not identified.\n"
            "Hint: Wait for more history, or use a longer calibration period.",
        ),
        (
            BetaGeo(),
            "BetaGeo.fit: none of the 3 customers has a repeat purchase, so no purchase rate "
            "can be estimated.\nHint: Wait for more history, or use a longer calibration period.",
        ),
    ],
)
def test_fit_without_repeat_buyers_says_so(model: ParetoNBD | BetaGeo, message: str) -> None:
    with pytest.raises(ModelDataError) as err:
        model.fit([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0])
    assert str(err.value) == message
    # A repeat buyer with weight 0 does not count.
    with pytest.raises(ModelDataError, match="none of the 3 customers"):
        model.fit([0, 0, 4], [0.0, 0.0, 8.0], [10.0, 20.0, 30.0], weights=[1, 2, 0])
    assert not hasattr(model, "params_")

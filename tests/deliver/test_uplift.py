"""The uplift statistics (tenure.deliver.uplift): Newcombe's published intervals, Welch's
against scipy, the coverage of the intervals on simulated stores with a known effect, and
the A/B rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tenure.deliver.uplift import (
    MIN_PER_ARM,
    Arm,
    arm_of,
    compare_variants,
    conversion_uplift,
    rate_difference,
    revenue_uplift,
    wasted_share,
    welch,
    wilson,
)
from tenure.errors import ConfigError


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0", "low", "high"),
    [  # Newcombe 1998, Statistics in Medicine 17:873-890, Table II, method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
    ],
)
def test_the_difference_interval_is_newcombes_method_10(
    k1: int, n1: int, k0: int, n0: int, low: float, high: float
) -> None:
    d, lo, hi = rate_difference(k1, n1, k0, n0)
    assert d == pytest.approx(k1 / n1 - k0 / n0)
    assert (round(float(lo), 4), round(float(hi), 4)) == (low, high)


def test_wilson_is_the_published_interval() -> None:
    # Newcombe 1998, Statistics in Medicine 17:857-872, Table I: 81/263
    lo, hi = wilson(81, 263)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)


def test_welch_is_scipys_interval() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.lognormal(3, 1, 40), rng.lognormal(3.2, 0.5, 25)
    d, lo, hi = welch(a.size, a.mean(), a.var(ddof=1), b.size, b.mean(), b.var(ddof=1))
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (float(lo), float(hi)) == pytest.approx((ci.low, ci.high))
    assert float(d) == pytest.approx(a.mean() - b.mean())
    e = revenue_uplift(arm_of(a, a > 0), arm_of(b, b > 0))
    assert e is not None and (e.low, e.high) == pytest.approx((ci.low, ci.high))


@pytest.mark.parametrize(
    ("treated", "held", "base", "effect"),
    [(400, 100, 0.05, 0.03), (90, 30, 0.10, 0.05), (2000, 200, 0.02, 0.01), (500, 500, 0.3, 0.0)],
)
def test_the_conversion_interval_covers_the_known_effect_at_its_nominal_rate(
    treated: int, held: int, base: float, effect: float
) -> None:
    """4,000 simulated stores: the holdout converts at ``base``, the treated at ``base +
    effect``; the 95% interval covers ``effect`` 93-97% of the time (the binomial noise of
    4,000 replicates is 0.35 points)."""
    rng = np.random.default_rng(17)
    reps = 4000
    k1 = rng.binomial(treated, base + effect, reps)
    k0 = rng.binomial(held, base, reps)
    _, lo, hi = rate_difference(k1, treated, k0, held)
    coverage = float(((lo <= effect) & (effect <= hi)).mean())
    assert 0.93 <= coverage <= 0.97, coverage


def test_the_revenue_interval_covers_the_known_effect() -> None:
    """Revenue per person: converters spend lognormal amounts (mean e^3.68); 2,000 stores of
    2,000 treated (8% convert) and 1,000 held out (5%)."""
    rng = np.random.default_rng(23)
    reps, n1, n0, p1, p0 = 2000, 2000, 1000, 0.08, 0.05
    spend = np.exp(3.5 + 0.6**2 / 2)
    r1 = np.where(rng.random((reps, n1)) < p1, rng.lognormal(3.5, 0.6, (reps, n1)), 0.0)
    r0 = np.where(rng.random((reps, n0)) < p0, rng.lognormal(3.5, 0.6, (reps, n0)), 0.0)
    truth = (p1 - p0) * spend
    _, lo, hi = welch(n1, r1.mean(1), r1.var(1, ddof=1), n0, r0.mean(1), r0.var(1, ddof=1))
    coverage = float(((lo <= truth) & (truth <= hi)).mean())
    assert 0.93 <= coverage <= 0.97, coverage


@settings(max_examples=60, deadline=None)
@given(n1=st.integers(1, 500), n0=st.integers(1, 500), a=st.floats(0, 1), b=st.floats(0, 1))
def test_the_interval_holds_the_estimate_within_minus_one_one(
    n1: int, n0: int, a: float, b: float
) -> None:
    k1, k0 = round(a * n1), round(b * n0)
    d, lo, hi = (float(x) for x in rate_difference(k1, n1, k0, n0))
    assert -1 - 1e-12 <= lo <= d + 1e-12 <= hi + 2e-12 <= 1 + 3e-12


def test_an_empty_arm_is_unknown_never_zero() -> None:
    nobody = Arm(0, 0, 0.0, 0.0)
    some = Arm(10, 3, 100.0, 2000.0)
    assert conversion_uplift(some, nobody) is None
    assert revenue_uplift(nobody, some) is None
    one = revenue_uplift(Arm(1, 1, 5.0, 25.0), some)
    assert one is not None and one.low is None and one.high is None
    assert wasted_share(None, 0.1) is None


def arms(*rates: tuple[str, int, int]) -> dict[str, Arm]:
    return {name: Arm(n, k, 10.0 * k, 100.0 * k) for name, n, k in rates}


def test_a_winner_needs_the_minimum_sample_in_every_arm() -> None:
    v = compare_variants(arms(("a", 99, 60), ("b", 500, 50)))
    assert v.winner is None
    assert v.reason == f"too few persons (a has 99 of {MIN_PER_ARM} needed)"
    assert [c.variant for c in v.comparisons] == ["b"]  # b against the best, a


def test_a_clear_winner_is_named_and_a_tie_is_not() -> None:
    v = compare_variants(arms(("a", 400, 40), ("b", 400, 80), ("c", 400, 44)))
    assert v.winner == "b"
    assert v.reason == "b converts better than every other variant"
    # b against c at the Bonferroni-adjusted 97.5%: the interval is above 0
    got = {c.variant: c.conversion for c in v.comparisons}
    assert got["c"] is not None and got["c"].low is not None and got["c"].low > 0
    tie = compare_variants(arms(("a", 400, 40), ("b", 400, 48)))
    assert tie.winner is None
    assert tie.reason == "no variant converts significantly better"


def test_the_minimum_can_be_set() -> None:
    assert compare_variants(arms(("a", 30, 25), ("b", 30, 2)), min_per_arm=20).winner == "a"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wilson(3, 2), "The 'k' parameter must be at most 'n'"),
        (lambda: wilson(-1, 2), "The 'k' parameter must be a whole number"),
        (lambda: rate_difference(1, 2.5, 1, 2), "The 'n1' parameter must be a whole number"),
        (lambda: wilson(1, 2, confidence=1.5), "The 'confidence' parameter must be a number"),
        (
            lambda: compare_variants(arms(("a", 1, 1)), min_per_arm=0),
            "The 'min_per_arm' parameter must be an int",
        ),
    ],
)
def test_bad_parameters_are_refused(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]

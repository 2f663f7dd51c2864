"""The stable Gauss hypergeometric function against a 60-digit series and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from tenure.models._special import hyp2f1, log_abs_hyp2f1, log_hyp2f1
from tests.models._reference import hyp2f1_reference

CASES = [
    # (a, b, c, z): BG/NBD-shaped, transformed, alternating, negative z, polynomial.
    (0.24, 2.4, 2.2, 0.5),
    (0.24, 2.4, 2.2, 0.95),
    (1.5, -0.2, 2.2, 0.7),
    (1.0, 100.2, 101.5, 0.8),
    (1.0, 5000.2, 5001.5, 0.95),
    (-3.0, 2.0, 5.0, 0.4),
    (-4998.04, -0.21, 5002.19, 0.3),
    (0.5, 0.5, 1.5, 0.99),
    (2.5, 1.5, -0.5, 0.3),
    # c - a - b an integer (or within 1e-9 of one) near z = 1: scipy returns NaN or loses
    # six digits there, so the series is summed instead.
    (4.0, -0.95, 4.05, 46 / 46.1),
    (6.085345668832907, 4.979667650687948, 11.065013318520855, 0.9989780831282963),
]


@pytest.mark.parametrize(("a", "b", "c", "z"), CASES)
def test_matches_a_60_digit_series(a: float, b: float, c: float, z: float) -> None:
    assert float(hyp2f1(a, b, c, z)) == pytest.approx(hyp2f1_reference(a, b, c, z), rel=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "c", "z"),
    [(3.0, -0.9396, 3.0604, 390 / 390.1), (2.5, 0.7, 4.2, 0.9995), (3.0, -0.9396, 3.0604, 0.9993)],
)
def test_integer_c_minus_a_minus_b_very_near_one(a: float, b: float, c: float, z: float) -> None:
    """Beyond the series' reach and where scipy returns NaN: scipy at shifted b, extrapolated
    (BG/NBD's E[X(t)] with r = a, alpha = 0.1, t = 390 lands here)."""
    assert float(hyp2f1(a, b, c, z)) == pytest.approx(hyp2f1_reference(a, b, c, z), rel=1e-9)


@pytest.mark.parametrize("z", [-0.5, -3.0, -40.0])
def test_negative_argument_through_pfaff(z: float) -> None:
    a, b, c = 3.0, 4.5, 5.2
    w = z / (z - 1.0)
    expected = (1.0 - z) ** (-a) * hyp2f1_reference(a, c - b, c, w)
    assert float(hyp2f1(a, b, c, z)) == pytest.approx(expected, rel=1e-12)


def test_large_parameters_in_log_space_where_scipy_overflows() -> None:
    """10,000 repeat purchases: the value is ~e^1783 (no float holds it), the log is exact."""
    a, b, c, z = 10_000.24, 10_002.4, 10_002.19, 0.3
    assert math.isinf(special.hyp2f1(a, b, c, z))
    log_abs, sign = log_abs_hyp2f1(a, b, c, z)
    expected = (c - a - b) * math.log1p(-z) + math.log(hyp2f1_reference(c - a, c - b, c, z))
    assert float(sign) == 1.0
    assert float(log_abs) == pytest.approx(expected, rel=1e-13)
    assert float(log_hyp2f1(a, b, c, z)) == pytest.approx(expected, rel=1e-13)


def test_outside_the_domain_is_nan() -> None:
    values = hyp2f1([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [-2.0, 1.0, 1.0], [0.5, 1.0, 1.5])
    assert np.isnan(values).all()


def test_broadcasts_and_keeps_shape() -> None:
    z = np.linspace(0.0, 0.8, 6).reshape(2, 3)
    out = hyp2f1(0.5, 1.5, 2.5, z)
    assert out.shape == (2, 3)
    assert out[0, 0] == 1.0


@settings(max_examples=150, deadline=None)
@given(
    x=st.integers(5_000, 50_000),
    r=st.floats(0.05, 5.0),
    a=st.floats(0.05, 5.0),
    b=st.floats(0.05, 10.0),
    age=st.floats(1.0, 1_000.0),
    t=st.floats(0.0, 1_000.0),
)
def test_bgnbd_hypergeometric_is_finite_and_agrees_with_scipy(
    x: int, r: float, a: float, b: float, age: float, t: float
) -> None:
    """The 2F1 of BG/NBD's conditional expectation for 5,000+ purchases: its log is always
    finite, and where scipy's value is finite the two agree."""
    p_a, p_b, p_c, z = r + x, b + x, a + b + x - 1.0, t / (age + t)
    log_abs, sign = log_abs_hyp2f1(p_a, p_b, p_c, z)
    assert np.isfinite(log_abs) and sign == 1.0
    reference = special.hyp2f1(p_a, p_b, p_c, z)
    if np.isfinite(reference) and reference > 0:
        assert float(hyp2f1(p_a, p_b, p_c, z)) == pytest.approx(reference, rel=1e-9)

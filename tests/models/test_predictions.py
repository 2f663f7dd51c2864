"""Predictions checked against their definitions: CLV, spend, waiting time, many purchases."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
import pytest

from tenure.errors import ConfigError
from tenure.models import BetaGeo, GammaGamma, ModelDataError, ModifiedBetaGeo

CDNOW_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def with_params(model: BetaGeo | GammaGamma, params: dict[str, float]) -> BetaGeo | GammaGamma:
    model.params_ = pd.Series(params)
    return model


def test_clv_without_discounting_is_expected_purchases_times_spend() -> None:
    bg = with_params(BetaGeo(), CDNOW_BG)
    gg = with_params(GammaGamma(), CDNOW_GG)
    history = ([2, 0, 7], [30.43, 0.0, 20.0], [38.86, 38.86, 30.0])
    monetary = [22.35, np.nan, 40.0]  # no repeat purchase: monetary is ignored
    clv = gg.clv(bg, *history, monetary, horizon=12, discount_rate=0.0, time_unit=4.35, margin=0.3)
    purchases = bg.conditional_expected_purchases(12 * 4.35, *history)
    spend = gg.conditional_expected_average_profit(history[0], monetary)
    np.testing.assert_allclose(clv, purchases * spend * 0.3, rtol=1e-12)
    assert spend[1] == pytest.approx(6.25 * 15.44 / 2.74)  # the population mean


def test_clv_discounts_each_period() -> None:
    bg = with_params(BetaGeo(), CDNOW_BG)
    gg = with_params(GammaGamma(), CDNOW_GG)
    args = (bg, [3], [35.0], [38.86], [30.0])
    steps = [
        float(bg.conditional_expected_purchases(k * 4.35, 3, 35.0, 38.86)[0]) for k in range(4)
    ]
    spend = float(gg.conditional_expected_average_profit([3], [30.0])[0])
    expected = sum((steps[k] - steps[k - 1]) / 1.01**k for k in range(1, 4)) * spend
    clv = gg.clv(*args, horizon=3, discount_rate=0.01, time_unit=4.35)
    assert float(clv[0]) == pytest.approx(expected, rel=1e-12)
    undiscounted = gg.clv(*args, horizon=3, discount_rate=0.0, time_unit=4.35)
    assert float(clv[0]) < float(undiscounted[0])


def test_clv_keeps_the_index_of_a_series(cdnow: pd.DataFrame) -> None:
    bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    repeaters = cdnow[cdnow["frequency"] > 0]
    gg = GammaGamma().fit(repeaters["frequency"], repeaters["monetary"])
    clv = gg.clv(
        bg,
        cdnow["frequency"],
        cdnow["recency"],
        cdnow["T"],
        cdnow["monetary"],
        horizon=12,
        discount_rate=0.01,
        time_unit=52 / 12,
    )
    assert isinstance(clv, pd.Series) and clv.index.equals(cdnow.index)
    assert (clv >= 0).all()
    # Those who bought more, more recently, are worth more: the top decile by frequency
    # has a higher mean CLV than the customers without a repeat purchase.
    assert clv[cdnow["frequency"] >= 5].mean() > 5 * clv[cdnow["frequency"] == 0].mean()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"horizon": 0},
            "The 'horizon' parameter of GammaGamma must be an int in the range [1, inf). "
            "Got 0 instead.",
        ),
        (
            {"discount_rate": -0.1},
            "The 'discount_rate' parameter of GammaGamma must be a float in the range [0, inf). "
            "Got -0.1 instead.",
        ),
        (
            {"time_unit": 0.0},
            "The 'time_unit' parameter of GammaGamma must be a float in the range (0, inf). "
            "Got 0.0 instead.",
        ),
    ],
)
def test_clv_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    bg = with_params(BetaGeo(), CDNOW_BG)
    gg = with_params(GammaGamma(), CDNOW_GG)
    arguments = {"horizon": 12, "discount_rate": 0.01, "time_unit": 4.35} | kwargs
    with pytest.raises(ConfigError) as info:
        gg.clv(bg, [1], [1.0], [2.0], [10.0], **arguments)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_clv_margin_must_be_a_share() -> None:
    bg = with_params(BetaGeo(), CDNOW_BG)
    gg = with_params(GammaGamma(), CDNOW_GG)
    with pytest.raises(ModelDataError) as info:
        gg.clv(
            bg, [1, 2], [1.0, 2.0], [2.0, 3.0], [10.0, 5.0],
            horizon=1, discount_rate=0.0, time_unit=1.0, margin=[0.4, 30.0],
        )  # fmt: skip
    assert str(info.value) == (
        "GammaGamma.clv: 1 of 2 customers have a margin outside [0, 1] (row 1).\n"
        "Hint: margin is the share of spend kept, e.g. 0.3 for 30%."
    )


@pytest.mark.parametrize("model", [BetaGeo(), ModifiedBetaGeo()])
def test_time_to_next_purchase_is_the_median_wait_of_an_alive_customer(model: BetaGeo) -> None:
    """P(no purchase in (T, T+w] | alive) = ((alpha+T)/(alpha+T+w))^(r+x) is 1/2 at the
    returned w (the Lomax median), and an alive customer with more purchases waits less."""
    with_params(model, CDNOW_BG)
    frequency, age = np.array([0, 2, 10]), np.array([38.86, 38.86, 38.86])
    recency = np.array([0.0, 30.43, 38.0])
    wait = model.expected_time_to_next_purchase(frequency, recency, age)
    survival = ((4.414 + age) / (4.414 + age + wait)) ** (0.243 + frequency)
    np.testing.assert_allclose(survival, 0.5, rtol=1e-12)
    assert np.all(np.diff(wait) < 0)


def bgnbd_conditional_reference(t: float, x: int, t_x: float, age: float) -> float:
    """FHL 2005 eq. 10 in 60-digit decimals, with 2F1 summed as it stands (no transformation)."""
    r, alpha, a, b = (Decimal(str(CDNOW_BG[k])) for k in ("r", "alpha", "a", "b"))
    with localcontext() as ctx:
        ctx.prec = 60
        dt, dtx, dage = Decimal(str(t)), Decimal(str(t_x)), Decimal(str(age))
        z = dt / (alpha + dage + dt)
        p_a, p_b, p_c = r + x, b + x, a + b + x - 1
        term, total, n = Decimal(1), Decimal(1), 0
        while n < x or abs(term) > total * Decimal("1e-45"):
            term = term * (p_a + n) * (p_b + n) / ((p_c + n) * (n + 1)) * z
            total += term
            n += 1
        power = ((alpha + dage) / (alpha + dage + dt)) ** (r + x)
        head = (a + b + x - 1) / (a - 1) * (1 - power * total)
        odds = a / (b + x - 1) * ((alpha + dage) / (alpha + dtx)) ** (r + x)
        return float(head / (1 + odds))


@pytest.mark.parametrize(
    ("x", "t_x"), [(2, 30.43), (50, 38.0), (5_000, 38.86), (20_000, 38.86), (5_000, 38.8)]
)
def test_conditional_expectation_for_heavy_buyers(x: int, t_x: float) -> None:
    """scipy's hyp2f1 is inf here from ~2,000 purchases; the Euler-transformed evaluation
    matches the untransformed formula summed in 60 digits."""
    model = with_params(BetaGeo(), CDNOW_BG)
    value = float(model.conditional_expected_purchases(39.0, x, t_x, 38.86)[0])
    assert value == pytest.approx(bgnbd_conditional_reference(39.0, x, t_x, 38.86), rel=1e-10)


def test_expected_purchases_where_a_plus_b_is_one() -> None:
    """a + b = 1 puts c = 0 in BG/NBD's 2F1 (a removable singularity, found by hypothesis):
    the value is finite and continuous in b."""
    model = with_params(BetaGeo(), {"r": 1.0, "alpha": 1.0, "a": 0.5, "b": 0.5})
    at = np.asarray(model.expected_purchases([0.0, 1.0, 10.0]))
    model.params_["b"] = 0.5 + 1e-6
    near = np.asarray(model.expected_purchases([0.0, 1.0, 10.0]))
    assert at[0] == 0.0
    np.testing.assert_allclose(at, near, rtol=1e-5)

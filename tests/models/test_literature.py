"""Fitted parameters and predictions pinned to the published CDNOW results.

Data: CDNOW_sample (2,357 customers), 39-week calibration 1997-01-01 .. 1997-09-30, time in
weeks, same-day purchases merged (conftest.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenure.models import BetaGeo, GammaGamma, ModifiedBetaGeo


def test_cdnow_summary_matches_the_paper(cdnow: pd.DataFrame) -> None:
    """Fader, Hardie & Lee 2005 (Marketing Science 24(2)), section 5: 2,357 customers and
    2,457 repeat transactions in the 39-week calibration period."""
    assert len(cdnow) == 2357
    assert cdnow["frequency"].sum() == 2457


def test_bgnbd_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    """Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative to the
    Pareto/NBD model", Marketing Science 24(2), section 5: r = 0.243, alpha = 4.414,
    a = 0.793, b = 2.426, log-likelihood -9582.4."""
    model = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=0.005), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert model.n_customers_ == 2357
    assert model.aic_ == pytest.approx(8 - 2 * model.log_likelihood_)
    assert model.bic_ == pytest.approx(4 * np.log(2357) - 2 * model.log_likelihood_)


def test_bgnbd_cdnow_standard_errors(cdnow: pd.DataFrame) -> None:
    """Inverse-Hessian standard errors as the lifetimes package reports them on the same data
    (r 0.0126, alpha 0.378, a 0.186, b 0.705); checked to 2%."""
    model = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = {"r": 0.0126, "alpha": 0.378, "a": 0.186, "b": 0.705}
    for name, value in expected.items():
        assert model.standard_errors_[name] == pytest.approx(value, rel=0.02), name
    table = model.summary()
    assert list(table.columns) == ["coef", "se", "lower 95%", "upper 95%"]
    assert (table["lower 95%"] < table["coef"]).all() and (table["coef"] < table["upper 95%"]).all()


def test_bgnbd_predictions_match_hardies_spreadsheet(cdnow: pd.DataFrame) -> None:
    """Hardie's BG/NBD spreadsheet for the paper (as used in lifetimes' tests): E[X(t)] for a
    new customer, and the conditional expectation of customer 1 (x=2, t_x=30.43, T=38.86)
    over the next 39 weeks: 1.226 (FHL 2005, section 5, Figure 4's example)."""
    model = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    times = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(model.expected_purchases(times), expected, atol=1e-3)
    value = model.conditional_expected_purchases(39, 2, 30.43, 38.86)
    assert float(value[0]) == pytest.approx(1.226, abs=1e-3)


def test_bgnbd_probability_of_x_purchases_matches_r_btyd() -> None:
    """R package BTYD (bgnbd.pmf) at the paper's parameters: P(X(2) = 10) = 1.07869e-07,
    P(X(39) = 0) = 0.5737864 and P(X(30) = x) for x = 11..20."""
    model = BetaGeo()
    model.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert float(model.p_purchases(10, 2)[0]) == pytest.approx(1.07869e-07, rel=1e-4)
    assert float(model.p_purchases(0, 39)[0]) == pytest.approx(0.5737864, rel=1e-6)
    expected = [0.0019995214, 0.0015170236, 0.0011633150, 0.0009003148, 0.0007023638,
                0.0005517902, 0.0004361913, 0.0003467171, 0.0002769613, 0.0002222260]  # fmt: skip
    np.testing.assert_allclose(model.p_purchases(np.arange(11, 21), 30), expected, rtol=1e-6)
    assert model.p_purchases(np.arange(0, 2000), 39).sum() == pytest.approx(1.0, abs=1e-9)


def test_mbgnbd_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007, IJRM 24(3)) on CDNOW_sample. The paper
    fits Turkish grocery data, not CDNOW; the reference values r = 0.525, alpha = 6.183,
    a = 0.891, b = 1.614 are those of the R package BTYDplus (mbgnbd.EstimateParameters), as
    quoted in lifetimes' test suite (test_params_out_is_close_to_BTYDplus)."""
    model = ModifiedBetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    expected = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=0.005), name
    # One more free "chance to leave" does not fit CDNOW worse than BG/NBD.
    assert model.log_likelihood_ >= -9582.5
    no_repeat = model.p_alive(0, 0, 38.86)
    assert 0 < float(no_repeat[0]) < 1


def test_gamma_gamma_cdnow_parameters(cdnow: pd.DataFrame) -> None:
    """Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer base
    analysis", Journal of Marketing Research 42(4), section "Spend": p = 6.25, q = 3.74,
    gamma = 15.44, fitted on the 946 customers with repeat purchases and the average value
    of their calibration-period repeat transactions."""
    repeaters = cdnow[cdnow["frequency"] > 0]
    assert len(repeaters) == 946
    model = GammaGamma().fit(repeaters["frequency"], repeaters["monetary"])
    expected = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=0.005), name
    spend = model.conditional_expected_average_profit(repeaters["frequency"], repeaters["monetary"])
    # Shrinkage: every expected spend lies between the customer's mean and the population's.
    population = 6.25 * 15.44 / (3.74 - 1)
    low = np.minimum(repeaters["monetary"], population) - 0.5
    high = np.maximum(repeaters["monetary"], population) + 0.5
    assert ((spend >= low) & (spend <= high)).all()

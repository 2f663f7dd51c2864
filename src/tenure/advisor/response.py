"""Response curves: how many new customers a paid channel brings per week at a given spend.

The curve is ``new = a x spend^b`` per week (docs/advisor.md, "Channels and budget"), fitted
as a Poisson regression of the weekly new customers on the log of the weekly spend (log link,
so ``log E[new] = log a + b log spend``), by iteratively reweighted least squares. The
standard error of ``b`` is the quasi-Poisson one: the Fisher information's, scaled by the
Pearson dispersion when the counts vary more than a Poisson would (never scaled down).

A curve is only used when the history has enough variation (:func:`variation_test`): enough
weeks with spend, a coefficient of variation of the weekly spend that is high enough, and a
slope whose standard error is small enough and which is above 0. Otherwise the channel gets a
constant CAC (``b = 1``), and the budget never takes it beyond a multiple of the highest spend
it has been seen at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: IRLS iterations and the change in the coefficients taken as converged.
MAX_ITER, TOL = 100, 1e-10


@dataclass(frozen=True)
class PowerFit:
    """A fitted ``new = a x spend^b``: ``log_a``, ``b``, the standard error of ``b``, the
    dispersion (Pearson chi-square / degrees of freedom, at least 1) and the weeks used."""

    log_a: float
    b: float
    b_se: float
    dispersion: float
    weeks: int


def fit_power(spend: np.ndarray, new: np.ndarray) -> PowerFit | None:
    """Poisson regression of ``new`` on ``log(spend)`` over the weeks with spend > 0; None
    with fewer than 3 such weeks, no new customer at all, or no variation in spend."""
    spend = np.asarray(spend, dtype=float)
    new = np.asarray(new, dtype=float)
    keep = spend > 0
    x, y = np.log(spend[keep]), new[keep]
    n = len(x)
    if n < 3 or y.sum() <= 0 or np.ptp(x) <= 0:
        return None
    design = np.column_stack([np.ones(n), x - x.mean()])  # centred: a well-conditioned fit
    beta = np.array([np.log(y.mean()), 0.0])
    for _ in range(MAX_ITER):
        mu = np.exp(design @ beta)
        info = design.T @ (design * mu[:, None])
        step = np.linalg.solve(info, design.T @ (y - mu))
        beta = beta + step
        if np.abs(step).max() < TOL:
            break
    mu = np.exp(design @ beta)
    info = design.T @ (design * mu[:, None])
    dispersion = max(1.0, float(((y - mu) ** 2 / mu).sum() / max(n - 2, 1)))
    cov = np.linalg.inv(info) * dispersion
    b = float(beta[1])
    return PowerFit(
        log_a=float(beta[0] - b * x.mean()),
        b=b,
        b_se=float(np.sqrt(cov[1, 1])),
        dispersion=dispersion,
        weeks=n,
    )


def spend_cv(spend: np.ndarray) -> float | None:
    """Coefficient of variation (sd / mean) of the weeks with spend > 0; None without any."""
    s = np.asarray(spend, dtype=float)
    s = s[s > 0]
    if len(s) < 2:
        return None
    return float(s.std(ddof=1) / s.mean())


def variation_test(
    spend: np.ndarray,
    new: np.ndarray,
    *,
    min_weeks: int,
    min_cv: float,
    max_se: float,
) -> tuple[PowerFit | None, str | None]:
    """The fit when the history passes the variation test, else None and why it does not."""
    s = np.asarray(spend, dtype=float)
    weeks = int((s > 0).sum())
    if weeks < min_weeks:
        return None, f"{weeks} weeks with spend, fewer than {min_weeks}"
    cv = spend_cv(s)
    if cv is None or cv < min_cv:
        shown = "unknown" if cv is None else f"{cv:.2f}"
        return None, f"weekly spend varies too little (coefficient of variation {shown} < {min_cv})"
    fit = fit_power(s, new)
    if fit is None:
        return None, "no new customers in the weeks with spend"
    if fit.b_se > max_se:
        return None, f"the slope is too uncertain (b = {fit.b:.2f} ± {fit.b_se:.2f}, > {max_se})"
    if fit.b <= 0:
        return None, f"more spend did not bring more customers (b = {fit.b:.2f})"
    return fit, None


def expected_new(a: float, b: float, spend: float, days: float) -> float:
    """New customers over ``days`` when ``spend`` is spread evenly over them, for the weekly
    curve ``a x weekly_spend^b``."""
    weeks = days / 7.0
    if spend <= 0:
        return 0.0
    return float(weeks * a * (spend / weeks) ** b)

"""The goals' forecast: a daily metric series carried forward with its trend and weekly
seasonality, and its uncertainty, by simulation (docs/advisor.md, "Goals and their
forecast").

The model is statsmodels' ETS (exponential smoothing state-space model, Hyndman et al.,
*Forecasting with Exponential Smoothing*, 2008): additive errors, a damped additive trend and
an additive weekly season (``ETS(A,Ad,A)``, period 7), fitted by maximum likelihood on
``log(1 + y)`` of the daily values (so the noise grows with the level and no path goes below
0; on the values themselves when a day is negative, e.g. refunds). Its future is simulated
from the end of the history (``simulate(anchor="end")``, errors drawn from the fitted
normal): each path is a possible run of days, so any quantity of the future (the sum of the
goal's remaining days, a ratio of two sums) gets its distribution from the paths, and its
quantiles are the interval. The simulation carries the model's noise
and the drift of level, trend and season; it does not carry the uncertainty of the fitted
parameters, nor a yearly season the history is too short to show: the backtest measures
what that costs (docs/advisor.md, "Coverage").

A series too short for the model gets no forecast but a :class:`ForecastError` that says
what is missing ("needs at least 8 weeks of history"), never numbers it cannot support.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from tenure.advisor.sentence import N_, Sentence
from tenure.errors import ForecastError

#: The fewest whole weeks of daily history the model is fitted on (two full seasons of the
#: weekly pattern to estimate it, and enough days for level and trend).
MIN_HISTORY_WEEKS = 8
#: The counts said in the forecast's sentences.
COUNTS = {"weeks": "count", "days": "count", "horizon": "count", "measures": "count"}
#: The season of the daily series (days).
SEASON = 7
#: The quantiles of the fan (the 95%, 80% and 50% central intervals and the median).
FAN_QUANTILES = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)
#: The simulated paths of a forecast.
SIMULATIONS = 1000


@dataclass(frozen=True)
class Paths:
    """Simulated futures of a daily series: ``values[i, j]`` is path ``i``'s value on day
    ``start + j``; ``model`` names the model fitted; ``history_days`` the days it saw."""

    start: date
    values: np.ndarray
    model: str
    history_days: int
    params: np.ndarray | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=j) for j in range(self.values.shape[1])]


def check_history(days: int, horizon: int) -> None:
    """Raise a :class:`ForecastError` when ``days`` of history cannot support a forecast of
    ``horizon`` days: fewer than :data:`MIN_HISTORY_WEEKS` weeks, or a horizon longer than
    the history itself (the model would extrapolate a trend further than it observed)."""
    need = MIN_HISTORY_WEEKS * 7
    if days < need:
        raise ForecastError(
            Sentence(
                N_(
                    "No forecast: it needs at least %(weeks)s weeks of history, and the series "
                    "has %(days)s days."
                ),
                {"weeks": MIN_HISTORY_WEEKS, "days": days},
                COUNTS,
                formats={"days": ""},
            ),
            hint="Come back when the store has more history; the progress to date is shown.",
        )
    if horizon > days:
        raise ForecastError(
            Sentence(
                N_(
                    "No forecast: %(horizon)s days ahead needs at least as many days of "
                    "history, and the series has %(days)s."
                ),
                {"horizon": horizon, "days": days},
                COUNTS,
                formats={"horizon": "", "days": ""},
            ),
            hint="Set a nearer deadline, or come back when the store has more history.",
        )


def _fit(y: np.ndarray, params: np.ndarray | None = None) -> object:
    """The model fitted to ``y`` by maximum likelihood; with ``params`` (those of an earlier
    fit, on a series starting the same day), run through ``y`` with them instead."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        y,
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=SEASON,
    )
    with warnings.catch_warnings():  # convergence chatter of the optimiser
        warnings.simplefilter("ignore")
        if params is not None:
            return model.smooth(params)
        return model.fit(disp=False, maxiter=200)


def simulate(
    series: pd.Series,
    horizon: int,
    *,
    simulations: int = SIMULATIONS,
    random_state: int = 0,
    params: np.ndarray | None = None,
    log: bool | None = None,
) -> Paths:
    """``simulations`` paths of the ``horizon`` days after the last day of ``series`` (daily
    values indexed by consecutive days; a missing day must be given as 0, not left out).
    A constant series (no variation: nothing to fit) is carried forward as it is.

    ``params``: the parameters of an earlier fit of this history (:attr:`Paths.params`), to
    run it with instead of fitting it again; ``log``: the scale to work on (default: the log
    scale unless a value is negative). Both serve the calibration's past forecasts
    (:mod:`tenure.advisor.calibration`)."""
    y = series.astype("float64").to_numpy()
    check_history(len(y), horizon)
    last = pd.Timestamp(series.index[-1]).date()
    start = last + timedelta(days=1)
    if horizon <= 0:
        return Paths(start, np.zeros((simulations, 0)), "none", len(y))
    if np.nanstd(y) == 0:
        values = np.full((simulations, horizon), float(y[-1]))
        return Paths(start, values, "constant", len(y))
    if log is None:
        log = bool(np.all(y >= 0))  # money can be negative (refunds): then on the values
    fitted = _fit(np.log1p(y) if log else y, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sims = fitted.simulate(  # type: ignore[attr-defined]
            nsimulations=horizon,
            repetitions=simulations,
            anchor="end",
            rng=np.random.default_rng(random_state),
        )
    values = np.asarray(sims, dtype="float64").reshape(horizon, simulations).T
    if log:
        values = np.expm1(values)
    name = "ETS(A,Ad,A) period 7" + (" on log(1 + y)" if log else "")
    fitted_params = np.asarray(fitted.params, dtype="float64")  # type: ignore[attr-defined]
    return Paths(start, values, name, len(y), fitted_params)


def simulate_steps(
    values: np.ndarray, steps: int, *, simulations: int = SIMULATIONS, random_state: int = 0
) -> np.ndarray:
    """``simulations`` paths (rows) of the ``steps`` values after ``values``, a series with
    no season (a span metric measured every week): ``ETS(A,Ad,N)``. At least
    :data:`MIN_HISTORY_WEEKS` values, else a :class:`ForecastError`."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = np.asarray(values, dtype="float64")
    if len(y) < MIN_HISTORY_WEEKS:
        raise ForecastError(
            Sentence(
                N_(
                    "No forecast: it needs at least %(weeks)s weekly measures of the goal's "
                    "span before the as-of day, and the history holds %(measures)s."
                ),
                {"weeks": MIN_HISTORY_WEEKS, "measures": len(y)},
                COUNTS,
            ),
            hint="Come back when the store has more history, or set a shorter goal.",
        )
    if np.nanstd(y) == 0:
        return np.full((simulations, steps), float(y[-1]))
    model = ETSModel(y, error="add", trend="add", damped_trend=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(disp=False, maxiter=200)
        sims = fitted.simulate(
            nsimulations=steps,
            repetitions=simulations,
            anchor="end",
            rng=np.random.default_rng(random_state),
        )
    return np.asarray(sims, dtype="float64").reshape(steps, simulations).T


def quantiles(samples: np.ndarray, qs: tuple[float, ...] = FAN_QUANTILES) -> list[float]:
    """The quantiles ``qs`` of ``samples`` (non-finite samples left out)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.quantile(finite, qs)]


__all__ = [
    "FAN_QUANTILES",
    "MIN_HISTORY_WEEKS",
    "SIMULATIONS",
    "Paths",
    "check_history",
    "quantiles",
    "simulate",
    "simulate_steps",
]

"""The goals' interval, calibrated on the store's own past forecasts (docs/advisor.md,
"Calibration").

The model's 80% interval is the spread of its simulated paths (:mod:`tenure.advisor.forecast`).
It is right only when the model is: on a store whose noise or trend the model misjudges it is
too narrow (a holiday peak it cannot know) or too wide (a burst of early noise it keeps
assuming). So before it is stated, the interval is checked against the store itself, by
*split conformal prediction over rolling origins* (Vovk, Gammerman & Shafer, *Algorithmic
Learning in a Random World*, 2005; Romano, Patterson & Candès, "Conformalized quantile
regression", NeurIPS 2019; for time series, the rolling-origin evaluation of Tashman,
*International Journal of Forecasting* 16, 2000):

1. At the weekly origins ``as_of - h``, ``as_of - h - 7``, ... (``h`` the forecast's horizon
   in days), at most :data:`ORIGINS` of them (the last half-year: a store changes), and only
   those with enough history for the model, the same forecast of the same quantity is made
   from the history up to the origin only: the model fitted to that history alone (not the
   one fitted at the as-of day, whose parameters have seen the outcomes: its past forecasts
   look better than they were, and the interval came out too narrow in the backtest). A
   fit is kept in the process by its history (:data:`FITS` of them), so the goals of one
   scope, and the cut-offs of a backtest, share their origins' fits. Its outcome, the next
   ``h`` days, is known by the as-of day.
2. Each past forecast gets a *score*: how far its outcome fell from its median, in units of
   the half-width of its 80% interval on that side, measured on ``log(1 + x)`` (the scale
   the model works in; on ``x`` itself when a value is negative). Inside the interval the
   score is below 1.
3. The *factor* ``q`` is the ``ceil(0.8 (n + 1))``-th smallest of the ``n`` scores (the
   conformal quantile: over exchangeable forecasts, it covers a new outcome with probability
   at least 0.8).
4. The stated interval is the model's, stretched (``q > 1``) or shrunk (``q < 1``) around its
   median by ``q``, on the same scale. So are the fan's other quantiles, at every day.

A span metric (customers, purchase frequency, repeat rate) is forecast on its weekly series
of windows of the goal's length (:mod:`tenure.advisor.goal_forecast`); its past forecasts are
made the same way from the series cut at each earlier week (:func:`calibrate_steps`).

With fewer than :data:`MIN_ORIGINS` past forecasts (a young store, a long goal) the model's
own interval is stated, and the forecast says so. The backtest measures what it gives
(:mod:`tenure.advisor.goal_backtest`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from tenure.advisor.forecast import MIN_HISTORY_WEEKS, simulate, simulate_steps
from tenure.advisor.goal_metrics import combine, components

#: The most past forecasts a factor is learnt from (weekly origins: half a year).
ORIGINS = 26
#: The fewest past forecasts a factor is learnt from (fewer: the model's own interval).
MIN_ORIGINS = 8
#: The simulated paths of each past forecast.
SIMULATIONS = 500
#: The fits kept in the process (by the history they were fitted to).
FITS = 4096
#: The interval calibrated: central 80%.
LEVEL = 0.8
#: The quantiles of the model's interval.
LOW, HIGH = 0.1, 0.9


@dataclass(frozen=True)
class Calibration:
    """The factor learnt from ``forecasts`` past forecasts of the same quantity (None: too
    few, the model's own interval), and whether it works on ``log(1 + x)``."""

    factor: float | None
    forecasts: int
    log: bool = True

    def to_dict(self) -> dict[str, Any]:
        factor = None if self.factor is None or not math.isfinite(self.factor) else self.factor
        return {"factor": factor, "forecasts": self.forecasts}

    def apply(self, values: np.ndarray, base: float = 0.0) -> np.ndarray:
        """``values`` (paths x days) stretched around each day's median by the factor, on
        the calibration's scale; ``base`` (the part already counted, not forecast) is left
        as it is. No factor: ``values`` unchanged."""
        if self.factor is None:
            return values
        future = values - base
        scaled = _forward(future, self.log)
        median = np.nanmedian(scaled, axis=0, keepdims=True)
        stretched = median + self.factor * (scaled - median)
        return base + _back(stretched, self.log)


def _forward(x: np.ndarray, log: bool) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0)) if log else x


def _back(x: np.ndarray, log: bool) -> np.ndarray:
    return np.expm1(x) if log else x


def score(outcome: float, low: float, median: float, high: float, *, log: bool) -> float:
    """How far ``outcome`` fell from ``median`` in half-widths of the interval on its side
    (below 1: inside), on ``log(1 + x)`` when ``log``."""
    y, lo, md, hi = (float(_forward(np.array(v), log)) for v in (outcome, low, median, high))
    width = hi - md if y > md else md - lo
    gap = abs(y - md)
    if width <= 0:
        return 0.0 if gap == 0 else math.inf
    return gap / width


def conformal_factor(scores: list[float], level: float = LEVEL) -> float:
    """The ``ceil(level (n + 1))``-th smallest of the ``n`` scores (infinite when that is
    past the last: too few scores for the level)."""
    k = math.ceil(level * (len(scores) + 1))
    ordered = sorted(scores)
    return ordered[k - 1] if k <= len(ordered) else math.inf


def _interval(values: np.ndarray) -> tuple[float, float, float] | None:
    """(low, median, high) of the finite ``values`` (None when there is none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, median, high = (float(v) for v in np.quantile(finite, [LOW, 0.5, HIGH]))
    return low, median, high


def _learnt(scores: list[float], log: bool) -> Calibration:
    """The calibration learnt from ``scores``: none with fewer than :data:`MIN_ORIGINS` (or
    no finite factor), the model's own interval then."""
    factor = conformal_factor(scores) if len(scores) >= MIN_ORIGINS else math.inf
    return Calibration(factor if math.isfinite(factor) else None, len(scores), log)


_fits: OrderedDict[bytes, np.ndarray | None] = OrderedDict()
_fits_lock = threading.Lock()


def _simulate(
    history: pd.Series, horizon: int, simulations: int, seed: int, log: bool
) -> np.ndarray:
    """Paths of ``horizon`` days after ``history``, from the model fitted to it (kept by
    the history's values, so a second forecast from the same history does not fit again)."""
    y = history.astype("float64").to_numpy()
    key = hashlib.blake2b(y.tobytes() + bytes([log]), digest_size=16).digest()
    with _fits_lock:
        params = _fits.get(key)
        if params is not None:
            _fits.move_to_end(key)
    known = params is not None
    paths = simulate(
        history, horizon, simulations=simulations, random_state=seed, params=params, log=log
    )
    if not known:
        with _fits_lock:
            _fits[key] = paths.params
            while len(_fits) > FITS:
                _fits.popitem(last=False)
    return paths.values


@dataclass
class Calibrator:
    """Past forecasts of one quantity of a daily series: ``metric`` over days ``skip + 1``
    to ``horizon`` after an origin (:func:`tenure.advisor.goal_metrics.combine` of the sums
    of its components). Each origin's forecast is made once and kept."""

    series: pd.DataFrame
    metric: str
    horizon: int
    skip: int = 0
    simulations: int = SIMULATIONS
    made: dict[date, tuple[float, float, float, float]] = field(
        default_factory=dict, init=False, repr=False
    )

    @cached_property
    def log(self) -> bool:
        """Whether the quantity is calibrated on ``log(1 + x)`` (no negative value)."""
        parts = self.series[list(components(self.metric))]
        return bool((parts.to_numpy() >= 0).all())

    def _past(self, origin: date) -> tuple[float, float, float, float] | None:
        """(outcome, low, median, high) of the forecast made at ``origin``; None when the
        history up to it is too short for the model."""
        if origin in self.made:
            return self.made[origin]
        at = (origin - self.series.index[0]).days + 1  # the days up to the origin
        history = self.series.iloc[:at]
        if at < max(MIN_HISTORY_WEEKS * 7, self.horizon) or at + self.horizon > len(self.series):
            return None
        future = self.series.iloc[at + self.skip : at + self.horizon]
        parts = components(self.metric)
        outcome = float(combine(self.metric, [float(future[c].sum()) for c in parts]))
        log = self.log
        sums = [
            _simulate(history[c], self.horizon, self.simulations, i, log)[:, self.skip :].sum(
                axis=1
            )
            for i, c in enumerate(parts)
        ]
        values = np.asarray(combine(self.metric, sums), dtype="float64")
        interval = _interval(values)
        if interval is None or not math.isfinite(outcome):
            return None
        self.made[origin] = (outcome, *interval)
        return self.made[origin]

    def at(self, as_of: date) -> Calibration:
        """The factor for a forecast made at ``as_of``: from the past forecasts whose outcome
        is known by then (origins ``as_of - horizon - 7 j``)."""
        log = self.log
        scores = []
        first = self.series.index[0]
        for j in range(ORIGINS):
            origin = as_of - timedelta(days=self.horizon + 7 * j)
            if origin < first:
                break
            made = self._past(origin)
            if made is not None:
                scores.append(score(*made, log=log))
        return _learnt(scores, log)


def calibrate_steps(values: np.ndarray, steps: int, simulations: int = SIMULATIONS) -> Calibration:
    """The factor for the forecast ``steps`` weeks after the weekly series ``values`` (a span
    metric's windows, :func:`tenure.advisor.forecast.simulate_steps`): from the series cut
    at each of the last :data:`ORIGINS` weeks whose ``steps``-th week ahead is known."""
    y = np.asarray(values, dtype="float64")
    log = bool((y >= 0).all())
    scores = []
    for j in range(ORIGINS):
        cut = len(y) - steps - j  # the values known at the origin
        if cut < MIN_HISTORY_WEEKS:
            break
        interval = _interval(simulate_steps(y[:cut], steps, simulations=simulations)[:, -1])
        if interval is not None:
            scores.append(score(float(y[cut + steps - 1]), *interval, log=log))
    return _learnt(scores, log)


__all__ = [
    "FITS",
    "LEVEL",
    "MIN_ORIGINS",
    "ORIGINS",
    "SIMULATIONS",
    "Calibration",
    "Calibrator",
    "calibrate_steps",
    "conformal_factor",
    "score",
]

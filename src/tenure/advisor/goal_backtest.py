"""The goals' forecast backtest: at many cut-off days of a store's history, forecast a goal
over the next period (a month, a quarter) from the history up to the cut-off only, and count
how often the stated 80% interval holds the value that came (docs/advisor.md, "Coverage").
The stated interval is the calibrated one (:mod:`tenure.advisor.calibration`, learnt from the
history up to the cut-off only); the model's own is counted beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from tenure.advisor.calibration import Calibrator
from tenure.advisor.forecast import simulate
from tenure.advisor.goal_forecast import Goal, forecast_goal
from tenure.advisor.goal_metrics import (
    SPAN,
    Scope,
    combine,
    components,
    daily,
    person_days,
    span_value,
)
from tenure.analytics.base import store_end
from tenure.store import Store


@dataclass(frozen=True)
class Coverage:
    """The backtest of one metric and goal length: ``cutoffs`` forecasts, ``covered`` of
    them holding the outcome in their stated (calibrated) 80% interval, ``raw_covered`` in
    the model's own; ``rows`` one per cut-off (cutoff, outcome, low, median, high, covered,
    raw_low, raw_high, raw_covered, factor: None where too few past forecasts)."""

    metric: str
    days: int
    cutoffs: int
    covered: int
    rows: pd.DataFrame
    raw_covered: int | None = 0

    @property
    def rate(self) -> float | None:
        return None if self.cutoffs == 0 else self.covered / self.cutoffs

    @property
    def raw_rate(self) -> float | None:
        """The model's own coverage (None for a span metric: not kept by its forecast)."""
        if self.cutoffs == 0 or self.raw_covered is None:
            return None
        return self.raw_covered / self.cutoffs

    @property
    def calibrated(self) -> int:
        """The cut-offs whose interval was calibrated (enough past forecasts)."""
        return int(self.rows["factor"].notna().sum()) if self.cutoffs else 0

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "days": self.days,
            "cutoffs": self.cutoffs,
            "covered": self.covered,
            "coverage": self.rate,
            "calibrated": self.calibrated,
            "raw_covered": self.raw_covered,
            "raw_coverage": self.raw_rate,
        }


def backtest_coverage(
    store: Store,
    metric: str,
    days: int,
    *,
    every: int = 14,
    warmup: int = 120,
    simulations: int = 1000,
) -> Coverage:
    """Coverage of the 80% interval of ``metric`` over goals of ``days`` days starting the
    day after each cut-off: cut-offs every ``every`` days from ``warmup`` days after the
    first order to the last one whose goal period has ended. A span metric is forecast by
    :func:`~tenure.advisor.goal_forecast.forecast_goal` itself, from the rows up to the
    cut-off (its model's own interval is not counted)."""
    end = store_end(store)
    frame = person_days(store, Scope(), end)
    first = min(frame["day"])
    series = daily(frame, first, end)
    rows = []
    cutoff = first + timedelta(days=warmup - 1)
    while cutoff + timedelta(days=days) <= end:
        if metric in SPAN:
            rows.append(_span(frame, metric, cutoff, days))
        else:
            rows.append(_one(series, metric, cutoff, days, simulations))
        cutoff += timedelta(days=every)
    table = pd.DataFrame(rows, columns=COLUMNS)
    raw = None if metric in SPAN else int(table["raw_covered"].sum())
    return Coverage(metric, days, len(table), int(table["covered"].sum()), table, raw)


#: The columns of :attr:`Coverage.rows`.
COLUMNS = [
    "cutoff",
    "outcome",
    "low",
    "median",
    "high",
    "covered",
    "raw_low",
    "raw_high",
    "raw_covered",
    "factor",
]


def _one(
    series: pd.DataFrame, metric: str, cutoff: date, days: int, simulations: int
) -> tuple[object, ...]:
    """The forecast made at ``cutoff`` as :func:`~tenure.advisor.goal_forecast.forecast_goal`
    makes it (the model fitted to the history up to the cut-off, its interval calibrated on
    the forecasts of that history), against the outcome."""
    at = (cutoff - series.index[0]).days + 1
    history = series.iloc[:at]
    future = series.iloc[at : at + days]
    parts = components(metric)
    outcome = float(combine(metric, [float(future[c].sum()) for c in parts]))
    paths = [
        simulate(history[c], days, simulations=simulations, random_state=i)
        for i, c in enumerate(parts)
    ]
    values = np.asarray(combine(metric, [p.values.sum(axis=1) for p in paths]), dtype="float64")
    calibration = Calibrator(history, metric, days).at(cutoff)
    raw_low, raw_high = (float(v) for v in np.nanquantile(values, [0.1, 0.9]))
    stated = calibration.apply(values[:, None])[:, 0]
    low, median, high = (float(v) for v in np.nanquantile(stated, [0.1, 0.5, 0.9]))
    return (
        cutoff,
        outcome,
        low,
        median,
        high,
        bool(low <= outcome <= high),
        raw_low,
        raw_high,
        bool(raw_low <= outcome <= raw_high),
        calibration.factor,
    )


def _span(frame: pd.DataFrame, metric: str, cutoff: date, days: int) -> tuple[object, ...]:
    """The span metric's goal of ``days`` days after ``cutoff``, forecast from the rows up
    to the cut-off, against the outcome."""
    start, deadline = cutoff + timedelta(days=1), cutoff + timedelta(days=days)
    goal = Goal(0, "backtest", metric, Scope(), "", start, deadline, None, None, start, deadline)
    p = forecast_goal(frame[frame["day"] <= cutoff], goal, cutoff)
    outcome = span_value(frame, metric, start, deadline)
    known = None not in (p.low, p.high, outcome)
    covered = known and p.low <= outcome <= p.high  # type: ignore[operator]
    factor = None if p.calibration is None else p.calibration.factor
    nan = float("nan")
    return (cutoff, outcome, p.low, p.forecast, p.high, bool(covered), nan, nan, False, factor)


__all__ = ["COLUMNS", "Coverage", "backtest_coverage"]

"""The goals' forecast backtest: at many cut-off days of a store's history, forecast a goal
over the next period (a month, a quarter) from the history up to the cut-off only, and count
how often the stated 80% interval holds the value that came (docs/advisor.md, "Coverage").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from tenure.advisor.forecast import simulate
from tenure.advisor.goal_metrics import Scope, combine, components, daily, person_days
from tenure.analytics.base import store_end
from tenure.store import Store


@dataclass(frozen=True)
class Coverage:
    """The backtest of one metric and goal length: ``cutoffs`` forecasts, ``covered`` of
    them holding the outcome in their 80% interval; ``rows`` one per cut-off (cutoff,
    outcome, low, median, high, covered)."""

    metric: str
    days: int
    cutoffs: int
    covered: int
    rows: pd.DataFrame

    @property
    def rate(self) -> float | None:
        return None if self.cutoffs == 0 else self.covered / self.cutoffs

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "days": self.days,
            "cutoffs": self.cutoffs,
            "covered": self.covered,
            "coverage": self.rate,
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
    """Coverage of the 80% interval of ``metric`` (additive or aov) over goals of ``days``
    days starting the day after each cut-off: cut-offs every ``every`` days from ``warmup``
    days after the first order to the last one whose goal period has ended."""
    end = store_end(store)
    frame = person_days(store, Scope(), end)
    first = min(frame["day"])
    series = daily(frame, first, end)
    rows = []
    cutoff = first + timedelta(days=warmup - 1)
    while cutoff + timedelta(days=days) <= end:
        rows.append(_one(series, metric, cutoff, days, simulations))
        cutoff += timedelta(days=every)
    table = pd.DataFrame(rows, columns=["cutoff", "outcome", "low", "median", "high", "covered"])
    return Coverage(metric, days, len(table), int(table["covered"].sum()), table)


def _one(
    series: pd.DataFrame, metric: str, cutoff: date, days: int, simulations: int
) -> tuple[object, ...]:
    history = series.loc[[d for d in series.index if d <= cutoff]]
    future = series.loc[[d for d in series.index if cutoff < d <= cutoff + timedelta(days=days)]]
    parts = components(metric)
    outcome = float(combine(metric, [float(future[c].sum()) for c in parts]))
    sums = [
        simulate(history[c], days, simulations=simulations, random_state=i).values.sum(axis=1)
        for i, c in enumerate(parts)
    ]
    values = np.asarray(combine(metric, sums), dtype="float64")
    low, median, high = (float(v) for v in np.quantile(values, [0.1, 0.5, 0.9]))
    return (cutoff, outcome, low, median, high, bool(low <= outcome <= high))


__all__ = ["Coverage", "backtest_coverage"]

"""A goal's progress and its forecast, from the per-person days of its scope
(:func:`tenure.advisor.goal_metrics.person_days`): the result objects of the goals
(:class:`Goal`, :class:`Progress`, :class:`FanPoint`, each with a plain JSON ``to_dict()``:
unknown is None) and :func:`forecast_goal` (docs/advisor.md, "Goals and their forecast").

* An additive metric (revenue, margin, orders, new customers): the daily series from the
  scope's first order to the as-of day is simulated to the deadline
  (:func:`tenure.advisor.forecast.simulate`); each path's value is the sum to date plus its
  days of the goal period.
* aov: numerator (purchase revenue) and denominator (purchases) are simulated each on its
  own and divided per path, after adding the sums to date.
* The 80% interval and the fan are calibrated on the store's own past forecasts of the same
  quantity (:mod:`tenure.advisor.calibration`).
* A span metric (customers, purchase frequency, repeat rate): measured over every window of
  the goal's length ending a whole number of weeks before the as-of day, that weekly series
  is simulated (:func:`tenure.advisor.forecast.simulate_steps`) to the window that ends at
  the deadline, the goal period itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from tenure.advisor.calibration import MIN_ORIGINS, Calibration, Calibrator, calibrate_steps
from tenure.advisor.forecast import FAN_QUANTILES, quantiles, simulate, simulate_steps
from tenure.advisor.goal_metrics import (
    ADDITIVE,
    SPAN,
    Scope,
    combine,
    components,
    daily,
    span_value,
)
from tenure.advisor.sentence import N_, Sentence
from tenure.errors import ForecastError

#: The most points of a fan (a longer goal is drawn every few days).
FAN_POINTS = 60


def json_number(value: float | None) -> float | None:
    """``value`` as a JSON number: None for unknown, NaN or infinite."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return float(value)


@dataclass(frozen=True)
class Goal:
    """A stored goal. ``change`` is the target as typed; ``target_value`` what it means
    against ``baseline_value`` (None: the baseline is unknown, so a relative target is too)."""

    goal_id: int
    text: str
    metric: str
    scope: Scope
    change: str
    baseline_start: date
    baseline_end: date
    baseline_value: float | None
    target_value: float | None
    start: date
    deadline: date
    created_at: datetime | None = None

    @property
    def increase(self) -> bool:
        """Whether the goal is to reach at least the target (else at most: a decrease)."""
        if self.target_value is None or self.baseline_value is None:
            return True
        return self.target_value >= self.baseline_value

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal_id": self.goal_id,
            "text": self.text,
            "metric": self.metric,
            "scope": self.scope.kind,
            "scope_value": self.scope.value,
            "change": self.change,
            "direction": "at_least" if self.increase else "at_most",
            "baseline_start": self.baseline_start.isoformat(),
            "baseline_end": self.baseline_end.isoformat(),
            "baseline_value": json_number(self.baseline_value),
            "target_value": json_number(self.target_value),
            "start": self.start.isoformat(),
            "deadline": self.deadline.isoformat(),
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class FanPoint:
    """The forecast's quantiles of the metric over the goal period so far, at ``day``
    (``q`` maps 0.025 ... 0.975 to the value)."""

    day: date
    q: dict[float, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), **{f"q{k:g}": v for k, v in self.q.items()}}


@dataclass
class Progress:
    """A goal measured as of ``as_of``: the value from its start to then, and the forecast
    of the value over the whole period (median, 80% interval, P(meet), the fan). A figure
    that cannot be had is None and ``note`` says why."""

    goal: Goal
    as_of: date
    value_to_date: float | None
    days_elapsed: int
    days_total: int
    forecast: float | None = None
    low: float | None = None
    high: float | None = None
    p_meet: float | None = None
    on_track: bool | None = None
    model: str | None = None
    fan: list[FanPoint] = field(default_factory=list)
    note: str | None = None
    currency: str | None = None
    calibration: Calibration | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal.to_dict(),
            "as_of": self.as_of.isoformat(),
            "value_to_date": json_number(self.value_to_date),
            "days_elapsed": self.days_elapsed,
            "days_total": self.days_total,
            "forecast": json_number(self.forecast),
            "low": json_number(self.low),
            "high": json_number(self.high),
            "interval": 0.8,
            "p_meet": json_number(self.p_meet),
            "on_track": self.on_track,
            "model": self.model,
            "fan": [p.to_dict() for p in self.fan],
            "note": self.note,
            "currency": self.currency,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
        }


def _meets(goal: Goal, value: np.ndarray) -> np.ndarray:
    target = float(goal.target_value)  # type: ignore[arg-type]
    return value >= target if goal.increase else value <= target


def _fan(days: list[date], values: np.ndarray) -> list[FanPoint]:
    """Quantiles per day of ``values`` (paths x days), at most :data:`FAN_POINTS` days (the
    last always)."""
    step = max(1, -(-len(days) // FAN_POINTS))
    picks = sorted({*range(len(days) - 1, -1, -step)})
    return [
        FanPoint(
            days[j],
            dict(zip(FAN_QUANTILES, map(json_number, quantiles(values[:, j])), strict=True)),
        )
        for j in picks
    ]


def _summarise(p: Progress, values: np.ndarray, days: list[date], model: str) -> None:
    final = values[:, -1]
    final = final[np.isfinite(final)]
    if final.size == 0:
        p.note = Sentence(
            N_("No forecast: the simulated values are unknown (no purchase to divide by).")
        )
        return
    low, median, high = (float(v) for v in np.quantile(final, [0.1, 0.5, 0.9]))
    p.forecast, p.low, p.high, p.model = median, low, high, model
    p.fan = _fan(days, values)
    if p.goal.target_value is None:
        p.note = Sentence(
            N_("The baseline is unknown (no order in it), so the target is too: no P(meet).")
        )
        return
    p.p_meet = float(np.mean(_meets(p.goal, final)))
    p.on_track = bool(_meets(p.goal, np.array([median]))[0])


def _daily_forecast(frame: pd.DataFrame, p: Progress, random_state: int) -> None:
    goal, as_of = p.goal, p.as_of
    first = min(frame["day"])
    series = daily(frame, first, as_of)
    horizon = (goal.deadline - as_of).days
    skip = max(0, (goal.start - as_of).days - 1)  # forecast days before the goal starts
    counted = series.loc[[d for d in series.index if goal.start <= d <= as_of]].sum()
    sums = []
    model = ""
    for i, column in enumerate(components(goal.metric)):
        paths = simulate(series[column], horizon, random_state=random_state + i)
        model = paths.model
        sums.append(float(counted[column]) + np.cumsum(paths.values[:, skip:], axis=1))
    values = np.asarray(combine(goal.metric, sums), dtype="float64")
    calibration = Calibrator(series, goal.metric, horizon, skip).at(as_of)
    base = float(counted[goal.metric]) if goal.metric in ADDITIVE else 0.0
    values = calibration.apply(values, base)
    days = [as_of + timedelta(days=skip + 1 + j) for j in range(values.shape[1])]
    _calibrated(p, calibration, values, days, model)


def _calibrated(
    p: Progress, calibration: Calibration, values: np.ndarray, days: list[date], model: str
) -> None:
    """``p`` summarised from the calibrated ``values``, saying so when the interval is the
    model's own (too few past forecasts)."""
    p.calibration = calibration
    _summarise(p, values, days, model)
    if p.note is None and p.forecast is not None and calibration.factor is None:
        p.note = Sentence(
            N_(
                "The interval is the model's own, not yet checked against this store: "
                "that needs %(need)s past forecasts of the same length, and the history "
                "allows %(have)s."
            ),
            {"need": MIN_ORIGINS, "have": calibration.forecasts},
            {"need": "count", "have": "count"},
        )


def _span_forecast(frame: pd.DataFrame, p: Progress, random_state: int) -> None:
    goal, as_of = p.goal, p.as_of
    first = min(frame["day"])
    length = p.days_total
    ends = []
    end = as_of
    while end - timedelta(days=length - 1) >= first:
        ends.append(end)
        end -= timedelta(days=7)
    measured = [span_value(frame, goal.metric, e - timedelta(days=length - 1), e) for e in ends]
    series = np.array([np.nan if v is None else v for v in reversed(measured)], dtype="float64")
    if np.isnan(series).any():
        raise ForecastError(
            Sentence(
                N_(
                    "No forecast: some past windows of the goal's length have no buyer, so the "
                    "%(metric)s of those windows is unknown."
                ),
                {"metric": goal.metric},
            ),
            hint="A shorter goal, or a wider scope, leaves fewer empty windows.",
        )
    steps = max(1, round((goal.deadline - as_of).days / 7))
    values = simulate_steps(series, steps, random_state=random_state)
    calibration = calibrate_steps(series, steps)
    values = calibration.apply(values)
    days = [min(as_of + timedelta(days=7 * (j + 1)), goal.deadline) for j in range(steps)]
    _calibrated(p, calibration, values, days, "ETS(A,Ad,N) on weekly windows")


def forecast_goal(
    frame: pd.DataFrame, goal: Goal, as_of: date, *, random_state: int = 0
) -> Progress:
    """``goal`` measured on ``frame`` (:func:`~tenure.advisor.goal_metrics.person_days` of its
    scope up to ``as_of``) and forecast to its deadline. Past the deadline the value is final
    (forecast = value, P(meet) 0 or 1); a forecast the history cannot support is None with
    the reason in ``note``."""
    total = (goal.deadline - goal.start).days + 1
    seen_to = min(as_of, goal.deadline)
    elapsed = max(0, min(total, (seen_to - goal.start).days + 1))
    to_date = span_value(frame, goal.metric, goal.start, seen_to) if elapsed else None
    if to_date is None and goal.metric in ADDITIVE:  # nothing counted yet is 0
        to_date = 0.0
    p = Progress(goal, as_of, to_date, elapsed, total)
    if as_of >= goal.deadline:
        p.forecast = p.low = p.high = to_date
        p.model, p.note = "final", Sentence(N_("The deadline has passed: the value is final."))
        if to_date is not None and goal.target_value is not None:
            met = bool(_meets(goal, np.array([to_date]))[0])
            p.p_meet, p.on_track = float(met), met
        return p
    if frame.empty:
        p.note = Sentence(N_("No forecast: the scope has no order yet."))
        return p
    try:
        if goal.metric in SPAN:
            _span_forecast(frame, p, random_state)
        else:
            _daily_forecast(frame, p, random_state)
    except ForecastError as exc:
        p.note = exc.message
    return p


__all__ = ["FAN_POINTS", "FanPoint", "Goal", "Progress", "Scope", "forecast_goal", "json_number"]

"""The Advisor page's goals: one row per goal (``tenure goals list``) with its progress and
forecast as of the page's day (:func:`tenure.advisor.goals.goal_progress`, ``tenure goals
show ID --json``), and a forecast fan for the first few goals still running.

A forecast simulates a thousand paths (about a second a goal): the page forecasts the first
:data:`FORECASTS` goals (by id) and draws the fan of the first :data:`FANS` of them still
before their deadline; ``tenure goals show ID`` forecasts any other.
"""

from __future__ import annotations

from datetime import date

from tenure.advisor.goal_forecast import Goal, Progress
from tenure.advisor.goal_metrics import MONEY, RATES
from tenure.advisor.goals import goal_progress, list_goals
from tenure.dashboard.model import N_, Chart, Column, Section, Series, Table, Unit, Value
from tenure.dashboard.pages.common import money, value
from tenure.store import Store

#: Goals forecast on the page, and fans drawn.
FORECASTS, FANS = 8, 4
#: The fan's bands: (low, high) quantiles, widest first.
BANDS = (
    (0.025, 0.975, N_("95% interval, low"), N_("95% interval, high")),
    (0.1, 0.9, N_("80% interval, low"), N_("80% interval, high")),
)
COLUMNS = (
    Column("goal_id", N_("Goal"), "count", "dash-advisor-goal"),
    Column("text", N_("Goal as written"), "text", "dash-advisor-goal"),
    Column("metric", N_("Metric"), "text", "dash-advisor-goal"),
    Column("scope", N_("Scope"), "text", "dash-advisor-goal"),
    Column("baseline", N_("Baseline"), "number", "dash-advisor-goal"),
    Column("target", N_("Target"), "number", "dash-advisor-goal"),
    Column("start", N_("Start"), "date", "dash-advisor-goal"),
    Column("deadline", N_("Deadline"), "date", "dash-advisor-goal"),
    Column("value_to_date", N_("Value to date"), "number", "dash-advisor-goal"),
    Column("forecast", N_("Forecast"), "number", "dash-advisor-goal-forecast"),
    Column("low", N_("80% low"), "number", "dash-advisor-goal-forecast"),
    Column("high", N_("80% high"), "number", "dash-advisor-goal-forecast"),
    Column("p_meet", N_("Chance to meet"), "share", "dash-advisor-goal-forecast"),
    Column("on_track", N_("On track"), "text", "dash-advisor-goal-forecast"),
    Column("note", N_("Note"), "text", "dash-advisor-goal-forecast"),
)
NO_GOAL = N_('No goal yet: `tenure goals add "revenue +7% in 3 months"`.')
UNITS = N_(
    "Money figures are in the reporting currency; a rate (repeat rate) is a share: 0.25 is "
    "25%. The forecast is the median of the simulated outcomes at the deadline."
)
CALIBRATED = N_(
    "Each interval is calibrated on the store's own past forecasts of the same length: "
    "stretched where they missed more often than they should, narrowed where they were too "
    "cautious (a note says when there are too few of them yet)."
)
NOT_FORECAST = N_(
    "Only the first 8 goals are forecast on the page: `tenure goals show ID` forecasts any."
)


def unit_of(metric: str) -> Unit:
    """How a goal's figures are drawn: money, a share (a rate) or a number."""
    if metric in MONEY:
        return "money"
    return "share" if metric in RATES else "number"


def _figure(raw: float | None, metric: str, currency: str) -> Value:
    """A goal's figure: money at the currency's minor unit, anything else as it is."""
    return money(raw, currency) if metric in MONEY else value(raw)


def _track(on_track: bool | None) -> str | None:
    return None if on_track is None else N_("yes") if on_track else N_("no")


def _row(goal: Goal, p: Progress | None, currency: str) -> tuple[Value, ...]:
    def fig(raw: float | None) -> Value:
        return _figure(raw, goal.metric, currency)

    head = (
        goal.goal_id,
        goal.text,
        goal.metric,
        goal.scope.value or goal.scope.kind,
        fig(goal.baseline_value),
        fig(goal.target_value),
        goal.start.isoformat(),
        goal.deadline.isoformat(),
    )
    if p is None:
        return (*head, None, None, None, None, None, None, "")
    return (
        *head,
        fig(p.value_to_date),
        fig(p.forecast),
        fig(p.low),
        fig(p.high),
        value(p.p_meet),
        _track(p.on_track),
        p.note or "",
    )


def fan_chart(p: Progress, currency: str) -> Chart:
    """The forecast fan of ``p``: the median, the 95% and 80% bands, the target (dashed)."""
    metric = p.goal.metric

    def line(q: float) -> tuple[Value, ...]:
        return tuple(_figure(point.q.get(q), metric, currency) for point in p.fan)

    series = [Series(N_("Median forecast"), line(0.5))]
    for low, high, low_name, high_name in BANDS:
        series += [Series(low_name, line(low)), Series(high_name, line(high))]
    target = _figure(p.goal.target_value, metric, currency)
    series.append(Series(N_("Target"), tuple(target for _ in p.fan)))
    x = tuple(point.day.isoformat() for point in p.fan)
    return Chart(f"goal_{p.goal.goal_id}", p.goal.text, "fan", x, tuple(series), unit_of(metric))


def section(store: Store, end: date, currency: str) -> Section:
    """The goals section as of ``end`` (module docstring)."""
    goals = list_goals(store)
    if not goals:
        empty = Table("goals", N_("Goals and their forecast"), COLUMNS, ())
        return Section("goals", N_("Goals"), tables=(empty,), notes=(NO_GOAL,))
    rows: list[tuple[Value, ...]] = []
    charts: list[Chart] = []
    for index, goal in enumerate(goals):
        p = goal_progress(store, goal, as_of=end) if index < FORECASTS else None
        rows.append(_row(goal, p, currency))
        if p is not None and p.fan and end < goal.deadline and len(charts) < FANS:
            charts.append(fan_chart(p, currency))
    notes = [UNITS, CALIBRATED] + ([NOT_FORECAST] if len(goals) > FORECASTS else [])
    table = Table("goals", N_("Goals and their forecast"), COLUMNS, tuple(rows))
    return Section("goals", N_("Goals"), charts=tuple(charts), tables=(table,), notes=tuple(notes))


__all__ = ["BANDS", "FANS", "FORECASTS", "fan_chart", "section", "unit_of"]

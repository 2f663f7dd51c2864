"""Goals: a KPI to move by a deadline, its progress to date and a forecast of whether it will
be met (docs/advisor.md, "Goals and their forecast").

``add_goal(store, "revenue +7% in 3 months")`` (or the same by keyword arguments) stores a
goal in ``goals``; :func:`goal_progress` measures it and forecasts it
(:mod:`tenure.advisor.forecast`); :func:`record_progress` appends one ``goal_progress`` row
per active goal (the pipeline's ``goals`` step, at every ``tenure run``).

The grammar of a goal's text::

    <metric> <change> in <n> days|weeks|months|quarters|years
    <metric> <change> by <YYYY-MM-DD>

``<metric>``: one of :data:`~tenure.advisor.goal_metrics.METRICS` (spaces or underscores;
``sales`` is revenue). ``<change>``: ``+7%`` / ``-5%`` (relative to the baseline), ``+2pt``
(points of a rate: +0.02), ``+500`` / ``-3`` (units added to the baseline) or ``55`` (the
value to reach).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from tenure.advisor.goal_forecast import FanPoint, Goal, Progress, forecast_goal, json_number
from tenure.advisor.goal_metrics import RATES, Scope, check_metric, person_days, span_value
from tenure.analytics.base import store_end
from tenure.errors import ConfigError, NotFoundError
from tenure.store import Store, reporting_currency

TABLE = "goals"
PROGRESS = "goal_progress"
#: Written where a goal's text does not parse.
GRAMMAR = (
    "Write '<metric> <change> in <n> days|weeks|months|quarters|years' or "
    "'<metric> <change> by YYYY-MM-DD', e.g. 'revenue +7% in 3 months', "
    "'orders +10% by 2027-03-31', 'aov 55 by 2027-06-30', 'repeat_rate +2pt in 6 weeks'."
)
_TEXT = re.compile(
    r"^\s*(?P<metric>[a-z][a-z _-]*?)\s+(?P<change>[+-]?\d+(?:\.\d+)?\s*(?:%|pts?|pp)?)\s+"
    r"(?:(?:in|within)\s+(?:the\s+next\s+)?(?P<n>\d+)\s*(?P<unit>days?|weeks?|months?|"
    r"quarters?|years?)|by\s+(?P<by>\d{4}-\d{2}-\d{2}))\s*$",
    re.IGNORECASE,
)
_CHANGE = re.compile(r"^(?P<sign>[+-])?(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>%|pts?|pp)?$")


# --------------------------------------------------------------------------- parsing
def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months (the 31st becomes the month's last day)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_end(start: date, n: int, unit: str) -> date:
    """The last day of ``n`` ``unit`` (day, week, month, quarter, year) from ``start``."""
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return start + timedelta(days=n - 1)
    if unit == "week":
        return start + timedelta(weeks=n) - timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    return add_months(start, n * months) - timedelta(days=1)


@dataclass(frozen=True)
class Target:
    """A parsed change: ``kind`` pct, pt, delta (units added) or value (to reach)."""

    kind: str
    amount: float
    text: str

    def apply(self, baseline: float | None) -> float | None:
        if self.kind == "value":
            return self.amount
        if baseline is None:
            return None
        if self.kind == "pct":
            return baseline * (1 + self.amount / 100)
        if self.kind == "pt":
            return baseline + self.amount / 100
        return baseline + self.amount


def parse_change(text: str, metric: str) -> Target:
    """``+7%``, ``-5%``, ``+2pt``, ``+500`` or ``55`` as a :class:`Target`."""
    m = _CHANGE.match(text.strip().lower())
    if m is None:
        raise ConfigError(
            f"Cannot read the target {text!r}.",
            hint="Write +7% or -5% (relative), +2pt (points of a rate), +500 (units added) "
            "or 55 (the value to reach).",
        )
    sign = -1.0 if m["sign"] == "-" else 1.0
    amount = sign * float(m["number"])
    unit = m["unit"]
    if unit and unit.startswith("p"):
        if metric not in RATES:
            raise ConfigError(
                f"A target in points ({text!r}) is for a rate, and {metric} is not one.",
                hint=f"Rates: {', '.join(RATES)}. Write +7% or a value for {metric}.",
            )
        return Target("pt", amount, text.strip())
    if unit == "%":
        return Target("pct", amount, text.strip())
    return Target("delta" if m["sign"] else "value", amount, text.strip())


@dataclass(frozen=True)
class GoalSpec:
    """A goal's text read: metric, target, deadline (or a span from the start)."""

    metric: str
    target: Target
    deadline: date | None = None
    span: tuple[int, str] | None = None


def parse_goal(text: str) -> GoalSpec:
    """Read a goal's text (module docstring); a ConfigError with the grammar otherwise."""
    m = _TEXT.match(text)
    if m is None:
        raise ConfigError(f"Cannot read the goal {text!r}.", hint=GRAMMAR)
    metric = check_metric(m["metric"])
    target = parse_change(m["change"].replace(" ", ""), metric)
    if m["by"]:
        return GoalSpec(metric, target, deadline=_day("deadline", m["by"]))
    n = int(m["n"])
    if n < 1:
        raise ConfigError(f"The goal {text!r} lasts {n} {m['unit']}.", hint=GRAMMAR)
    return GoalSpec(metric, target, span=(n, m["unit"].lower()))


def _day(name: str, value: date | str | None) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"The {name} must be a date (YYYY-MM-DD). Got {value!r}.",
            hint=f"Pass the {name} as YYYY-MM-DD.",
        ) from None


# --------------------------------------------------------------------------- storage
def _scope(channel: str | None, segment: str | None) -> Scope:
    if channel and segment:
        raise ConfigError(
            "A goal is for one channel or one segment, not both.",
            hint="Pass --channel or --segment, or neither (the whole store).",
        )
    if channel:
        return Scope("channel", channel)
    if segment:
        return Scope("segment", segment)
    return Scope()


def _next_id(store: Store) -> int:
    value = store.table(TABLE).goal_id.max().execute()
    return 1 if value is None or value != value else int(value) + 1


def add_goal(
    store: Store,
    text: str | None = None,
    *,
    metric: str | None = None,
    target: str | None = None,
    deadline: date | str | None = None,
    start: date | str | None = None,
    baseline_start: date | str | None = None,
    baseline_end: date | str | None = None,
    channel: str | None = None,
    segment: str | None = None,
) -> Goal:
    """Store a goal, from ``text`` (the grammar of the module) or from ``metric``, ``target``
    (as in the text: ``+7%``, ``+2pt``, ``55``) and ``deadline``; ``start`` defaults to the
    day after the store's as-of day, the baseline to the period of the same length just
    before ``start``. The baseline's value is measured now and kept with the goal."""
    if text is not None:
        spec = parse_goal(text)
    elif metric is None or target is None or deadline is None:
        raise ConfigError(
            "A goal needs its text, or a metric, a target and a deadline.",
            hint=GRAMMAR + " Or pass --metric, --target and --deadline.",
        )
    else:
        name = check_metric(metric)
        spec = GoalSpec(name, parse_change(target, name), deadline=_day("deadline", deadline))
    as_of = store_end(store)
    first = _day("start", start) if start is not None else as_of + timedelta(days=1)
    last = spec.deadline or period_end(first, *spec.span)  # type: ignore[misc]
    if last < first:
        raise ConfigError(
            f"The deadline {last} is before the goal's start {first}.",
            hint="Pass a later deadline (or an earlier --start).",
        )
    length = (last - first).days + 1
    b_end = _day("baseline end", baseline_end) if baseline_end else first - timedelta(days=1)
    b_start = (
        _day("baseline start", baseline_start) if baseline_start else b_end - timedelta(length - 1)
    )
    if b_start > b_end:
        raise ConfigError(
            f"The baseline starts ({b_start}) after it ends ({b_end}).",
            hint="Swap --baseline-start and --baseline-end.",
        )
    scope = _scope(channel, segment)
    frame = person_days(store, scope, max(as_of, b_end))
    baseline = span_value(frame, spec.metric, b_start, b_end)
    goal = Goal(
        goal_id=_next_id(store),
        text=text if text is not None else f"{spec.metric} {spec.target.text} by {last}",
        metric=spec.metric,
        scope=scope,
        change=spec.target.text,
        baseline_start=b_start,
        baseline_end=b_end,
        baseline_value=baseline,
        target_value=spec.target.apply(baseline),
        start=first,
        deadline=last,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    store.insert(TABLE, pa.Table.from_pylist([_row(goal)], schema=_arrow(TABLE)))
    return goal


def _arrow(name: str) -> pa.Schema:
    return Store.spec(name).schema.to_pyarrow()


def _row(goal: Goal) -> dict[str, Any]:
    row = goal.to_dict()
    row.pop("direction")
    for key in ("baseline_start", "baseline_end", "start", "deadline"):
        row[key] = getattr(goal, key)
    row["created_at"] = goal.created_at
    return row


def _goal(row: dict[str, Any]) -> Goal:
    def day(v: Any) -> date:
        return pd.Timestamp(v).date()

    return Goal(
        goal_id=int(row["goal_id"]),
        text=str(row["text"]),
        metric=str(row["metric"]),
        scope=Scope(str(row["scope"]), row["scope_value"]),
        change=str(row["change"]),
        baseline_start=day(row["baseline_start"]),
        baseline_end=day(row["baseline_end"]),
        baseline_value=json_number(row["baseline_value"]),
        target_value=json_number(row["target_value"]),
        start=day(row["start"]),
        deadline=day(row["deadline"]),
        created_at=None if row["created_at"] is None else pd.Timestamp(row["created_at"]),
    )


def list_goals(store: Store) -> list[Goal]:
    """Every stored goal, by id."""
    rows = store.table(TABLE).order_by("goal_id").to_pyarrow().to_pylist()
    return [_goal(r) for r in rows]


def get_goal(store: Store, goal_id: int) -> Goal:
    """The goal ``goal_id``; a NotFoundError naming the ids there are otherwise."""
    for goal in list_goals(store):
        if goal.goal_id == goal_id:
            return goal
    ids = ", ".join(str(g.goal_id) for g in list_goals(store)) or "none yet"
    raise NotFoundError(
        f"No goal with id {goal_id}.", hint=f"Goals: {ids}. `tenure goals list` shows them."
    )


def remove_goal(store: Store, goal_id: int) -> Goal:
    """Delete goal ``goal_id`` and its recorded progress; return it."""
    goal = get_goal(store, goal_id)
    store.delete_where(PROGRESS, lambda t: t.goal_id == goal_id)
    store.delete_where(TABLE, lambda t: t.goal_id == goal_id)
    return goal


def goal_history(store: Store, goal_id: int) -> pd.DataFrame:
    """The progress rows recorded for goal ``goal_id``, oldest first."""
    t = store.table(PROGRESS)
    return t.filter(t.goal_id == goal_id).order_by("run_at").to_pandas()


# --------------------------------------------------------------------------- progress
def goal_progress(
    store: Store, goal: Goal | int, *, as_of: date | None = None, random_state: int = 0
) -> Progress:
    """Goal ``goal`` measured as of ``as_of`` (default: the store's as-of day) and its
    forecast (:func:`tenure.advisor.goal_forecast.forecast_goal`); ``random_state`` seeds
    the simulation (the same seed, the same figures)."""
    g = get_goal(store, goal) if isinstance(goal, int) else goal
    day = as_of or store_end(store)
    frame = person_days(store, g.scope, day)
    progress = forecast_goal(frame, g, day, random_state=random_state)
    progress.currency = reporting_currency(store)
    return progress


def record_progress(store: Store, as_of: date, run_at: datetime | None = None) -> int:
    """Append a ``goal_progress`` row for every active goal (deadline not passed, or passed
    with no row on or after it yet: its final value); return the rows written."""
    at = run_at or datetime.now(UTC).replace(tzinfo=None)
    recorded = store.table(PROGRESS).to_pandas()
    rows = []
    for goal in list_goals(store):
        done = recorded[
            (recorded["goal_id"] == goal.goal_id)
            & (pd.to_datetime(recorded["as_of"]).dt.date >= goal.deadline)
        ]
        if as_of > goal.deadline and len(done):
            continue
        p = goal_progress(store, goal, as_of=as_of)
        rows.append(
            {
                "goal_id": goal.goal_id,
                "run_at": at,
                "as_of": as_of,
                "value_to_date": json_number(p.value_to_date),
                "forecast": json_number(p.forecast),
                "low": json_number(p.low),
                "high": json_number(p.high),
                "p_meet": json_number(p.p_meet),
                "on_track": p.on_track,
                "note": p.note,
            }
        )
    if rows:
        store.insert(PROGRESS, pa.Table.from_pylist(rows, schema=_arrow(PROGRESS)))
    return len(rows)


__all__ = [
    "GRAMMAR",
    "PROGRESS",
    "TABLE",
    "FanPoint",
    "Goal",
    "GoalSpec",
    "Progress",
    "Target",
    "add_goal",
    "add_months",
    "get_goal",
    "goal_history",
    "goal_progress",
    "list_goals",
    "parse_change",
    "parse_goal",
    "period_end",
    "record_progress",
    "remove_goal",
]

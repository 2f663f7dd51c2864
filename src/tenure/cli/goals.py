"""``tenure goals add / list / show / remove``: the store's goals, their progress and
forecast (docs/advisor.md, "Goals and their forecast"); each parses, calls one library
function of :mod:`tenure.advisor.goals` and prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tenure.cli.common import JsonOpt, StoreOpt, console, goals_app, kv_table, open_store
from tenure.cli.common import print_json as show_json
from tenure.cli.output import AsOfOpt, parse_day
from tenure.cli.render import plain

if TYPE_CHECKING:
    from tenure.advisor.goals import Goal, Progress

UNKNOWN = "unknown"


def _value(value: float | None, metric: str) -> str:
    if value is None:
        return UNKNOWN
    if metric == "repeat_rate":
        return f"{value:.1%}"
    if metric in ("orders", "new_customers", "customers"):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _scope(goal: Goal) -> str:
    return goal.scope.label()


@goals_app.command("add")
def add_command(
    text: Annotated[
        str | None,
        typer.Argument(help="The goal, e.g. 'revenue +7% in 3 months' (docs/advisor.md)."),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="The KPI (revenue, orders, aov...).")] = None,
    target: Annotated[
        str | None, typer.Option(help="+7% / -5%, +2pt (a rate), +500 (units) or 55 (a value).")
    ] = None,
    deadline: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    start: Annotated[
        str | None, typer.Option(help="First day (default: the day after the as-of day).")
    ] = None,
    baseline_start: Annotated[str | None, typer.Option(help="Baseline's first day.")] = None,
    baseline_end: Annotated[str | None, typer.Option(help="Baseline's last day.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only buyers of this channel.")] = None,
    segment: Annotated[str | None, typer.Option(help="Only members of this segment.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a goal: its text, or --metric, --target and --deadline."""
    from tenure.advisor.goals import add_goal

    with open_store(store) as st:
        goal = add_goal(
            st,
            text,
            metric=metric,
            target=target,
            deadline=deadline,
            start=start,
            baseline_start=baseline_start,
            baseline_end=baseline_end,
            channel=channel,
            segment=segment,
        )
    if as_json:
        show_json(goal.to_dict())
        return
    console.print(kv_table(f"Goal {goal.goal_id} added", _goal_rows(goal)))


def _goal_rows(goal: Goal) -> list[tuple[str, object]]:
    return [
        ("goal", goal.text),
        ("metric", goal.metric),
        ("scope", _scope(goal)),
        ("period", f"{goal.start} .. {goal.deadline}"),
        ("baseline", f"{goal.baseline_start} .. {goal.baseline_end}"),
        ("baseline value", _value(goal.baseline_value, goal.metric)),
        ("target", _value(goal.target_value, goal.metric)),
    ]


@goals_app.command("list")
def list_command(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The goals: metric, scope, period, baseline and target."""
    from tenure.advisor.goals import list_goals

    with open_store(store) as st:
        goals = list_goals(st)
    if as_json:
        show_json([g.to_dict() for g in goals])
        return
    if not goals:
        console.print("No goals yet: `tenure goals add 'revenue +7% in 3 months'` adds one.")
        return
    table = Table(title="Goals", title_justify="left")
    for name in ("id", "goal", "scope", "start", "deadline", "baseline", "target"):
        table.add_column(name, overflow="fold")
    for g in goals:
        table.add_row(
            str(g.goal_id),
            plain(g.text),
            plain(_scope(g)),
            str(g.start),
            str(g.deadline),
            _value(g.baseline_value, g.metric),
            _value(g.target_value, g.metric),
        )
    console.print(table)


@goals_app.command("show")
def show_command(
    goal_id: Annotated[int, typer.Argument(help="The goal's id (`tenure goals list`).")],
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A goal's progress to date and the forecast at its deadline (80% interval, P(meet))."""
    from tenure.advisor.goals import goal_progress

    with open_store(store) as st:
        progress = goal_progress(st, goal_id, as_of=parse_day(as_of))
    if as_json:
        show_json(progress.to_dict())
        return
    console.print(kv_table(f"Goal {goal_id}", _progress_rows(progress)))


def _progress_rows(p: Progress) -> list[tuple[str, object]]:
    g, m = p.goal, p.goal.metric
    interval = UNKNOWN if p.low is None else f"{_value(p.low, m)} .. {_value(p.high, m)}"
    rows = [
        *_goal_rows(g),
        ("as of", str(p.as_of)),
        ("days elapsed", f"{p.days_elapsed} of {p.days_total}"),
        ("to date", _value(p.value_to_date, m)),
        ("forecast", _value(p.forecast, m)),
        ("80% interval", interval),
        ("P(meet)", UNKNOWN if p.p_meet is None else f"{p.p_meet:.0%}"),
        ("on track", UNKNOWN if p.on_track is None else ("yes" if p.on_track else "no")),
        ("model", p.model or UNKNOWN),
        ("interval calibration", _calibration(p)),
    ]
    if p.note:
        rows.append(("note", p.note))
    return rows


def _calibration(p: Progress) -> str:
    """How the interval was calibrated on the store's past forecasts (docs/advisor.md)."""
    from tenure.advisor.calibration import MIN_ORIGINS

    c = p.calibration
    if c is None:
        return UNKNOWN
    if c.factor is None:
        return f"none: {c.forecasts} past forecasts ({MIN_ORIGINS} needed), the model's own"
    return f"x{c.factor:.2f} from {c.forecasts} past forecasts"


@goals_app.command("remove")
def remove_command(
    goal_id: Annotated[int, typer.Argument(help="The goal's id (`tenure goals list`).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a goal and its recorded progress."""
    from tenure.advisor.goals import remove_goal

    with open_store(store) as st:
        goal = remove_goal(st, goal_id)
    if as_json:
        show_json({"removed": goal.to_dict()})
        return
    console.print(f"Goal {goal.goal_id} removed: {goal.text}")

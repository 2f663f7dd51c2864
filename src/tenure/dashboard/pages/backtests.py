"""The last backtest of each flow, as the Flows page and a flow's page show it.

A backtest replays history through a flow (``tenure flows backtest``), far too long for a
page: the pages show the one each flow last ran, recorded in ``flow_backtests``
(:func:`tenure.engage.backtest_runs.last_backtests`), with when it ran, the span and
parameters replayed, its counts, the targeted persons' and the holdout's conversion, and its
messages per day by state; a flow never backtested gets the command that runs one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from tenure.dashboard.model import N_, Chart, Column, Section, Series, Table, Window
from tenure.dashboard.pages.common import FLOW_LINK, frame_table, one_series_chart, values
from tenure.engage.backtest_runs import BacktestResult

#: A backtest's figures: a row of the Flows page's table, the cards of a flow's page.
COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("ran_at", N_("Ran on"), "date", "dash-flow-backtest"),
    Column("first_day", N_("First day replayed"), "date", "dash-flow-backtest"),
    Column("last_day", N_("Last day replayed"), "date", "dash-flow-backtest"),
    Column("window_days", N_("Attribution window"), "days", "dash-flow-backtest-outcome"),
    Column("tick_hours", N_("Hours between ticks"), "number", "dash-flow-backtest"),
    Column("entered", N_("Entries"), "count", "dash-flow-backtest"),
    Column("persons", N_("Persons"), "count", "dash-flow-backtest"),
    Column("holdout", N_("Held out"), "count", "dash-flow-backtest"),
    Column("capped", N_("Capped messages"), "count", "dash-flow-backtest"),
    Column("targeted_conversion", N_("Targeted conversion"), "share", "dash-flow-backtest-outcome"),
    Column("holdout_conversion", N_("Holdout conversion"), "share", "dash-flow-backtest-outcome"),
    Column(
        "conversion_difference",
        N_("Conversion difference"),
        "share",
        "dash-flow-backtest-outcome",
    ),
    Column(
        "revenue_difference",
        N_("Revenue per person difference"),
        "money",
        "dash-flow-backtest-outcome",
    ),
)
#: The flows never backtested, and the command that runs one.
MISSING_COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("command", N_("Command"), "text"),
)
#: The steps of a backtest (a flow's page).
STEP_COLUMNS = (
    Column("step", N_("Step"), "text"),
    Column("kind", N_("Kind"), "text"),
    Column("stays", N_("Stays that ran it"), "count", "dash-flow-backtest"),
    Column("persons", N_("Persons"), "count", "dash-flow-backtest"),
    Column("waiting", N_("Still waiting"), "count", "dash-flow-backtest"),
    Column("exited", N_("Left on an order"), "count", "dash-flow-backtest"),
)
OUTCOME_COLUMNS = (
    Column("group", N_("Group"), "text"),
    Column("persons", N_("Persons"), "count", "dash-flow-backtest-outcome"),
    Column("converted", N_("Converted"), "count", "dash-flow-backtest-outcome"),
    Column("orders", N_("Orders"), "count", "dash-flow-backtest-outcome"),
    Column("revenue", N_("Revenue"), "money", "dash-flow-backtest-outcome"),
    Column("conversion", N_("Conversion"), "share", "dash-flow-backtest-outcome"),
    Column("revenue_per_person", N_("Revenue per person"), "money", "dash-flow-backtest-outcome"),
)
NO_BACKTEST = N_("No backtest yet: run `tenure flows backtest NAME`.")
WHY = N_(
    "A backtest replays history through a flow, sending nothing: too long for a page, so "
    "each flow shows the last one run (`tenure flows backtest NAME`, or the admin API)."
)


def command(flow: str, window: Window) -> str:
    """The command that backtests ``flow`` over the page's period."""
    return f"tenure flows backtest {flow} --from {window.start} --to {window.end}"


def _last_day(result: BacktestResult) -> date:
    """The last day the replay covered (its end is the midnight after it)."""
    return (result.end - timedelta(microseconds=1)).date()


def _outcome(result: BacktestResult, group: str, key: str) -> Any:
    frame = result.outcome
    if frame.empty or key not in frame:
        return None
    rows = frame[frame["group"] == group]
    return None if rows.empty else rows.iloc[0][key]


def backtest_row(result: BacktestResult) -> dict[str, Any]:
    """One backtest's figures, by :data:`COLUMNS` key."""
    return {
        "flow": result.flow,
        "ran_at": result.ran_at,
        "first_day": result.start.date(),
        "last_day": _last_day(result),
        "window_days": result.window_days,
        "tick_hours": result.step.total_seconds() / 3600,
        "entered": result.entered,
        "persons": result.persons,
        "holdout": result.holdout,
        "capped": result.capped,
        "targeted_conversion": _outcome(result, "targeted", "conversion"),
        "holdout_conversion": _outcome(result, "holdout", "conversion"),
        "conversion_difference": _outcome(result, "difference", "conversion"),
        "revenue_difference": _outcome(result, "difference", "revenue_per_person"),
    }


def daily_chart(result: BacktestResult, title: str | None = None) -> Chart | None:
    """The backtest's messages per day, stacked by state (the states that occur), titled
    ``title`` (default: the flow's name); None when it decided no message."""
    daily = result.daily
    if daily.empty:
        return None
    states = [c for c in daily.columns if c not in ("day", "total") and daily[c].sum() > 0]
    series = tuple(Series(str(s), values(daily[s])) for s in states)
    key = f"backtest_{result.flow}"
    shown = title or result.flow
    return Chart(key, shown, "stacked_bar", values(daily["day"]), series, "count")


def _missing(flows: list[str], window: Window, currency: str, link: str | None = None) -> Table:
    """The flows never backtested and the command that backtests each over the period."""
    todo = pd.DataFrame({"flow": flows, "command": [command(n, window) for n in flows]})
    title = N_("Flows with no backtest yet")
    return frame_table("not_backtested", title, todo, MISSING_COLUMNS, currency, link=link)


def backtests_section(
    results: dict[str, BacktestResult], flows: list[str], window: Window, currency: str
) -> Section:
    """The Flows page's section: each flow's last backtest (a row and a chart of its
    messages per day by state), then the flows of ``flows`` never backtested and the
    command that runs one."""
    shown = [results[name] for name in sorted(results)]
    rows = pd.DataFrame([backtest_row(r) for r in shown], columns=[c.key for c in COLUMNS])
    table = frame_table(
        "backtests", N_("Last backtest of each flow"), rows, COLUMNS, currency, link=FLOW_LINK
    )
    charts = tuple(c for c in (daily_chart(r) for r in shown) if c is not None)
    missing = [name for name in flows if name not in results]
    tables: tuple[Table, ...] = (table,)
    notes = [WHY]
    if missing:
        tables += (_missing(missing, window, currency, link=FLOW_LINK),)
        notes.append(NO_BACKTEST)
    return Section(
        "backtests",
        N_("Flow backtests"),
        charts=charts,
        tables=tables,
        notes=tuple(notes),
    )


def flow_backtest_section(
    result: BacktestResult | None, flow: str, window: Window, currency: str
) -> Section:
    """A flow's page's section: its last backtest's figures (one row, as the Flows page
    has it), its messages per day and its persons per step as charts, its steps and outcome
    as tables; with none, the command that runs one."""
    title = N_("Last backtest")
    if result is None:
        return Section(
            "backtest", title, tables=(_missing([flow], window, currency),), notes=(NO_BACKTEST,)
        )
    row = pd.DataFrame([backtest_row(result)], columns=[c.key for c in COLUMNS])
    charts = [
        one_series_chart(
            "backtest_steps",
            N_("Persons per step"),
            "bar",
            result.steps.get("step", []),
            N_("Persons"),
            result.steps.get("persons", []),
        )
    ]
    daily = daily_chart(result, N_("Messages per day by state"))
    if daily is not None:
        charts.insert(0, daily)
    tables = (
        frame_table("backtest", N_("Last backtest"), row, COLUMNS, currency),
        frame_table("backtest_steps", N_("Steps"), result.steps, STEP_COLUMNS, currency),
        frame_table("backtest_outcome", N_("Outcome"), result.outcome, OUTCOME_COLUMNS, currency),
    )
    notes = (WHY, *result.notes)
    return Section("backtest", title, charts=tuple(charts), tables=tables, notes=notes)

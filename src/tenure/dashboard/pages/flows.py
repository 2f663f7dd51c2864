"""Flows: every flow with its state (running or paused: the page's buttons pause and resume
it), each flow's entries, sends, conversions, revenue, holdout uplift with its interval and
discount cost, each flow's step funnel, and each flow's last backtest.

The figures are :func:`tenure.deliver.measure.flow_stats` (``tenure flows stats --json``) at
the end of the window's last day, or at the flows' clock when it is earlier; the flows and
their state :func:`tenure.engage.flows.flow_overview` (``tenure flows list``); the
backtests :func:`tenure.engage.backtest_runs.last_backtests` (:mod:`.backtests`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Chart, Column, Page, Section, Series, Value, Window
from tenure.dashboard.pages.backtests import backtests_section
from tenure.dashboard.pages.common import FLOW_LINK, frame_table, value
from tenure.deliver.measure import SENT, FlowReport, flow_stats
from tenure.deliver.uplift import Estimate
from tenure.engage.backtest_runs import last_backtests
from tenure.engage.flow_spec import Flow, flow_paths, load_flows
from tenure.engage.flows import flow_overview, tick_clock
from tenure.store import Store, reporting_currency

#: The funnel of a flow's steps: step column, label.
FUNNEL = (
    ("messages", N_("Messages")),
    ("sent", N_("Sent")),
    ("clicked", N_("Clicked")),
    ("converted", N_("Converted")),
)
COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("entered", N_("Entries"), "count", "dash-flow-entries"),
    Column("sent", N_("Sends"), "count", "dash-flow-sends"),
    Column("converted", N_("Conversions"), "count", "dash-flow-conversions"),
    Column("revenue", N_("Revenue"), "money", "dash-flow-revenue"),
    Column("uplift", N_("Conversion uplift"), "share", "dash-flow-uplift"),
    Column("uplift_low", N_("Uplift, low"), "share", "dash-flow-uplift"),
    Column("uplift_high", N_("Uplift, high"), "share", "dash-flow-uplift"),
    Column("revenue_uplift", N_("Revenue per person uplift"), "money", "dash-flow-uplift"),
    Column("revenue_uplift_low", N_("Revenue uplift, low"), "money", "dash-flow-uplift"),
    Column("revenue_uplift_high", N_("Revenue uplift, high"), "money", "dash-flow-uplift"),
    Column("discount_cost", N_("Discount cost"), "money", "dash-flow-discount"),
)
#: Every flow defined, and whether it runs (``tenure flows list``).
STATE_COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("state", N_("State"), "text", "dash-flow-state"),
    Column("trigger", N_("Trigger"), "text"),
    Column("steps", N_("Steps"), "count"),
    Column("active", N_("Persons in it now"), "count", "dash-flow-state"),
)
#: The words of a flow's state (translated when drawn).
PAUSED, RUNNING = N_("paused"), N_("running")
STEP_COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("step", N_("Step"), "text"),
    Column("channel", N_("Channel"), "text"),
    *(Column(key, label, "count", "dash-flow-steps") for key, label in FUNNEL),
    Column("revenue", N_("Revenue"), "money", "dash-flow-revenue"),
    Column("discount_cost", N_("Discount cost"), "money", "dash-flow-discount"),
)


def _estimate(e: Estimate | None) -> tuple[float | None, float | None, float | None]:
    return (None, None, None) if e is None else (e.estimate, e.low, e.high)


def flow_row(report: FlowReport) -> dict[str, Any]:
    """One flow's figures (as ``tenure flows stats``): the treated arm's conversions,
    revenue and discount cost, the uplifts against the holdout with their intervals."""
    uplift, low, high = _estimate(report.conversion_uplift)
    rev, rev_low, rev_high = _estimate(report.revenue_uplift)
    measured = report.treated.arm.persons > 0  # nobody measured yet: unknown, not 0
    return {
        "flow": report.flow,
        "entered": report.entered,
        "sent": sum(n for state, n in report.messages.items() if state in SENT),
        "converted": report.treated.arm.converted if measured else None,
        "revenue": report.treated.arm.revenue if measured else None,
        "uplift": uplift,
        "uplift_low": low,
        "uplift_high": high,
        "revenue_uplift": rev,
        "revenue_uplift_low": rev_low,
        "revenue_uplift_high": rev_high,
        "discount_cost": report.treated.discount_cost,
    }


def defined_flows(settings: Settings) -> list[Flow]:
    """The flows of ``settings`` (the shipped ones and ``flows_dir``'s)."""
    return load_flows(flow_paths(Path(settings.flows_dir)))


def states_section(store: Store, flows: list[Flow]) -> Section:
    """Every flow defined: its state (running or paused), trigger, steps and the persons in
    it now."""
    frame = flow_overview(store, flows)
    if not frame.empty:
        frame["state"] = [PAUSED if p else RUNNING for p in frame["paused"]]
    table = frame_table("states", N_("Every flow"), frame, STATE_COLUMNS, "", link=FLOW_LINK)
    notes = (N_("A paused flow enters nobody and decides no message until it is resumed."),)
    return Section("states", N_("Every flow"), tables=(table,), notes=notes)


def funnel_chart(report: FlowReport) -> Chart:
    """The step funnel of a flow: its messages, sent, clicked and converted."""
    steps = report.steps
    totals: tuple[Value, ...] = tuple(
        value(steps[key].sum()) if not steps.empty else 0 for key, _ in FUNNEL
    )
    return Chart(
        f"funnel_{report.flow}",
        report.flow,
        "funnel",
        tuple(label for _, label in FUNNEL),
        (Series(N_("Messages"), totals),),
        "count",
    )


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The flows page at the end of the window (or the flows' clock, when earlier)."""
    currency = reporting_currency(store)
    end = datetime.combine(window.end + timedelta(days=1), time.min)
    stats = flow_stats(store, now=min(end, tick_clock(store)))
    rows = pd.DataFrame([flow_row(r) for r in stats.flows], columns=[c.key for c in COLUMNS])
    steps = [r.steps.assign(flow=r.flow) for r in stats.flows if not r.steps.empty]
    step_frame = pd.concat(steps) if steps else pd.DataFrame(columns=[c.key for c in STEP_COLUMNS])
    notes = [
        N_(
            "Purchases count within the measurement window after entering (after sending, "
            "per step)."
        )
    ]
    if not stats.flows:
        notes.append(N_("No flow has run yet: `tenure run` ticks the flows."))
    flows_table = frame_table("flows", N_("Flows"), rows, COLUMNS, currency, link=FLOW_LINK)
    step_table = frame_table("steps", N_("Steps"), step_frame, STEP_COLUMNS, currency)
    funnels = tuple(funnel_chart(r) for r in stats.flows if not r.steps.empty)
    defined = defined_flows(settings)
    names = [f.name for f in defined]
    backtests = backtests_section(last_backtests(store), names, window, currency)
    sections = (
        states_section(store, defined),
        Section(
            "flows",
            N_("Flows"),
            tables=(flows_table,),
            notes=tuple(notes),
        ),
        Section("steps", N_("Step funnels"), charts=funnels, tables=(step_table,)),
        backtests,
    )
    page = Page("flows", N_("Flows"), window, currency, sections)
    return page


__all__ = [
    "PAUSED",
    "RUNNING",
    "build",
    "defined_flows",
    "flow_row",
    "funnel_chart",
    "states_section",
]

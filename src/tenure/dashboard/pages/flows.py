"""Flows: each flow's entries, sends, conversions, revenue, holdout uplift with its interval
and discount cost, and each flow's step funnel.

The figures are :func:`tenure.deliver.measure.flow_stats` (``tenure flows stats --json``) at
the end of the window's last day, or at the flows' clock when it is earlier.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Chart, Column, Page, Section, Series, Value, Window
from tenure.dashboard.pages.common import frame_table, value
from tenure.deliver.measure import SENT, FlowReport, flow_stats
from tenure.deliver.uplift import Estimate
from tenure.engage.flows import tick_clock
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


def _funnel(report: FlowReport) -> Chart:
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
    notes.append(
        N_(
            "The flow backtest replays history through a flow: run `tenure flows backtest` "
            "(too long for a page)."
        )
    )
    flows_table = frame_table("flows", N_("Flows"), rows, COLUMNS, currency, link="/dash/flows/{0}")
    step_table = frame_table("steps", N_("Steps"), step_frame, STEP_COLUMNS, currency)
    funnels = tuple(_funnel(r) for r in stats.flows if not r.steps.empty)
    sections = (
        Section(
            "flows",
            N_("Flows"),
            tables=(flows_table,),
            notes=tuple(notes),
        ),
        Section("steps", N_("Step funnels"), charts=funnels, tables=(step_table,)),
    )
    page = Page("flows", N_("Flows"), window, currency, sections)
    return page


__all__ = ["build", "flow_row"]

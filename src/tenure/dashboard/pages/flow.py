"""A flow's page (``/dash/flows/{name}``, the link of a flow's name): its definition in
short (state, trigger, steps, holdout, re-entry), its figures and step funnel as the Flows page
has them (:func:`tenure.deliver.measure.flow_stats` at the end of the window's last day), its
last backtest (:mod:`.backtests`) and its messages by state, with the latest ones.

An unknown flow is :class:`UnknownFlowError` (the service answers 404).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import ibis
import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Column, Page, Section, Window
from tenure.dashboard.pages.backtests import flow_backtest_section
from tenure.dashboard.pages.common import PERSON, PROFILE_LINK, frame_table, one_series_chart
from tenure.dashboard.pages.flows import (
    COLUMNS,
    PAUSED,
    RUNNING,
    STEP_COLUMNS,
    defined_flows,
    flow_row,
    funnel_chart,
)
from tenure.deliver.measure import flow_stats
from tenure.engage.backtest_runs import last_backtest
from tenure.engage.flow_spec import Flow
from tenure.engage.flows import describe_trigger, flow_overview, tick_clock
from tenure.errors import NotFoundError
from tenure.store import Store, reporting_currency

#: What a step without a channel, a wait or a next step shows (none: not unknown).
NONE = "-"
#: The latest messages listed.
RECENT = 50
#: The steps of the definition.
DEFINITION_COLUMNS = (
    Column("step", N_("Step"), "text"),
    Column("kind", N_("Kind"), "text"),
    Column("channel", N_("Channel"), "text"),
    Column("wait", N_("Wait"), "text"),
    Column("next", N_("Next step"), "text"),
)
STATE_COUNT_COLUMNS = (
    Column("state", N_("State"), "text", "dash-flow-messages"),
    Column("messages", N_("Messages"), "count", "dash-flow-messages"),
)
RECENT_COLUMNS = (
    PERSON,
    Column("step", N_("Step"), "text"),
    Column("channel", N_("Channel"), "text"),
    Column("state", N_("State"), "text", "dash-flow-messages"),
    Column("decided_at", N_("Decided"), "date"),
    Column("sent_at", N_("Sent"), "date"),
)


def span(value: timedelta | None) -> str | None:
    """A duration as the flow files write it (``7d``, ``36h``, ``90m``); None for none."""
    if value is None:
        return None
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class UnknownFlowError(NotFoundError):
    """No flow definition has the name asked for."""


def find_flow(settings: Settings, name: str) -> Flow:
    """The flow called ``name``; :class:`UnknownFlowError` when none is."""
    for flow in defined_flows(settings):
        if flow.name == name:
            return flow
    raise UnknownFlowError(f"No flow named {name!r}.", hint="`tenure flows list` lists them.")


#: The flow in one row: its name, state, trigger, holdout share, re-entry, persons in it.
ABOUT_COLUMNS = (
    Column("flow", N_("Flow"), "text"),
    Column("state", N_("State"), "text", "dash-flow-state"),
    Column("trigger", N_("Trigger"), "text"),
    Column("holdout_share", N_("Holdout share"), "share", "dash-flow-uplift"),
    Column("reentry", N_("Re-entry"), "text"),
    Column("active", N_("Persons in it now"), "count", "dash-flow-state"),
)


def _definition(store: Store, flow: Flow) -> Section:
    overview = flow_overview(store, [flow]).iloc[0]
    reentry = flow.reentry
    if flow.reentry == "after" and flow.reentry_after is not None:
        reentry = f"after {span(flow.reentry_after)}"
    about = {
        "flow": flow.name,
        "state": PAUSED if overview["paused"] else RUNNING,
        "trigger": describe_trigger(flow),
        "holdout_share": flow.holdout,
        "reentry": reentry,
        "active": int(overview["active"]),
    }
    steps = pd.DataFrame(
        [
            {
                "step": s.id,
                "kind": s.kind,
                "channel": s.channel or NONE,
                "wait": span(s.wait) or NONE,
                "next": s.next or " / ".join(t for t in (s.then, s.otherwise) if t) or NONE,
            }
            for s in flow.steps
        ]
    )
    tables = (
        frame_table("about", N_("Flow"), pd.DataFrame([about]), ABOUT_COLUMNS, ""),
        frame_table("definition", N_("Steps"), steps, DEFINITION_COLUMNS, ""),
    )
    notes = (flow.description,) if flow.description else ()
    return Section("definition", N_("Definition"), tables=tables, notes=notes)


def _results(store: Store, flow: Flow, window: Window, currency: str) -> Section:
    end = datetime.combine(window.end + timedelta(days=1), time.min)
    stats = flow_stats(store, flow.name, now=min(end, tick_clock(store)))
    reports = [r for r in stats.flows if r.flow == flow.name]
    rows = pd.DataFrame([flow_row(r) for r in reports], columns=[c.key for c in COLUMNS])
    table = frame_table("results", N_("Results"), rows, COLUMNS, currency)
    steps = reports[0].steps if reports else pd.DataFrame()
    step_table = frame_table(
        "steps", N_("Step funnel"), steps.assign(flow=flow.name), STEP_COLUMNS, currency
    )
    charts = tuple(funnel_chart(r) for r in reports if not r.steps.empty)
    notes = () if reports else (N_("The flow has not entered anyone yet."),)
    return Section("results", N_("Results"), charts=charts, tables=(table, step_table), notes=notes)


def _messages(store: Store, flow: Flow, currency: str) -> Section:
    m = store.table("messages")
    mine = m.filter(m.flow == flow.name)
    counts = mine.group_by("state").agg(messages=mine.count()).order_by("state").to_pandas()
    latest = mine.order_by([ibis.desc("decided_at"), "message_key"]).limit(RECENT).to_pandas()
    chart = one_series_chart(
        "message_states",
        N_("Messages by state"),
        "bar",
        counts["state"],
        N_("Messages"),
        counts["messages"],
    )
    return Section(
        "messages",
        N_("Messages"),
        charts=(chart,) if len(counts) else (),
        tables=(
            frame_table(
                "message_states", N_("Messages by state"), counts, STATE_COUNT_COLUMNS, currency
            ),
            frame_table(
                "recent", N_("Latest messages"), latest, RECENT_COLUMNS, currency, link=PROFILE_LINK
            ),
        ),
        notes=() if len(counts) else (N_("The flow has decided no message yet."),),
    )


def build(store: Store, settings: Settings, window: Window, name: str) -> Page:
    """The page of the flow ``name`` for ``window``; :class:`UnknownFlowError` when no flow
    has that name."""
    flow = find_flow(settings, name)
    currency = reporting_currency(store)
    sections = (
        _definition(store, flow),
        _results(store, flow, window, currency),
        flow_backtest_section(last_backtest(store, flow.name), flow.name, window, currency),
        _messages(store, flow, currency),
    )
    return Page("flow", N_("Flow"), window, currency, sections)


__all__ = ["UnknownFlowError", "build", "find_flow", "span"]

"""Customers: the journey stages and the statuses as funnels with the window's transitions,
each stage's indicators, the ambassadors, the 5 x 5 RFM grid, the value tiers, and the
segments' sizes over time.

Every number comes from the analytics' functions as of the window's end:
:func:`~tenure.analytics.journey.journey_counts` (``tenure stages``),
:func:`~tenure.analytics.journey.journey_transitions`,
:func:`~tenure.analytics.status.status_counts` (``tenure status``),
:func:`~tenure.analytics.stages.transitions`,
:func:`~tenure.analytics.stage_kpis.stage_indicators` (``tenure stages --indicators``),
:func:`~tenure.analytics.advocacy.advocates` and ``advocacy_kpis`` (``tenure advocates``),
:func:`~tenure.analytics.rfm.rfm` (``tenure rfm``) and the ``segment_runs`` of the segments'
refreshes.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.advocacy import advocacy_kpis, advocates, frames_once
from tenure.analytics.facts import customer_facts
from tenure.analytics.journey import journey_counts, journey_transitions, open_stages
from tenure.analytics.rfm import rfm
from tenure.analytics.stage_kpis import stage_indicators
from tenure.analytics.stages import transitions
from tenure.analytics.status import status_counts
from tenure.config import Settings
from tenure.dashboard.model import N_, Chart, Column, Metric, Page, Section, Series, Window
from tenure.dashboard.pages.common import (
    LABELS,
    PERSON,
    PROFILE_LINK,
    SEGMENT_LINK,
    FrameSpec,
    frame_table,
    frames_section,
    observed_end,
    one_series_chart,
    row_metric,
    values,
)
from tenure.dashboard.stored import stored_table
from tenure.errors import NotFoundError
from tenure.identity.lookup import with_labels
from tenure.store import Store, reporting_currency

#: The journey's funnel, in order; at risk and lapsed are shown beside it.
FUNNEL = ("reach", "acquire", "develop", "retain", "advocate")
SCORES = (5, 4, 3, 2, 1)
TIERS = ("vip", "high", "mid", "low")
#: The link of an RFM cell (R, FM): its members.
RFM_LINK = "/dash/customers/rfm/{0}"


def _open_stages(store: Store, end: date) -> ir.Table | None:
    """The journey stages as of ``end`` from the stored history, when it is current."""
    history = stored_table(store, "journey_history", end)
    return None if history is None else open_stages(history)


def _journey(store: Store, window: Window, end: date) -> Section:
    counts = journey_counts(store, end, stages=_open_stages(store, end))
    funnel = counts[counts["stage"].isin(FUNNEL)]
    notes = []
    moves = pd.DataFrame(columns=["stage", "entries", "exits"])
    if store.exists("journey_history"):
        t = journey_transitions(store, period="day")
        day = pd.to_datetime(t["period"]).dt.date
        inside = t[(day >= window.start) & (day <= end)]
        moves = inside.groupby("stage", as_index=False)[["entries", "exits"]].sum()
    else:
        notes.append(N_("No journey history yet: `tenure run` records the stages' transitions."))
    table = counts.merge(moves, on="stage", how="left")
    columns = (
        Column("stage", N_("Stage"), "text", "dash-journey-stage"),
        Column("persons", N_("Persons"), "count", "dash-journey-stage"),
        Column("share", N_("Share"), "share", "dash-journey-stage"),
        Column("entries", N_("Entries in the period"), "count", "dash-transitions"),
        Column("exits", N_("Exits in the period"), "count", "dash-transitions"),
    )
    chart = one_series_chart(
        "journey", N_("Journey funnel"), "funnel", funnel["stage"], N_("Persons"), funnel["persons"]
    )
    return frames_section(
        "journey",
        N_("Journey stages"),
        reporting_currency(store),
        ("stages", N_("Stages"), table, columns),
        charts=(chart,),
        notes=tuple(notes),
    )


#: The statuses' table and the table of their transitions in the period.
STATUS_COLUMNS = (
    Column("status", N_("Status"), "text", "dash-status"),
    Column("persons", N_("Persons"), "count", "dash-status"),
    Column("share", N_("Share"), "share", "dash-status"),
)
MOVE_COLUMNS = (
    Column("from_status", N_("From"), "text", "dash-status"),
    Column("to_status", N_("To"), "text", "dash-status"),
    Column("movers", N_("Persons moving"), "count", "dash-transitions"),
    Column("persons", N_("Persons in the from-status"), "count"),
    Column("rate", N_("Rate"), "share", "dash-transitions"),
)


def _statuses(store: Store, window: Window, end: date) -> Section:
    counts = status_counts(store, as_of=end, status=stored_table(store, "customer_status", end))
    tables: list[FrameSpec] = [("statuses", N_("Statuses"), counts, STATUS_COLUMNS)]
    notes = []
    if store.exists("stage_history"):
        moves = transitions(store, start=window.start, end=end)
        tables.append(("status_moves", N_("Status transitions in the period"), moves, MOVE_COLUMNS))
    else:
        notes.append(N_("No status history yet: `tenure run` records the statuses' transitions."))
    chart = one_series_chart(
        "statuses",
        N_("Persons per status"),
        "funnel",
        counts["status"],
        N_("Persons"),
        counts["persons"],
    )
    return frames_section(
        "statuses",
        N_("Statuses"),
        reporting_currency(store),
        *tables,
        charts=(chart,),
        notes=tuple(notes),
    )


def _indicators(store: Store, end: date) -> Section:
    frame = stage_indicators(store, end, stages=_open_stages(store, end))
    columns = (
        Column("stage", N_("Stage"), "text", "dash-stage-indicators"),
        Column("indicator", N_("Indicator"), "text", "dash-stage-indicators"),
        Column("value", N_("Value"), "number", "dash-stage-indicators"),
        Column("unit", N_("Unit"), "text"),
        Column("basis", N_("Basis"), "text"),
    )
    return Section(
        "indicators",
        N_("Indicators per stage"),
        tables=(
            frame_table("indicators", N_("Indicators"), frame, columns, frame.attrs["currency"]),
        ),
    )


def _ambassadors(store: Store, end: date, currency: str) -> Section:
    k = advocacy_kpis(store, end)
    top = advocates(store, end, top=20)
    metrics = (
        row_metric(k, "nps", N_("Net promoter score"), "number", "dash-nps"),
        row_metric(k, "referrers", N_("Referrers"), "count", "dash-referral"),
        row_metric(k, "referral_rate", N_("Referral rate"), "share", "dash-referral"),
        row_metric(k, "average_rating", N_("Average review rating"), "number", "dash-reviews"),
    )
    columns = (
        PERSON,
        Column("referred_buyers", N_("Referred buyers"), "count", "dash-referral"),
        Column("referred_revenue", N_("Referred revenue"), "money", "dash-referral"),
        Column("reviews", N_("Reviews"), "count", "dash-reviews"),
        Column("average_rating", N_("Average rating"), "number", "dash-reviews"),
        Column("latest_nps", N_("Latest NPS answer"), "number", "dash-nps"),
        Column("reason", N_("Why"), "text"),
    )
    table = frame_table("ambassadors", N_("Ambassadors"), top, columns, currency, link=PROFILE_LINK)
    return Section("ambassadors", N_("Ambassadors"), metrics=metrics, tables=(table,))


def rfm_cells(scored: ir.Table, facts: ir.Table) -> pd.DataFrame:
    """r_score, fm_score, segment, customers, revenue, margin: the RFM grid's cells (every
    one of the 25, empty ones 0) from ``scored`` (:func:`tenure.analytics.rfm.rfm`) and each
    buyer's ``customer_facts`` revenue."""
    j = scored.join(facts.select("person_id", "revenue"), "person_id")
    got = (
        j.group_by(["r_score", "fm_score", "segment"])
        .agg(customers=j.count(), revenue=j.revenue.sum(), margin=j.margin.sum())
        .to_pandas()
    )
    got = got.dropna(subset=["r_score", "fm_score"])
    grid = pd.DataFrame([(r, fm) for r in SCORES for fm in SCORES[::-1]], columns=["r", "fm"])
    grid = grid.merge(got, left_on=["r", "fm"], right_on=["r_score", "fm_score"], how="left")
    grid["customers"] = grid["customers"].fillna(0).astype("int64")
    grid["cell"] = [f"r{r}fm{fm}" for r, fm in zip(grid["r"], grid["fm"], strict=True)]
    return grid


def _rfm(scored: ir.Table, facts: ir.Table, currency: str) -> Section:
    cells = rfm_cells(scored, facts)
    x = tuple(f"FM {fm}" for fm in SCORES[::-1])
    rows = []
    for r in SCORES:
        mine = cells[cells["r"] == r].sort_values("fm")
        rows.append(Series(f"R {r}", values(mine["customers"])))
    columns = (
        Column("cell", N_("Cell"), "text", "dash-rfm"),
        Column("r", N_("R"), "number", "dash-rfm"),
        Column("fm", N_("FM"), "number", "dash-rfm"),
        Column("segment", N_("Segment"), "text", "dash-rfm"),
        Column("customers", N_("Customers"), "count", "dash-rfm"),
        Column("revenue", N_("Revenue"), "money", "dash-revenue"),
        Column("margin", N_("Margin"), "money", "dash-margin"),
    )
    table = frame_table("rfm", N_("RFM grid"), cells, columns, currency, link=RFM_LINK)
    chart = Chart("rfm", N_("Customers per RFM cell"), "heatmap", x, tuple(rows), "count")
    return Section("rfm", N_("RFM grid"), charts=(chart,), tables=(table,))


def _tiers(scored: ir.Table, currency: str) -> Section:
    got = scored.group_by("tier").agg(customers=scored.count(), margin=scored.margin.sum())
    frame = pd.DataFrame({"tier": list(TIERS)}).merge(got.to_pandas(), on="tier", how="left")
    frame["customers"] = frame["customers"].fillna(0).astype("int64")
    columns = (
        Column("tier", N_("Tier"), "text", "dash-value-tier"),
        Column("customers", N_("Customers"), "count", "dash-value-tier"),
        Column("margin", N_("Margin"), "money", "dash-margin"),
    )
    chart = one_series_chart(
        "tiers",
        N_("Customers per value tier"),
        "bar",
        frame["tier"],
        N_("Customers"),
        frame["customers"],
    )
    return frames_section(
        "tiers",
        N_("Value tiers"),
        currency,
        ("tiers", N_("Value tiers"), frame, columns),
        charts=(chart,),
    )


def _segments(store: Store, end: date) -> Section:
    if not store.exists("segment_runs"):
        return Section(
            "segments",
            N_("Segments"),
            notes=(N_("No segment refresh yet: `tenure run` refreshes the segments."),),
        )
    t = store.read("segment_runs")
    until = datetime.combine(end, time.max)
    frame = t.filter(t.refreshed_at <= until).to_pandas()
    frame["day"] = pd.to_datetime(frame["refreshed_at"]).dt.date
    wide = frame.pivot_table(index="day", columns="segment", values="members", aggfunc="last")
    series = tuple(
        Series(str(name), tuple(None if pd.isna(v) else int(v) for v in wide[name]))
        for name in wide.columns
    )
    latest = frame.sort_values("refreshed_at").groupby("segment", as_index=False).last()
    columns = (
        Column("segment", N_("Segment"), "text", "dash-segment"),
        Column("members", N_("Members"), "count", "dash-segment"),
        Column("entered", N_("Entered at the last refresh"), "count", "dash-segment"),
        Column("exited", N_("Left at the last refresh"), "count", "dash-segment"),
        Column("day", N_("Last refresh"), "date"),
    )
    return Section(
        "segments",
        N_("Segments"),
        charts=(
            Chart("segments", N_("Segment sizes"), "line", values(wide.index), series, "count"),
        ),
        tables=(
            frame_table(
                "segments",
                N_("Segments"),
                latest,
                columns,
                "",
                link=SEGMENT_LINK,
            ),
        ),
    )


#: The members an RFM cell's page lists (most margin first).
MEMBERS = 500
_CELL = re.compile(r"^r([1-5])fm([1-5])$")


class UnknownCellError(NotFoundError):
    """An RFM cell key is not one of the grid's ``r<R>fm<FM>`` cells."""


def rfm_members(store: Store, settings: Settings, window: Window, cell: str) -> Page:
    """The members of the RFM grid's ``cell`` (``r5fm4``: R 5, FM 4) as of the window's end,
    most margin first (the first :data:`MEMBERS`), with their customer id and e-mail: the
    page an RFM cell's link opens."""
    match = _CELL.match(cell)
    if match is None:
        raise UnknownCellError(
            f"No RFM cell named {cell!r}.", hint="Cells are r1fm1 .. r5fm5 (R, then FM score)."
        )
    r, fm = int(match.group(1)), int(match.group(2))
    currency = reporting_currency(store)
    scored = rfm(store, as_of=observed_end(store, window))
    mine = scored.filter((scored.r_score == r) & (scored.fm_score == fm))
    total = int(mine.count().execute())
    top = mine.order_by([ibis.desc("margin"), "person_id"]).limit(MEMBERS).to_pandas()
    frame = with_labels(store, top)
    columns = (
        PERSON,
        *LABELS,
        Column("segment", N_("Segment"), "text", "dash-rfm"),
        Column("days_since_last_order", N_("Days since the last order"), "days", "dash-rfm"),
        Column("orders", N_("Orders"), "count", "dash-rfm"),
        Column("margin", N_("Margin"), "money", "dash-margin"),
        Column("tier", N_("Tier"), "text", "dash-value-tier"),
    )
    table = frame_table("members", N_("Members"), frame, columns, currency, link=PROFILE_LINK)
    metrics = (
        Metric("r", N_("R"), r, "number", None, "dash-rfm"),
        Metric("fm", N_("FM"), fm, "number", None, "dash-rfm"),
        Metric("customers", N_("Customers"), total, "count", None, "dash-rfm"),
    )
    section = Section("members", N_("RFM cell members"), metrics=metrics, tables=(table,))
    return Page("rfm_members", N_("RFM cell members"), window, currency, (section,))


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The customers page as of the window's end."""
    currency = reporting_currency(store)
    end = observed_end(store, window)
    facts = stored_table(store, "customer_facts", end)
    if facts is None:
        facts = customer_facts(store, as_of=end)
    with facts.cache() as known, rfm(store, as_of=end, facts=known).cache() as scored:
        value_sections = (_rfm(scored, known, currency), _tiers(scored, currency))
    with frames_once():  # the indicators and the ambassadors read the same feedback frames
        sections = (
            _journey(store, window, end),
            _statuses(store, window, end),
            _indicators(store, end),
            _ambassadors(store, end, currency),
            *value_sections,
            _segments(store, end),
        )
    return Page("customers", N_("Customers"), window, currency, sections)


__all__ = ["build", "rfm_cells"]

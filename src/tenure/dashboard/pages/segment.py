"""A segment's page (``/dash/segments/{name}``, the link of a segment's name): its definition
(description, file, condition), its size at the end of the window, its size at each refresh
of ``segment_runs`` up to then, and the first :data:`MEMBERS` members with a link to each
profile.

The members are :func:`tenure.engage.segments.segment_members` (``tenure segments
members``) at the end of the window's last day (the store's as-of day at the latest). An
unknown segment is :class:`~tenure.engage.segments.SegmentNotFoundError` (the service
answers 404).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Column, Metric, Page, Section, Unit, Window
from tenure.dashboard.pages.common import (
    LABELS,
    PERSON,
    PROFILE_LINK,
    frame_table,
    observed_end,
    one_series_chart,
)
from tenure.engage.segments import RUNS, clock, get_segment, segment_members
from tenure.engage.spec import (
    All,
    AnyOf,
    CandidateCondition,
    Condition,
    EventCondition,
    FieldCondition,
    ListCondition,
    Not,
    RecommendedCondition,
)
from tenure.store import Store, reporting_currency

#: The members listed on the page (the CSV holds the same; `tenure segments export` all).
MEMBERS = 100
#: The segment in one row: its name, where it is defined, its condition.
ABOUT_COLUMNS = (
    Column("segment", N_("Segment"), "text", "dash-segment"),
    Column("kind", N_("Definition"), "text"),
    Column("condition", N_("Condition"), "text"),
)
#: The labels of the fields shown beside each member (others are shown by their name).
FIELD_LABELS = {"status": N_("Status"), "stage": N_("Stage"), "orders": N_("Orders")}
NO_REFRESH = N_("No segment refresh yet: `tenure run` refreshes the segments.")
RUN_COLUMNS = (
    Column("day", N_("Refreshed"), "date", "dash-segment"),
    Column("members", N_("Members"), "count", "dash-segment"),
    Column("entered", N_("Entered"), "count", "dash-segment"),
    Column("exited", N_("Left"), "count", "dash-segment"),
)


def condition_text(condition: Condition) -> str:
    """A condition in one line, in the words of its YAML (``status eq at_risk``, ``all of
    (...)``)."""
    c = condition
    if isinstance(c, FieldCondition):
        shown = ", ".join(map(str, c.value)) if isinstance(c.value, tuple) else c.value
        return f"{c.field} {c.op} {shown}"
    if isinstance(c, EventCondition):
        text = f"event {c.event}"
        if c.within is not None:
            text += f" within {c.within.days}d"
        if c.count is not None:
            text += f" count {c.count[0]} {c.count[1]}"
        text += "".join(f", {w.key} {w.op} {w.value}" for w in c.where)
        return text + (f", not followed by {c.not_followed_by}" if c.not_followed_by else "")
    if isinstance(c, RecommendedCondition | CandidateCondition):
        what = c.product if isinstance(c, RecommendedCondition) else c.category
        kind = "recommended" if isinstance(c, RecommendedCondition) else "candidate"
        return f"{kind} {what}" + (f" (top {c.top})" if c.top else "")
    if isinstance(c, ListCondition):
        return f"list {c.path.name}"
    if isinstance(c, Not):
        return f"not ({condition_text(c.part)})"
    word = "all of" if isinstance(c, All) else "any of"
    assert isinstance(c, All | AnyOf)
    return f"{word} (" + "; ".join(condition_text(p) for p in c.parts) + ")"


def _history(store: Store, name: str, end: date) -> pd.DataFrame:
    """The segment's refreshes up to the end of ``end``: day, members, entered, exited (the
    day's last refresh)."""
    if not store.exists(RUNS):
        return pd.DataFrame(columns=[c.key for c in RUN_COLUMNS])
    t = store.read(RUNS)
    until = datetime.combine(end, time.max)
    frame = t.filter((t.segment == name) & (t.refreshed_at <= until)).to_pandas()
    frame = frame.sort_values("refreshed_at")
    frame["day"] = pd.to_datetime(frame["refreshed_at"]).dt.date
    return frame.groupby("day", as_index=False).last()[[c.key for c in RUN_COLUMNS]]


def _unit(series: pd.Series) -> Unit:
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "number" if numeric else "text"


def _members(store: Store, name: str, end: date, currency: str) -> tuple[Section, int]:
    frame = segment_members(store, name, now=clock(store, as_of=end), limit=MEMBERS)
    total = int(frame.attrs.get("rows", len(frame)))
    known = {c.key for c in (PERSON, *LABELS)}
    extra = [k for k in frame.columns if k not in known and k != "other_id"]
    columns = (
        PERSON,
        *LABELS,
        *(Column(k, FIELD_LABELS.get(k, k), _unit(frame[k])) for k in extra),
    )
    table = frame_table("members", N_("Members"), frame, columns, currency, link=PROFILE_LINK)
    notes: tuple[str, ...] = ()
    if total > len(frame):
        notes = (
            N_(
                "The first members only, by customer id: `tenure segments export NAME` writes "
                "them all."
            ),
        )
    return Section("members", N_("Members"), tables=(table,), notes=notes), total


def build(store: Store, settings: Settings, window: Window, name: str) -> Page:
    """The page of the segment ``name`` as of the window's end; ``SegmentNotFoundError``
    when no segment has that name."""
    segment = get_segment(store, name)
    currency = reporting_currency(store)
    end = observed_end(store, window)
    members, size = _members(store, segment.name, end, currency)
    history = _history(store, segment.name, end)
    kind = N_("shipped") if segment.shipped else N_("yours")
    metrics = (
        Metric("size", N_("Members"), size, "count", _before(history, window), "dash-segment"),
    )
    about = pd.DataFrame(
        [{"segment": segment.name, "kind": kind, "condition": condition_text(segment.condition)}]
    )
    chart = one_series_chart(
        "sizes",
        N_("Members at each refresh"),
        "line",
        history["day"],
        N_("Members"),
        history["members"],
    )
    notes = (segment.description,) if segment.description else ()
    sizes = Section(
        "sizes",
        N_("Size over time"),
        charts=(chart,) if len(history) else (),
        tables=(frame_table("sizes", N_("Refreshes"), history, RUN_COLUMNS, currency),),
        notes=() if len(history) else (NO_REFRESH,),
    )
    table = frame_table("about", N_("Segment"), about, ABOUT_COLUMNS, currency)
    summary = Section("definition", N_("Definition"), metrics, tables=(table,), notes=notes)
    return Page("segment", N_("Segment"), window, currency, (summary, sizes, members))


def _before(history: pd.DataFrame, window: Window) -> Any:
    """The size at the last refresh of the comparison period (None without one)."""
    earlier = history[history["day"] <= window.compare_end]
    return None if earlier.empty else int(earlier.iloc[-1]["members"])


__all__ = ["MEMBERS", "build", "condition_text"]

"""What every page builder shares: raw values out of pandas and Ibis results, money at the
reporting currency's minor unit (as ``--json`` prints it), tables, sections, one-series charts
and cards from frames and rows, the notes of empty tables, the person columns and their
profile link, the page's observation end.

A builder is a pure function of the store's data and the :class:`Window` (no clock, no
state), so a result cache keyed by (page, window, data versions) can wrap it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from tenure.analytics.base import store_end
from tenure.dashboard.model import (
    N_,
    Chart,
    ChartKind,
    Column,
    Metric,
    Section,
    Series,
    Table,
    Unit,
    Value,
    Window,
)
from tenure.store import Store, round_money

#: The column of a person (the first cell, linked to :data:`PROFILE_LINK`).
PERSON = Column("person_id", N_("Person"), "text")
#: The labels shown beside a person: their customer id and e-mail.
LABELS = (
    Column("customer_id", N_("Customer id"), "text"),
    Column("email", N_("E-mail"), "text"),
)
#: The link of a person: their profile.
PROFILE_LINK = "/dash/profile/{0}"
#: The link of a flow's name and of a segment's name: their pages.
FLOW_LINK = "/dash/flows/{0}"
SEGMENT_LINK = "/dash/segments/{0}"
#: A table of :func:`frames_section`: key, title, frame, columns.
FrameSpec = tuple[str, str, pd.DataFrame, Sequence[Column]]


def value(raw: Any) -> Value:
    """``raw`` as a JSON-ready raw value: None for every kind of null (None, NaN, NaT, NA),
    numpy numbers as Python numbers, dates as ISO text."""
    if raw is None or raw is pd.NaT or raw is pd.NA:
        return None
    if isinstance(raw, np.generic):
        raw = raw.item()
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, float):
        return None if math.isnan(raw) or math.isinf(raw) else raw
    if isinstance(raw, Decimal):
        return float(raw)
    if isinstance(raw, int | str):
        return raw
    if isinstance(raw, datetime | pd.Timestamp):
        return raw.isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def money(raw: Any, currency: str) -> float | None:
    """``raw`` rounded to ``currency``'s minor unit (as ``tenure ... --json`` prints money),
    None when unknown."""
    rounded = round_money(value(raw), currency)
    return None if rounded is None else float(rounded)


def cell(raw: Any, unit: Unit, currency: str) -> Value:
    """One table cell: money rounded as :func:`money`, everything else :func:`value`."""
    return money(raw, currency) if unit == "money" else value(raw)


def frame_table(
    key: str,
    title: str,
    frame: pd.DataFrame,
    columns: Sequence[Column],
    currency: str,
    *,
    link: str | None = None,
) -> Table:
    """A :class:`Table` of ``frame``'s ``columns`` (by ``Column.key``; a key the frame lacks
    is an unknown cell), money rounded to the minor unit."""
    present = [c for c in columns]
    rows = []
    for record in frame.to_dict("records"):
        rows.append(tuple(cell(record.get(c.key), c.unit, currency) for c in present))
    return Table(key, title, tuple(present), tuple(rows), link)


def observed_end(store: Store, window: Window) -> date:
    """The day the page observes the store at: the window's end, or the store's as-of day
    when the window ends after it (nothing is known after it)."""
    return min(window.end, store_end(store))


def share(part: float | int | None, whole: float | int | None) -> float | None:
    """part / whole, None when either is unknown or whole is 0."""
    if part is None or whole is None or not whole:
        return None
    return float(part) / float(whole)


def values(items: Iterable[Any]) -> tuple[Value, ...]:
    return tuple(value(v) for v in items)


def moneys(items: Iterable[Any], currency: str) -> tuple[Value, ...]:
    return tuple(money(v, currency) for v in items)


def frames_section(
    key: str,
    title: str,
    currency: str,
    *tables: FrameSpec,
    metrics: tuple[Metric, ...] = (),
    charts: tuple[Chart, ...] = (),
    notes: tuple[str, ...] = (),
) -> Section:
    """A section of :func:`frame_table` tables, each given as (key, title, frame, columns),
    after its ``metrics`` and ``charts``."""
    drawn = tuple(frame_table(k, t, frame, columns, currency) for k, t, frame, columns in tables)
    return Section(key, title, metrics, charts, drawn, notes)


def one_series_chart(
    key: str,
    title: str,
    kind: ChartKind,
    x: Iterable[Any],
    name: str,
    ys: Iterable[Any],
    unit: Unit = "count",
) -> Chart:
    """A chart of one series ``name``: ``ys`` per ``x`` (both raw, as :func:`values`)."""
    return Chart(key, title, kind, values(x), (Series(name, values(ys)),), unit)


def row_metric(
    row: Mapping[str, Any],
    key: str,
    label: str,
    unit: Unit,
    definition: str = "",
    *,
    currency: str = "",
    field: str | None = None,
) -> Metric:
    """A card of ``row``'s ``field`` (default: ``key``) as :func:`cell` draws it: money at
    the currency's minor unit, None when unknown or absent."""
    return Metric(key, label, cell(row.get(field or key), unit, currency), unit, None, definition)


def card(key: str, label: str, value: Value, unit: Unit, definition: str = "") -> Metric:
    """A card compared with nothing (no change drawn): a figure, not a period's."""
    return Metric(key, label, value, unit, None, definition, versus=None)


def empty_note(frame: pd.DataFrame, note: str) -> tuple[str, ...]:
    """``(note,)`` when ``frame`` has no row (why its table is empty), else no note."""
    return () if len(frame) else (note,)

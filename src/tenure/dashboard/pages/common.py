"""What every page builder shares: raw values out of pandas and Ibis results, money at the
reporting currency's minor unit (as ``--json`` prints it), tables from frames, the page's
observation end.

A builder is a pure function of the store's data and the :class:`Window` (no clock, no
state), so a result cache keyed by (page, window, data versions) can wrap it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from tenure.analytics.base import store_end
from tenure.dashboard.model import Column, Table, Unit, Value, Window
from tenure.store import Store, round_money


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

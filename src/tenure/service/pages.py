"""What the admin API's answers share: library results as JSON (money as the CLI's ``--json``
prints it: decimals at the reporting currency's minor unit, ``null`` when unknown) and the
one page of every list (``limit``, ``offset``, ``total``, ``next``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Query, Request
from pydantic import BaseModel, Field

from tenure.service.state import ServiceState
from tenure.store import round_money

#: Rows a page holds unless ``limit`` says otherwise, and at most.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1 to {MAX_LIMIT}, default 50)."),
]
Offset = Annotated[int, Query(ge=0, description="Items skipped before the page (default 0).")]


class Page(BaseModel):
    """One page of a list: its items, how many there are in all, and the next page's URL."""

    items: list[dict[str, Any]] = Field(description="The items of this page.")
    total: int = Field(description="How many items the whole list holds.")
    limit: int = Field(description="The page size asked for.")
    offset: int = Field(description="How many items come before this page.")
    next: str | None = Field(description="The URL of the next page; null on the last one.")


def plain(value: Any) -> Any:
    """``value`` as JSON knows it: money decimals and floats as numbers (NaN as null),
    times as ISO text, NumPy scalars and arrays as Python's."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, np.ndarray | list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is pd.NA:
        return None
    return json.loads(json.dumps(value, default=str))


def money_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its declared money columns (``attrs["money"]``) as decimals at the
    minor unit of ``attrs["currency"]`` (None where unknown), as the CLI prints them."""
    code = frame.attrs.get("currency") or ""
    out = frame.copy()
    for column in frame.attrs.get("money", ()):
        if column in out.columns:
            rounded = [round_money(v, code) for v in out[column]]
            out[column] = pd.Series(rounded, index=out.index, dtype=object)
    return out


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON records: money rounded (:func:`money_frame`), nulls of every kind
    as None, column names as text."""
    shown = money_frame(frame)
    clean = shown.astype(object).where(shown.notna(), None)
    return [
        {str(k): plain(v) for k, v in zip(clean.columns, row, strict=True)}
        for row in clean.itertuples(index=False)
    ]


def total_of(frame: pd.DataFrame) -> int:
    """The whole result's count of a frame a library function may have limited
    (``attrs["rows"]`` or ``attrs["total"]``), else its length."""
    return int(frame.attrs.get("rows", frame.attrs.get("total", len(frame))))


def page(
    request: Request,
    items: Sequence[dict[str, Any]],
    *,
    total: int,
    limit: int,
    offset: int,
) -> Page:
    """The page of ``items`` (already this page's) with the URL of the next one."""
    more = offset + limit < total
    following = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return Page(items=list(items), total=total, limit=limit, offset=offset, next=following)


def frame_page(request: Request, frame: pd.DataFrame, limit: int, offset: int) -> Page:
    """The page ``offset .. offset + limit`` of ``frame``: the whole result, or its first rows
    when the library function was asked for ``offset + limit`` of them."""
    rows = records(frame.iloc[offset : offset + limit])
    return page(request, rows, total=total_of(frame), limit=limit, offset=offset)


def state_of(request: Request) -> ServiceState:
    """The application's :class:`~tenure.service.state.ServiceState`."""
    state: ServiceState = request.app.state.tenure
    return state

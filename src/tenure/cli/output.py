"""Printing results: tables (Rich), ``--json`` and ``--csv``, warnings and notes, shared by the
commands."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pandas as pd
import typer

from tenure.cli.common import console, raw_csv, say
from tenure.cli.render import (
    CHUNK,
    Column,
    blocks,
    build,
    choose,
    columns_of,
    write_csv,
    write_json,
)
from tenure.store import Store, round_money

CsvOpt = Annotated[
    bool,
    typer.Option(
        "--csv",
        help="Print CSV (every row) instead of a table; cells a spreadsheet would run as a "
        "formula start with ' (tenure --raw-csv keeps them as they are).",
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=0,
        help="Rows the table shows (default: a screenful, 50 when not a terminal; 0: all). "
        "--csv and --json give every row.",
        show_default=False,
    ),
]
#: Rows a table shows when the output is not a terminal and no --limit is given.
DEFAULT_ROWS = 50
#: Tables of at most this many rows are wrapped into column blocks rather than cut.
WRAP_ROWS = 25
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Observation end, YYYY-MM-DD (default: today, or a frozen as_of)."
    ),
]


def parse_day(value: str | None, option: str = "--as-of") -> date | None:
    """A YYYY-MM-DD option, or a clear error naming the option and the value."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date YYYY-MM-DD, got {value!r}.") from None


def note_stale(store: Store, table: str, day: date | None = None) -> None:
    """Print on stderr that derived ``table`` is not current as of ``day`` and why, if so
    (:func:`tenure.pipeline.why_stale`), when the store holds it."""
    from tenure.pipeline import why_stale

    if not store.exists(table):
        return
    why = why_stale(store, table, as_of=day)
    if why:
        say(
            ("Note:", "bold"),
            f" {table} is not current ({why}); `tenure run` updates it.",
            err=True,
        )


def is_current(store: Store, table: str, day: date | None) -> bool:
    """Whether derived ``table`` is built and current as of ``day`` (default: the store's
    as-of day), so a reader can read it rather than compute it again."""
    from tenure.analytics.base import store_end
    from tenure.pipeline import why_stale

    end = day if day is not None else store_end(store)
    return store.exists(table) and why_stale(store, table, as_of=end) is None


def note_as_of(store: Store, day: date | None) -> None:
    """Print :func:`tenure.analytics.as_of_note` for the as-of ``day`` on stderr, if any."""
    from tenure.analytics import as_of_note

    note = as_of_note(store, day)
    if note:
        say(("Note:", "bold"), " ", note, err=True)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON-ready records: nulls of every kind as None, money decimals as
    numbers, the values otherwise exact (control characters included; JSON escapes them)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {
            str(k): float(v) if isinstance(v, Decimal) else v
            for k, v in zip(clean.columns, row, strict=True)
        }
        for row in clean.itertuples(index=False)
    ]


def chunked_records(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """:func:`records` of ``frame``, :data:`~tenure.cli.render.CHUNK` rows at a time."""
    for start in range(0, len(frame), CHUNK):
        yield from records(frame.iloc[start : start + CHUNK])


def warn(messages: Sequence[str]) -> None:
    """Print warnings (e.g. the money warnings) on stderr, never in the --json/--csv output."""
    for message in messages:
        say(("Warning:", "bold yellow"), " ", message, err=True)


def money_frame(
    frame: pd.DataFrame, money: Sequence[str] | None = None, currency: str | None = None
) -> pd.DataFrame:
    """``frame`` with its money columns as decimals rounded to the currency's minor unit
    (None where unknown). ``money`` and ``currency`` default to ``frame.attrs`` (``money``:
    the result's declared money columns, ``currency``: the reporting currency)."""
    columns = frame.attrs.get("money", ()) if money is None else money
    code = currency or frame.attrs.get("currency") or ""
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = pd.Series(
                [round_money(v, code) for v in out[column]], index=out.index, dtype=object
            )
    return out


def alike(column: Column) -> bool:
    """Whether every cell of ``column`` shows the same known value."""
    return bool(column.cells[0]) and all(c == column.cells[0] for c in column.cells)


def screen_rows(limit: int | None) -> int | None:
    """The rows a terminal table shows: ``limit`` (0: all, None), else a screenful (the
    terminal's height less the title, header and notes; at least 10), else
    :data:`DEFAULT_ROWS` when the output is not a terminal."""
    if limit is not None:
        return None if limit == 0 else limit
    if console.is_terminal:
        return max(10, console.height - 10)
    return DEFAULT_ROWS


def emit(
    frame: pd.DataFrame,
    *,
    title: str,
    as_json: bool = False,
    as_csv: bool = False,
    money: Sequence[str] | None = None,
    currency: str | None = None,
    percent: Sequence[str] = (),
    limit: int | None = None,
    keys: Sequence[str] | None = None,
    wrap: bool | None = None,
    tail: bool = False,
    more: str = "--csv or --json",
) -> None:
    """Print a data frame as a Rich table fitted to the terminal, JSON records or CSV.

    Money columns (``money``, else ``frame.attrs["money"]``) are decimals at the minor unit
    of ``currency`` (else ``frame.attrs["currency"]``), blank / null when unknown, never 0;
    rates (:data:`~tenure.cli.render.PERCENT` and ``percent``) are shown in percent. JSON and
    CSV stream every row in chunks (CSV neutralised against formulas unless
    ``tenure --raw-csv``). The terminal shows ``limit`` rows (:func:`screen_rows`; the first,
    or the last with ``tail``) of ``frame.attrs["rows"]`` (or ``"total"``: the whole
    result's count when the library returned a limited frame), says how many were left out,
    and fits the width: ``wrap`` (default: when at most :data:`WRAP_ROWS` rows are shown)
    cuts the columns into blocks repeating the ``keys`` (default: the first column and the
    identifier columns), else the columns that do not fit are left out and named, with
    ``more``, the flag that shows them."""
    if as_json:
        write_json(chunked_records(money_frame(frame, money, currency)), console.file)
        return
    if as_csv:
        write_csv(money_frame(frame, money, currency), console.file, raw=raw_csv())
        return
    total = int(frame.attrs.get("rows", frame.attrs.get("total", len(frame))))
    rows = screen_rows(limit)
    if rows is not None and len(frame) > rows:
        frame = frame.tail(rows) if tail else frame.head(rows)
    shown = money_frame(frame, money, currency)
    columns = columns_of(shown, (), percent)
    keys = (
        list(keys)
        if keys is not None
        else [c.name for c in columns[:1] if c] + [c.name for c in columns[1:] if c.is_id]
    )
    width = console.width
    if wrap if wrap is not None else len(shown) <= WRAP_ROWS:
        parts = blocks(columns, width, keys)
        left_out: list[Column] = []
        same: list[Column] = []
    else:  # a column alike in every row of a long table is said once, under the table
        long = len(shown) > WRAP_ROWS
        same = [c for c in columns if long and c.name not in keys and alike(c)]
        varied = [c for c in columns if c not in same]
        parts = [choose(varied, width, keys)]
        left_out = [c for c in varied if c not in parts[0]]
    for i, part in enumerate(parts):
        console.print(build(part, len(shown), width, title if i == 0 else None))
    if same:
        say((f"In every row shown: {'; '.join(f'{c.header} {c.cells[0]}' for c in same)}.", "dim"))
    if len(shown) < total:
        which = "last" if tail else "first"
        say(
            (
                f"Showing the {which} {len(shown):,} of {total:,} rows; "
                "--limit 0 or --csv for all.",
                "dim",
            )
        )
    if left_out:
        names = ", ".join(c.header for c in left_out)
        say((f"Left out to fit {width} columns: {names} ({more} shows them).", "dim"))


KPI_HEADLINE = [
    "period",
    "revenue",
    "orders",
    "aov",
    "customers",
    "new_customers",
    "repeat_purchase_rate",
    "retention_rate",
    "cac",
    "clv",
]


def kpi_table(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The terminal view of :func:`tenure.analytics.periods.kpis`: ``columns`` (and the group
    column when split, after the period); :func:`emit` shows its rates in percent under
    short names (:data:`~tenure.cli.render.PERCENT`)."""
    by = frame.attrs.get("by")
    shown = [*columns[:1], by, *columns[1:]] if by else list(columns)
    view = frame[shown].copy()
    view.attrs = dict(frame.attrs)
    return view

"""Printing results: tables (Rich), ``--json`` and ``--csv``, warnings and notes, shared by the
commands."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from tenure.cli.common import (
    console,
    err_console,
    print_json,
)
from tenure.store import Store, round_money

CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
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
        err_console.print(
            f"[bold]Note:[/bold] {table} is not current ({why}); `tenure run` updates it.",
            highlight=False,
        )


def note_as_of(store: Store, day: date | None) -> None:
    """Print :func:`tenure.analytics.as_of_note` for the as-of ``day`` on stderr, if any."""
    from tenure.analytics import as_of_note

    note = as_of_note(store, day)
    if note:
        err_console.print(f"[bold]Note:[/bold] {note}", highlight=False)


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, Decimal):  # money, already at its minor unit
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {
            k: float(v) if isinstance(v, Decimal) else v
            for k, v in zip(clean.columns, row, strict=True)
        }
        for row in clean.itertuples(index=False)
    ]


def warn(messages: Sequence[str]) -> None:
    """Print warnings (e.g. the money warnings) on stderr, never in the --json/--csv output."""
    for message in messages:
        err_console.print(f"[bold yellow]Warning:[/bold yellow] {escape(message)}", highlight=False)


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


def emit(
    frame: pd.DataFrame,
    *,
    title: str,
    as_json: bool = False,
    as_csv: bool = False,
    money: Sequence[str] | None = None,
    currency: str | None = None,
) -> None:
    """Print a data frame as a Rich table, JSON records or CSV; money columns (``money``, else
    ``frame.attrs["money"]``) as decimals at the minor unit of ``currency`` (else
    ``frame.attrs["currency"]``): blank / null when unknown, never 0."""
    shown = money_frame(frame, money, currency)
    if as_json:
        print_json(records(shown))
        return
    if as_csv:
        buffer = io.StringIO()
        shown.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
        console.print(buffer.getvalue(), end="", markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=title, title_justify="left")
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in shown.itertuples(index=False):
        table.add_row(*[cell(v) for v in row])
    console.print(table)


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
#: Rates shown in % in the terminal, under a short name.
PERCENT = {
    "repeat_purchase_rate": "repeat %",
    "retention_rate": "retention %",
    "churn_rate": "churn %",
    "prospect_conversion": "conversion %",
    "yearly_churn": "yearly churn %",
}


def kpi_table(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The terminal view of :func:`tenure.analytics.periods.kpis`: ``columns`` (and the group
    column when split), rates in % under short names."""
    by = frame.attrs.get("by")
    shown = [*columns[:1], by, *columns[1:]] if by else list(columns)
    view = frame[shown].copy()
    for column in set(PERCENT) & set(shown):
        view[column] = view[column] * 100
    return view.rename(columns=PERCENT)

"""The analytics commands of `tenure` (refresh, kpis, rfm, cohorts, customers): parse, call
one library function, print a Rich table, or ``--json`` / ``--csv`` for machines."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from tenure.cli import (
    JsonOpt,
    StoreOpt,
    _kv_table,
    _open_store,
    _print_json,
    _progress,
    app,
    console,
    err_console,
)
from tenure.store import Store, round_money

CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Observation end, YYYY-MM-DD (default: today, or a frozen as_of)."
    ),
]
customers_app = typer.Typer(help="Customer facts, one person at a time.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


def parse_day(value: str | None, option: str = "--as-of") -> date | None:
    """A YYYY-MM-DD option, or a clear error naming the option and the value."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date YYYY-MM-DD, got {value!r}.") from None


def note_as_of(store: Store, day: date | None) -> None:
    """Print :func:`tenure.analytics.as_of_note` for the as-of ``day`` on stderr, if any."""
    from tenure.analytics import as_of_note

    note = as_of_note(store, day)
    if note:
        err_console.print(f"[bold]Note:[/bold] {note}", highlight=False)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, Decimal):  # money, already at its minor unit
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
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
        _print_json(_records(shown))
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
        table.add_row(*[_cell(v) for v in row])
    console.print(table)


@app.command()
def refresh(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    show_progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Rebuild the derived tables (customer_facts and what reads it)."""
    from tenure.analytics import refresh as run_refresh

    with _open_store(store) as st, _progress(show_progress and not as_json) as bar:
        result = run_refresh(st, as_of=parse_day(as_of), progress=bar)
        note_as_of(st, result.as_of)
    warn(result.warnings)
    if as_json:
        _print_json(result.to_dict())
        return
    rows = [
        (name, f"{result.rows[name]:,} rows in {result.seconds[name]:.2f} s")
        for name in result.rows
    ]
    console.print(_kv_table(f"Refreshed as of {result.as_of}", rows))


@customers_app.command("show")
def customers_show(
    person: Annotated[str, typer.Argument(help="A person id or any identifier (kind:value).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The customer_facts row of one person."""
    from tenure.analytics import customer_row
    from tenure.analytics.facts import MONEY_COLUMNS
    from tenure.analytics.money import money_warnings
    from tenure.store import reporting_currency

    with _open_store(store) as st:
        row = customer_row(st, person)
        code, warnings = reporting_currency(st), money_warnings(st)
    money = [*MONEY_COLUMNS, *(k for k in row if re.fullmatch(r"clv_\d+m", k))]
    shown = {k: round_money(v, code) if k in money else v for k, v in row.items()}
    warn(warnings)
    if as_json:
        doc = {k: float(v) if isinstance(v, Decimal) else v for k, v in shown.items()}
        console.print_json(json.dumps({**doc, "warnings": warnings}, default=str))
        return
    title = f"Customer {row['person_id']} (money in {code})"
    console.print(_kv_table(title, [(k, _cell(v)) for k, v in shown.items()]))


@app.command("cohorts")
def cohorts_command(
    store: StoreOpt = None,
    period: Annotated[str, typer.Option(help="Cohort grain: week, month or quarter.")] = "month",
    by: Annotated[
        str, typer.Option(help="acquisition, channel or first_category (x acquisition period).")
    ] = "acquisition",
    metric: Annotated[
        str,
        typer.Option(
            help="Matrix cells: retention, active, orders, revenue, margin, "
            "cumulative_revenue, cumulative_margin (money per customer)."
        ),
    ] = "retention",
    long: Annotated[
        bool, typer.Option("--long", help="The tidy table (every metric) instead of a matrix.")
    ] = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Acquisition cohorts x periods since acquisition: retention, orders, revenue, CLV curve."""
    from tenure.analytics import cohort_matrix, cohorts

    day = parse_day(as_of)
    with _open_store(store) as st:
        if long:
            frame = cohorts(st, period=period, by=by, as_of=day)
        else:
            frame = cohort_matrix(st, period=period, by=by, as_of=day, metric=metric)
        note_as_of(st, frame.attrs["as_of"])
    if long or frame.attrs["money"]:
        warn(frame.attrs["warnings"])
    what = "all metrics" if long else metric
    title = f"Cohorts by {by} ({period}), {what}, as of {frame.attrs['as_of']}"
    if not long and frame.attrs["partial"]:
        title += "; the last period of each row is partial"
    if not long and metric == "retention" and not (as_json or as_csv):
        periods = [c for c in frame.columns if isinstance(c, int)]
        frame = frame.assign(**{str(c): frame[c] * 100 for c in periods}).drop(columns=periods)
        title += " (% of the cohort active)"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv)


@app.command("rfm")
def rfm_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    customers: Annotated[
        bool, typer.Option("--customers", help="One row per customer instead of per segment.")
    ] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """RFM segments (sizes, shares, means), or every customer's scores with --customers."""
    from tenure.analytics.money import money_warnings
    from tenure.analytics.rfm import MONEY_COLUMNS, rfm, rfm_segments
    from tenure.store import reporting_currency

    with _open_store(store) as st:
        day = parse_day(as_of)
        expr = (
            rfm(st, as_of=day).order_by("person_id") if customers else rfm_segments(st, as_of=day)
        )
        frame = expr.to_pandas()
        note_as_of(st, day)
        code, warnings = reporting_currency(st), money_warnings(st, as_of=day)
    warn(warnings)
    title = f"RFM (margin in {code})"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv, money=MONEY_COLUMNS, currency=code)


@app.command("channels")
def channels_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Days after the first order the CLV counts.")
    ] = 365,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Channel economics: new customers, spend, CAC, historical CLV, CLV:CAC, health, payback."""
    from tenure.analytics.kpis import channel_economics

    with _open_store(store) as st:
        frame = channel_economics(st, as_of=parse_day(as_of), horizon_days=horizon_days)
        note_as_of(st, parse_day(as_of))
    warn(frame.attrs["warnings"])
    title = f"Channel economics ({frame.attrs['currency']})"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv)


#: The columns `tenure kpis` shows in the terminal (every column with --wide, --json, --csv).
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
_PERCENT = {
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
    for column in set(_PERCENT) & set(shown):
        view[column] = view[column] * 100
    return view.rename(columns=_PERCENT)


@app.command("kpis")
def kpis_command(
    store: StoreOpt = None,
    grain: Annotated[str, typer.Option(help="Period: day, week, month or quarter.")] = "month",
    start: Annotated[
        str | None, typer.Option(help="First period: the one holding this day, YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last period: the one holding this day (default: as of).")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="One row per period and channel, cohort, segment or status.")
    ] = None,
    as_of: AsOfOpt = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column in the table, not only the headline.")
    ] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """KPIs per period: revenue, orders, AOV, buyers, new, repeat, retention, churn, CAC, CLV."""
    from tenure.analytics.periods import kpis

    first, last, day = parse_day(start, "--start"), parse_day(end, "--end"), parse_day(as_of)
    with _open_store(store) as st:
        frame = kpis(st, grain=grain, start=first, end=last, by=by, as_of=day)
        note_as_of(st, frame.attrs["as_of"])
    warn(frame.attrs["warnings"])
    if as_json or as_csv:
        emit(frame, title="", as_json=as_json, as_csv=as_csv)
        return
    title = f"KPIs per {grain}" + (f" by {by}" if by else "") + f", as of {frame.attrs['as_of']}"
    title += f", in {frame.attrs['currency']}"
    if frame["partial"].any():
        title += "; the last period is partial"
    columns = [c for c in frame.columns if c != by] if wide else KPI_HEADLINE
    emit(kpi_table(frame, columns), title=title)

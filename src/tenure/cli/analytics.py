"""The analytics commands (refresh, kpis, rfm, channels, cohorts, customers): parse, call
one library function, print a Rich table, or ``--json`` / ``--csv`` for machines."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    console,
    kv_table,
    open_store,
    print_json,
    progress_bar,
    say,
)
from tenure.cli.output import (
    KPI_HEADLINE,
    AsOfOpt,
    CsvOpt,
    LimitOpt,
    emit,
    is_current,
    kpi_table,
    money_frame,
    note_as_of,
    note_stale,
    parse_day,
    records,
    screen_rows,
    warn,
)
from tenure.cli.render import PERCENT, cell

customers_app = typer.Typer(help="Customer facts, one person at a time.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


@app.command()
def refresh(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    show_progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Rebuild the derived tables (customer_facts and what reads it)."""
    from tenure.pipeline import refresh as run_refresh

    with open_store(store) as st, progress_bar(show_progress and not as_json) as bar:
        result = run_refresh(st, as_of=parse_day(as_of), progress=bar)
        note_as_of(st, result.as_of)
    warn(result.warnings)
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        (name, f"{result.rows[name]:,} rows in {result.seconds[name]:.2f} s")
        for name in result.rows
    ]
    console.print(kv_table(f"Refreshed as of {result.as_of}", rows))


@customers_app.command("show")
def customers_show(
    person: Annotated[str, typer.Argument(help="A person id or any identifier (kind:value).")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The customer_facts row of one person, with their predictions (brought up to date
    first when stale; stale predictions are noted, `tenure predict` renews them)."""
    from tenure.analytics import customer_row
    from tenure.pipeline import ensure_current

    with open_store(store) as st:
        ensure_current(st, "customer_facts")
        note_stale(st, "customer_predictions")
        frame = customer_row(st, person)
    warnings = frame.attrs["warnings"]
    warn(warnings)
    shown = money_frame(frame)
    if as_json:
        print_json({**records(shown)[0], "warnings": warnings})
        return
    title = f"Customer {frame['person_id'].iloc[0]} (money in {frame.attrs['currency']})"
    rows = [
        (str(k), cell(v, "percent" if k in PERCENT else "value")) for k, v in shown.iloc[0].items()
    ]
    console.print(kv_table(title, rows))


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
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Acquisition cohorts x periods since acquisition: retention, orders, revenue, CLV curve."""
    from tenure.analytics import cohort_matrix, cohorts

    day = parse_day(as_of)
    with open_store(store) as st:
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
    percent: list[str] = []
    if not long and metric == "retention":
        percent = [str(c) for c in frame.columns if isinstance(c, int)]
        title += " (% of the cohort active)"
    keys = ["cohort", by] if by != "acquisition" and by in frame.columns else ["cohort"]
    emit(
        frame,
        title=title,
        as_json=as_json,
        as_csv=as_csv,
        percent=percent,
        limit=limit,
        keys=[k for k in keys if k in frame.columns],
        wrap=True,
    )


@app.command("rfm")
def rfm_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    customers: Annotated[
        bool, typer.Option("--customers", help="One row per customer instead of per segment.")
    ] = False,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """RFM segments (sizes, shares, means), or every customer's scores with --customers."""
    from tenure.analytics.rfm import rfm_customers, rfm_segments

    day = parse_day(as_of)
    rows = None if as_json or as_csv else screen_rows(limit)
    with open_store(store) as st:
        if customers:
            stored = is_current(st, "customer_rfm", day)
            frame = rfm_customers(st, as_of=day, limit=rows, stored=stored)
        else:
            frame = rfm_segments(st, as_of=day)
        note_as_of(st, day)
    warn(frame.attrs["warnings"])
    title = f"RFM (margin in {frame.attrs['currency']})"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv, limit=limit)


@app.command("channels")
def channels_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Days after the first order the CLV counts.")
    ] = 365,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Channel economics: new customers, spend, CAC, historical CLV, CLV:CAC, health, payback."""
    from tenure.analytics.channels import channels

    with open_store(store) as st:
        frame = channels(st, as_of=parse_day(as_of), horizon_days=horizon_days)
        note_as_of(st, parse_day(as_of))
    warn(frame.attrs["warnings"])
    title = f"Channel economics ({frame.attrs['currency']})"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv, limit=limit, keys=["channel"])


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
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """KPIs per period: revenue, orders, AOV, buyers, new, repeat, retention, churn, CAC, CLV."""
    from tenure.analytics.periods import kpis

    first, last, day = parse_day(start, "--start"), parse_day(end, "--end"), parse_day(as_of)
    with open_store(store) as st:
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
    keys = ["period", by] if by else ["period"]
    emit(kpi_table(frame, columns), title=title, limit=limit, keys=keys, wrap=True, tail=True)
    if not wide:
        hidden = len(frame.columns) - len(columns) - (1 if by else 0)
        say((f"{hidden} more columns with --wide (or --json, --csv).", "dim"))

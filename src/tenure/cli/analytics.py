"""The analytics commands (refresh, kpis, rfm, channels, cohorts, customers): parse, call
one library function, print a Rich table, or ``--json`` / ``--csv`` for machines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
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

customers_app = typer.Typer(
    help="Find customers (search, list) and show one person's facts.", no_args_is_help=True
)
app.add_typer(customers_app, name="customers")


@app.command()
def refresh(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Rebuild the derived tables (customer_facts and what reads it)."""
    from tenure.pipeline import refresh as run_refresh

    with open_store(store) as st, progress_bar(show_progress) as bar:
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


PersonArg = Annotated[
    str,
    typer.Argument(
        help="A person id, customer id, e-mail, phone, anonymous id or order id, bare or as "
        "kind:value (email:gus.clark1@example.com, order:D00000002)."
    ),
]
CustomersLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=0,
        help="Customers shown (default: 20; 0: all). --json and --csv give every match "
        "unless --limit is given.",
        show_default=False,
    ),
]
#: Rows a customers table shows in the terminal without --limit.
SCREEN = 20


@customers_app.command("show")
def customers_show(person: PersonArg, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The customer_facts row of one person, with their predictions (brought up to date
    first when stale; stale predictions are noted, `tenure predict` renews them)."""
    from tenure.analytics import customer_row
    from tenure.pipeline import ensure_current

    with open_store(store) as st:
        if st.read_only:  # nothing can be brought up to date: say what is stale
            note_stale(st, "customer_facts")
        else:
            ensure_current(st, "customer_facts")
        note_stale(st, "customer_predictions")
        frame = customer_row(st, person)
    warnings = frame.attrs["warnings"]
    warn(warnings)
    shown = money_frame(frame)
    if as_json:
        print_json({**records(shown)[0], "matched": frame.attrs["matched"], "warnings": warnings})
        return
    title = f"Customer {frame['person_id'].iloc[0]} (money in {frame.attrs['currency']})"
    matched = frame.attrs["matched"]
    if matched["kind"] != "person_id":
        title += f", found by {matched['kind']} {matched['value']}"
    rows = [
        (str(k), cell(v, "percent" if k in PERCENT else "value")) for k, v in shown.iloc[0].items()
    ]
    console.print(kv_table(title, rows))


def _customers_title(what: str, frame: Any) -> str:
    """``what: 62 customers (revenue in USD)``; ``attrs["rows"]`` set to the total, so that
    the table says how many it leaves out."""
    total = frame.attrs["rows"] = frame.attrs["total"]
    noun = "customer" if total == 1 else "customers"
    return f"{what}: {total:,} {noun} (revenue in {frame.attrs['currency']})"


def _rows(limit: int | None, every: bool) -> int | None:
    """The rows a customers command asks for: ``--limit`` (0: all), else :data:`SCREEN` in
    the terminal and all with ``--json``/``--csv`` (``every``)."""
    if limit is not None:
        return None if limit == 0 else limit
    return None if every else SCREEN


@customers_app.command("search")
def customers_search(
    text: Annotated[
        str, typer.Argument(help="Part of a customer id, e-mail, phone, name or order id.")
    ],
    store: StoreOpt = None,
    limit: CustomersLimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Customers whose identifier, name or order id contains TEXT (any case): exact matches
    first, then by revenue."""
    from tenure.analytics import search_customers
    from tenure.pipeline import ensure_current

    with open_store(store) as st:
        ensure_current(st, "customer_status")
        frame = search_customers(st, text, limit=_rows(limit, as_json or as_csv))
    title = _customers_title(f"Customers matching {text!r}", frame)
    emit(frame, title=title, as_json=as_json, as_csv=as_csv, limit=0)


@customers_app.command("list")
def customers_list(
    store: StoreOpt = None,
    segment: Annotated[
        str | None, typer.Option(help="Only this RFM segment (e.g. Champions, 'At risk').")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this lifecycle status (e.g. at_risk, vip).")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="Sort by person_id, customer_id, email, name, status, orders, revenue or "
            "last_order."
        ),
    ] = "revenue",
    desc: Annotated[
        bool | None,
        typer.Option(
            "--desc/--asc",
            help="Highest (Z) first, or lowest (A) first (default: highest first for "
            "orders, revenue and last_order, A first for text).",
            show_default=False,
        ),
    ] = None,
    limit: CustomersLimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Customers of a segment and status, sorted by any column."""
    from tenure.analytics import list_customers
    from tenure.pipeline import ensure_current

    rows = _rows(limit, as_json or as_csv)
    with open_store(store) as st:
        ensure_current(st, "customer_status", "customer_rfm")
        frame = list_customers(
            st, segment=segment, status=status, sort=sort, descending=desc, limit=rows
        )
    which = [f"segment {frame.attrs['segment']}"] if segment else []
    which += [f"status {frame.attrs['status']}"] if status else []
    what = "Customers" + (f" of {' and '.join(which)}" if which else "") + f" by {sort}"
    emit(frame, title=_customers_title(what, frame), as_json=as_json, as_csv=as_csv, limit=0)


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
        str | None,
        typer.Option(
            help="One row per period and channel, cohort, segment, status or journey stage."
        ),
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

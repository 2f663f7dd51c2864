"""`tenure demo`: generate the synthetic store, with a quarter of history, and print its
headline figures (:func:`tenure.pipeline.demo.demo`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

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
from tenure.cli.output import emit, kpi_table, money_frame, records
from tenure.demo import DEFAULT_TASTE

#: The channel columns `tenure demo` prints (every column with --json).
DEMO_CHANNELS = ["channel", "new_customers", "cac", "clv", "clv_cac", "health"]
#: The headline KPIs `tenure demo` prints for the last twelve months.
DEMO_KPIS = [
    "period",
    "revenue",
    "orders",
    "aov",
    "customers",
    "repeat_purchase_rate",
    "retention_rate",
]


@app.command()
def demo(
    store: StoreOpt = None,
    customers: Annotated[int, typer.Option(min=1, help="Customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same store.")] = 7,
    start: Annotated[str, typer.Option(help="First day of the store (YYYY-MM-DD).")] = "2024-01-01",
    days: Annotated[int, typer.Option(min=30, help="Days of history.")] = 730,
    replace: Annotated[bool, typer.Option(help="Overwrite a store that holds other data.")] = False,
    taste: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Buyers' tastes: the probability (0-1) that an order's products come from "
            "the buyer's favourite category, or the next one on its journey (0: none).",
        ),
    ] = DEFAULT_TASTE,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Generate a realistic synthetic store (customers, events, orders, spend) to explore."""
    from tenure.pipeline.demo import demo as run_demo
    from tenure.pipeline.demo import demo_report

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"{start!r} is not a date (YYYY-MM-DD).", param_hint="--start"
        ) from None
    with open_store(store) as st, progress_bar(show_progress) as bar:
        report = run_demo(
            st,
            customers=customers,
            seed=seed,
            start=first_day,
            days=days,
            replace=replace,
            progress=bar,
            taste=taste,
        )
        page = demo_report(st)
    summary = report.summary
    if as_json:
        channels, monthly = money_frame(report.channels), money_frame(report.kpis)
        doc = {**summary.to_dict(), "channels": records(channels), "kpis": records(monthly)}
        print_json({**doc, "report": str(page)})
        return
    rows = [
        ("Customers", summary.customers),
        ("Prospects (no order)", summary.prospects),
        ("Orders", summary.orders),
        ("Revenue", f"{summary.revenue:,.2f} {summary.currency}"),
        ("Average order value", f"{summary.aov:,.2f} {summary.currency}"),
        ("Repeat purchase rate", f"{summary.repeat_rate:.1%}"),
        ("Sessions", summary.sessions),
        ("Events", summary.events),
        ("Ad spend", f"{summary.spend:,.2f} {summary.currency}"),
        ("Feedback (NPS answers, reviews)", summary.tables["feedback"]),
        ("Referrals", summary.tables["referrals"]),
    ]
    console.print(kv_table(f"Demo store (seed {summary.seed})", rows))
    emit(report.channels[DEMO_CHANNELS], title="Acquisition channels: CAC and 12-month CLV:CAC")
    monthly = report.kpis
    title = f"Last 12 months, as of {monthly.attrs['as_of']}"
    if monthly["partial"].any():
        title += " (the last month is partial)"
    emit(kpi_table(monthly, DEMO_KPIS), title=title)
    say("Store: ", (str(summary.location), "bold"))
    say("Report: ", (str(page), "bold"), " (open it in a browser; it works offline)")

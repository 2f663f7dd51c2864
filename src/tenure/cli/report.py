"""`tenure report`: the whole lifecycle picture for one period in one self-contained HTML
file (:func:`tenure.pipeline.dashboard.report`: the pages the pipeline kept, when they
hold, else :func:`tenure.dashboard.report.write_report`'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenure.cli.common import StoreOpt, app, open_store, say
from tenure.cli.output import parse_day

LangOpt = Annotated[
    str | None,
    typer.Option(help="Language: en, fr or es (default: the dashboard_language setting)."),
]


@app.command()
def report(
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "tenure-report.html"
    ),
    start: Annotated[str | None, typer.Option(help="First day of the period, YYYY-MM-DD.")] = None,
    end: Annotated[
        str | None,
        typer.Option(help="Last day of the period (default: the month of the as-of day)."),
    ] = None,
    compare_start: Annotated[
        str | None,
        typer.Option(help="First day of the comparison period (default: just before)."),
    ] = None,
    compare_end: Annotated[
        str | None, typer.Option(help="Last day of the comparison period.")
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Write the lifecycle report: every dashboard page for one period, one offline HTML file."""
    from tenure.dashboard.report import window_for
    from tenure.pipeline.dashboard import report as write_report

    days = [
        parse_day(start, "--start"),
        parse_day(end, "--end"),
        parse_day(compare_start, "--compare-start"),
        parse_day(compare_end, "--compare-end"),
    ]
    with open_store(store) as st:
        window = window_for(st, *days)
        path = write_report(st, st.settings, window, out, lang)
    say("Report: ", (str(path), "bold"))

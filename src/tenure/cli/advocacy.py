"""``tenure advocates``: the advocate stage's indicators and the customers ranked by their
measured influence; parses, calls the library (analytics/advocacy.py) and prints."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from tenure.cli.common import JsonOpt, StoreOpt, app, console, kv_table, open_store, print_json
from tenure.cli.output import AsOfOpt, CsvOpt, emit, note_as_of, parse_day, records, warn


@app.command("advocates")
def advocates_command(
    top: Annotated[int, typer.Option("--top", min=1, help="How many advocates to list.")] = 20,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Advocacy indicators (NPS, reviews, referral rate, referred conversion, programme CAC)
    and the customers ranked by influence (docs/metrics.md, "Advocacy indicators")."""
    from tenure.analytics.advocacy import advocacy_kpis, advocates

    day = parse_day(as_of)
    with open_store(store) as st:
        kpis = advocacy_kpis(st, as_of=day)
        frame = advocates(st, as_of=day, top=top)
        note_as_of(st, day)
    if kpis["rewards_other_currency"]:
        warn(
            [
                f"{kpis['rewards_other_currency']} referral rewards are not in "
                f"{kpis['currency']}: left out of the programme CAC."
            ]
        )
    if as_json:
        print_json({"kpis": kpis, "advocates": records(frame)})
        return
    if as_csv:
        emit(frame, title="Advocates", as_csv=True)
        return
    console.print(kv_table("Advocacy indicators", [(k, _show(v)) for k, v in kpis.items()]))
    if frame.empty:
        console.print("No advocates yet: no referred buyer, review or NPS answer in the store.")
        return
    emit(frame, title="Advocates")


def _show(value: object) -> str:
    """A KPI as text: unknown is blank, never 0."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)

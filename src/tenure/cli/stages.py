"""The status commands of `tenure`: ``tenure status`` and ``tenure stages backfill /
transitions / entered``; each parses, calls one library function and prints."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    console,
    open_store,
    print_json,
    progress_bar,
)
from tenure.cli.output import (
    AsOfOpt,
    CsvOpt,
    LimitOpt,
    emit,
    is_current,
    note_as_of,
    parse_day,
    screen_rows,
    warn,
)

stages_app = typer.Typer(help="The stage history: entries, transitions, back-fill.")
app.add_typer(stages_app, name="stages")

StartOpt = Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last day, YYYY-MM-DD.")]


@app.command("status")
def status_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    customers: Annotated[
        bool, typer.Option("--customers", help="One row per person instead of per status.")
    ] = False,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Customer statuses (prospect, new, lapsed, at_risk, vip, active): counts and shares."""
    from tenure.analytics.status import status_counts, status_customers

    day = parse_day(as_of)
    rows = None if as_json or as_csv else screen_rows(limit)
    with open_store(store) as st:
        if customers:
            stored = is_current(st, "customer_status", day)
            frame = status_customers(st, as_of=day, limit=rows, stored=stored)
        else:
            frame = status_counts(st, as_of=day)
        note_as_of(st, day)
    warn(frame.attrs["warnings"])  # tiers and VIPs rank by margin
    emit(frame, title="Customer statuses", as_json=as_json, as_csv=as_csv, limit=limit)


@stages_app.command("backfill")
def stages_backfill(
    start: Annotated[str, typer.Option("--start", help="First day to replay, YYYY-MM-DD.")],
    end: EndOpt = None,
    every: Annotated[str, typer.Option(help="Replay step: day, week or month.")] = "day",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    show_progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Rebuild stage_history by replaying the statuses of each past day (or week, month)."""
    from tenure.analytics.stages import backfill_stages

    first = parse_day(start, "--start")
    assert first is not None
    with open_store(store) as st, progress_bar(show_progress and not as_json) as bar:
        rows = backfill_stages(
            st, start=first, end=parse_day(end, "--end"), every=every, progress=bar
        )
    if as_json:
        print_json({"stage_history_rows": rows})
        return
    console.print(f"stage_history: {rows:,} rows")


@stages_app.command("transitions")
def stages_transitions(
    start: StartOpt = None,
    end: EndOpt = None,
    store: StoreOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Moves between statuses dated within --start..--end, with their rates."""
    from tenure.analytics.stages import transitions

    with open_store(store) as st:
        frame = transitions(st, start=parse_day(start, "--start"), end=parse_day(end, "--end"))
    emit(frame, title="Status transitions", as_json=as_json, as_csv=as_csv, limit=limit)


@stages_app.command("entered")
def stages_entered(
    status: Annotated[
        str | None, typer.Option("--status", help="Only this status (e.g. at_risk).")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Day, YYYY-MM-DD (default: the last refresh).")
    ] = None,
    store: StoreOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The persons who entered a status on a day ("entered at-risk today")."""
    from tenure.analytics.stages import stage_entries

    with open_store(store) as st:
        frame = stage_entries(st, status=status, on=parse_day(on, "--on"))
    emit(frame, title="Entered", as_json=as_json, as_csv=as_csv, limit=limit)

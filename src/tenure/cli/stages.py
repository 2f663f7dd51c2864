"""The status commands of `tenure`: ``tenure status`` and ``tenure stages backfill /
transitions / entered``; each parses, calls one library function and prints."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import pandas as pd
import typer

from tenure.analytics.journey import JourneyRules
from tenure.analytics.stages import HistorySpan
from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
    StoreOpt,
    app,
    console,
    open_store,
    print_json,
    progress_bar,
    say,
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

stages_app = typer.Typer(
    help="Journey stages (reach ... advocate, at risk, lapsed) per day; the status history: "
    "entries, transitions, back-fill.",
    invoke_without_command=True,
)
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


@stages_app.callback()
def stages_command(
    ctx: typer.Context,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    show_transitions: Annotated[
        bool,
        typer.Option(
            "--transitions", help="Entries into / exits from each stage per period instead."
        ),
    ] = False,
    show_indicators: Annotated[
        bool,
        typer.Option(
            "--indicators",
            help="The indicators of each stage (visitors, conversion, CAC, second-order rate, "
            "retention, NPS, CLV of referred buyers...) instead.",
        ),
    ] = False,
    period: Annotated[
        str, typer.Option(help="Period of --transitions: day, week or month.")
    ] = "month",
    onboarding_days: Annotated[
        int, typer.Option(help="Days after the first purchase the develop stage lasts.")
    ] = 90,
    nps_promoter: Annotated[
        float, typer.Option(help="Lowest NPS score (0-10) of a promoter.")
    ] = 9.0,
    review_share: Annotated[
        float, typer.Option(help="Lowest review score of a promoter, as a share of the top.")
    ] = 0.8,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days", min=1, help="--indicators: the CAC's spend window and CLV horizon."
        ),
    ] = 365,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The persons in each journey stage as of a day (docs/metrics.md, "Journey stages");
    --transitions: the entries and exits per period recorded in journey_history;
    --indicators: the indicators of each stage ("Indicators per stage")."""
    if ctx.invoked_subcommand is not None:
        return
    from tenure.analytics.journey import journey_counts, journey_transitions

    day = parse_day(as_of)
    if show_indicators:
        rules = JourneyRules(onboarding_days, nps_promoter, review_share)
        _indicators(store, day, rules, horizon_days, as_json=as_json, as_csv=as_csv)
        return
    with open_store(store) as st:
        if show_transitions:
            frame = journey_transitions(st, period=period)
        else:
            rules = JourneyRules(onboarding_days, nps_promoter, review_share)
            frame = journey_counts(st, as_of=day, rules=rules)
            note_as_of(st, day)
    title = "Journey transitions" if show_transitions else "Journey stages"
    emit(frame, title=title, as_json=as_json, as_csv=as_csv)


def _indicators(
    store: str | None,
    day: date | None,
    rules: JourneyRules,
    horizon_days: int,
    *,
    as_json: bool,
    as_csv: bool,
) -> None:
    """`tenure stages --indicators`: the rows of ``stage_indicators``, values as they are in
    JSON and CSV (shares as fractions), by their unit in the terminal."""
    from tenure.analytics.stage_kpis import stage_indicators

    with open_store(store) as st:
        frame = stage_indicators(st, day, rules=rules, horizon_days=horizon_days)
        note_as_of(st, day)
    warn(frame.attrs["warnings"])
    code = frame.attrs["currency"]
    if as_json or as_csv:
        emit(frame, title="", as_json=as_json, as_csv=as_csv, money=())
        return
    view = frame[["stage", "indicator"]].assign(
        value=[shown(v, u, code) for v, u in zip(frame["value"], frame["unit"], strict=True)],
        basis=frame["basis"],
    )
    title = f"Indicators per stage as of {frame.attrs['as_of']} (money in {code})"
    emit(view, title=title, money=(), limit=0, keys=["stage", "indicator"])


def shown(value: float | None, unit: str, code: str) -> str:
    """An indicator's value as text by its unit: blank when unknown, never 0."""
    if value is None or pd.isna(value):
        return ""
    if unit in ("persons", "count"):
        return f"{value:,.0f}"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "days":
        return f"{value:,g} days"
    if unit == "money":
        return f"{value:,.2f} {code}"
    return f"{value:,.1f}"


@stages_app.command("backfill")
def stages_backfill(
    start: Annotated[str, typer.Option("--start", help="First day to replay, YYYY-MM-DD.")],
    end: EndOpt = None,
    every: Annotated[str, typer.Option(help="Replay step: day, week or month.")] = "day",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Rebuild stage_history by replaying the statuses of each past day (or week, month)."""
    from tenure.analytics.stages import backfill_stages

    first = parse_day(start, "--start")
    assert first is not None
    with open_store(store) as st, progress_bar(show_progress) as bar:
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
    from tenure.analytics.stages import history_span, transitions

    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    with open_store(store) as st:
        frame = transitions(st, start=first, end=last)
        span = history_span(st) if frame.empty else None
    if span is not None:
        say(("Note:", "bold"), " ", why_no_transitions(span, first, last), err=True)
    emit(frame, title="Status transitions", as_json=as_json, as_csv=as_csv, limit=limit)


def why_no_transitions(span: HistorySpan, start: date | None, end: date | None) -> str:
    """Why the transitions table is empty, and what to run."""
    if span.first_day is None:
        return (
            "No moves between statuses: stage_history is empty. `tenure run` (or `tenure "
            "refresh`) records today's statuses; `tenure stages backfill --start YYYY-MM-DD` "
            "replays past days."
        )
    if span.moves == 0 or span.first_move is None or span.last_move is None:
        return (
            "No moves between statuses yet: stage_history holds one status per person, "
            f"recorded on {span.first_day}. Moves appear once statuses are recorded on later "
            "days (`tenure run` each day), or replay past days: `tenure stages backfill "
            f"--start {span.first_day - timedelta(days=90)} --every week`."
        )
    window = f"{start or 'the first day'}..{end or 'the last day'}"
    return (
        f"No moves between statuses dated within {window}; the {span.moves:,} moves recorded "
        f"are dated {span.first_move}..{span.last_move}."
    )


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

"""`tenure run`: parse, call :func:`tenure.pipeline.run`, print each step's outcome."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer

from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
    StoreOpt,
    app,
    open_store,
    print_json,
    progress_bar,
    say,
)
from tenure.cli.output import AsOfOpt, emit, note_as_of, parse_day
from tenure.errors import PipelineStepError


def steps_frame(result: Any) -> pd.DataFrame:
    """One row per step of a :class:`~tenure.pipeline.RunResult`: outcome, mode, rows,
    seconds and why it ran (or why not)."""
    rows = []
    for s in result.steps:
        ran = s.outcome == "ok"
        rows.append(
            {
                "step": s.step,
                "outcome": s.outcome,
                "mode": s.mode,
                "rows": s.total_rows if ran else None,
                "seconds": round(s.seconds, 2) if ran or s.outcome == "failed" else None,
                "why": s.error if s.outcome != "ok" and s.error else s.reason,
            }
        )
    frame = pd.DataFrame(rows, columns=["step", "outcome", "mode", "rows", "seconds", "why"])
    frame["rows"] = frame["rows"].astype("Int64")
    return frame


@app.command("run")
def run_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild every step in full, stale or not.")
    ] = False,
    steps: Annotated[
        list[str] | None,
        typer.Option(
            "--step",
            help="Only this step and the stale steps it depends on (repeatable): identity, "
            "customer_facts, customer_rfm, customer_status, stage_history, journey, "
            "predictions, recommendations, segments, flows, dashboard.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Bring every stale step up to date, in order (identity -> facts -> RFM -> statuses ->
    stage history -> journey -> predictions -> recommendations -> segments -> flows ->
    dashboard); each step's run is recorded."""
    from tenure.pipeline import run

    with open_store(store) as st, progress_bar(show_progress) as bar:
        try:
            result = run(st, steps=steps or None, as_of=parse_day(as_of), full=full, progress=bar)
        except PipelineStepError as exc:
            _show(exc.result, as_json)
            raise
        note_as_of(st, result.as_of)
    _show(result, as_json)


def _show(result: Any, as_json: bool) -> None:
    if result is None:
        return
    if as_json:
        print_json(result.to_dict())
    else:
        title = f"Pipeline run as of {result.as_of}"
        emit(steps_frame(result), title=title, limit=0, keys=["step"], wrap=False)
        for s in result.steps:
            for note in getattr(s.output, "notes", None) or ():
                say(("Note:", "bold"), f" {s.step}: {note}", err=True)

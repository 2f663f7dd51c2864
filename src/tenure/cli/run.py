"""`tenure run`: parse, call :func:`tenure.pipeline.run`, print each step's outcome."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tenure.cli.common import JsonOpt, StoreOpt, app, console, open_store, print_json, progress_bar
from tenure.cli.output import AsOfOpt, note_as_of, parse_day
from tenure.cli.render import visible
from tenure.errors import PipelineStepError


def steps_table(result: Any) -> Table:
    """One row per step of a :class:`~tenure.pipeline.RunResult`: outcome, mode, rows,
    seconds and why it ran (or why not)."""
    table = Table(title=f"Pipeline run as of {result.as_of}", title_justify="left")
    for column in ("step", "outcome", "mode", "rows", "seconds", "why"):
        table.add_column(column, justify="right" if column in ("rows", "seconds") else "left")
    for s in result.steps:
        ran = s.outcome == "ok"
        table.add_row(
            s.step,
            s.outcome,
            s.mode or "",
            f"{s.total_rows:,}" if ran else "",
            f"{s.seconds:.2f}" if ran or s.outcome == "failed" else "",
            visible(s.error if s.outcome != "ok" and s.error else (s.reason or "")),
        )
    return table


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
            "customer_facts, customer_rfm, customer_status, stage_history, predictions.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
    show_progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Bring every stale step up to date, in order (identity -> facts -> RFM -> statuses ->
    stage history -> predictions); each step's run is recorded."""
    from tenure.pipeline import run

    with open_store(store) as st, progress_bar(show_progress and not as_json) as bar:
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
        console.print(steps_table(result))

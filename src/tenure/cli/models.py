"""The model commands of `tenure` (``tenure models backtest|sufficiency|runs``): parse, call
one library function of :mod:`tenure.predictions.backtest`, :mod:`tenure.predictions.holdout`
or :mod:`tenure.predictions.results`, print a Rich table, or ``--json``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
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
)
from tenure.cli.output import (
    CsvOpt,
    LimitOpt,
    emit,
    note_as_of,
    parse_day,
)
from tenure.store import Store

models_app = typer.Typer(
    help="Backtest the CLV models, check the data is enough, see the recorded choice.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")

#: The columns of the terminal table (every figure is in --json).
SHOWN = {
    "model": "model",
    "mae": "MAE",
    "rmse": "RMSE",
    "predicted": "predicted",
    "actual": "actual",
    "error_pct": "error %",
    "mae_margin": "MAE margin",
    "rmse_margin": "RMSE margin",
    "margin_error_pct": "margin error %",
    "chosen": "chosen",
}


def metrics_view(metrics: pd.DataFrame) -> pd.DataFrame:
    """The terminal view of a backtest's metrics: the :data:`SHOWN` columns, ``*`` for the
    chosen row, the rows that failed without numbers."""
    view = metrics.reindex(columns=list(SHOWN)).copy()
    chosen = metrics["chosen"] if "chosen" in metrics else pd.Series(False, index=metrics.index)
    view["chosen"] = ["*" if bool(c) else "" for c in chosen]
    return view.rename(columns=SHOWN)


#: The folder of reports written by default, next to the store's file.
REPORTS = "tenure-reports"


def reports_dir(store: Store) -> Path:
    """Where a command writes reports by default: ``tenure-reports`` next to the store's
    DuckDB file, else (a store without a file: Spark, in memory) in the working directory."""
    if store.file is not None:
        return store.file.parent / REPORTS
    return Path.cwd() / REPORTS


@models_app.command("backtest")
def backtest_command(
    calibration_end: Annotated[
        str,
        typer.Option(
            "--calibration-end", help="Last day the models see, YYYY-MM-DD.", show_default=False
        ),
    ],
    holdout: Annotated[
        str, typer.Option(help="Holdout after it: 26w, 180d, 6m (calendar months) or 1y.")
    ] = "26w",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Directory for the PNG charts and report.html [default: "
            "tenure-reports/backtest-DATE next to the store's file]."
        ),
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: BetaGeo, ModifiedBetaGeo, ParetoNBD, BetaGeoBetaBinom, "
            "GradientBoosting, heuristic [default: all]."
        ),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Backtest this many buyers drawn at random.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of --sample.")] = 0,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in model_runs.")
    ] = True,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Fit every model up to --calibration-end, predict the holdout, compare, choose, chart."""
    from tenure.predictions.backtest import backtest
    from tenure.predictions.holdout import parse_holdout

    end = parse_day(calibration_end, "--calibration-end")
    assert end is not None
    parse_holdout(holdout, end, option="--holdout")
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    with open_store(store) as st, progress_bar(show_progress) as bar:
        directory = out if out is not None else reports_dir(st) / f"backtest-{end.isoformat()}"
        result = backtest(
            st,
            calibration_end=end,
            holdout=holdout,
            models=names,
            out=directory,
            record=record,
            sample=sample,
            random_state=seed,
            progress=bar,
        )
    if as_json:
        print_json(result.to_dict())
        return
    sampled = f", {result.sample:,} sampled" if result.sample else ""
    title = (
        f"Backtest: calibration to {end.isoformat()}, holdout {holdout} "
        f"({result.holdout_days} days), {result.buyers:,} buyers{sampled}"
    )
    emit(metrics_view(result.metrics), title=title)
    for note in result.notes:
        console.print(note, highlight=False)
    console.print(f"Chosen: {result.chosen or 'none'}. {result.rule}", highlight=False)
    console.print(result.sufficiency.reason, highlight=False)
    console.print(
        f"Charts: report.html and PNGs in {directory.resolve()}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if result.recorded:
        console.print(f"Recorded in model_runs as run {result.run_id}.", highlight=False)


@models_app.command("sufficiency")
def sufficiency_command(
    store: StoreOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Count the data up to this day (default: today, or a frozen as_of)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Whether the store's data are enough for the models (buyers, repeat buyers, history)."""
    from tenure.predictions.holdout import data_sufficiency

    with open_store(store) as st:
        result = data_sufficiency(st, as_of=parse_day(as_of))
        note_as_of(st, result.as_of)
    if as_json:
        print_json(result.to_dict())
        return
    floor = result.floor
    rows = [
        ("Enough for a model", "yes" if result.enough else "no"),
        ("Buyers", f"{result.buyers:,} (floor {floor.buyers:,})"),
        ("Repeat buyers", f"{result.repeat_buyers:,} (floor {floor.repeat_buyers:,})"),
        ("Days of history", f"{result.history_days:,} (floor {floor.history_days:,})"),
    ]
    console.print(kv_table(f"Data as of {result.as_of.isoformat()}", rows))
    console.print(result.reason, highlight=False)


@models_app.command("runs")
def runs_command(
    store: StoreOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The recorded backtests, newest first: per model its RMSE and whether it was chosen."""
    from tenure.predictions.runs import RUN_COLUMNS, model_runs

    with open_store(store) as st:
        runs = model_runs(st)
    view = runs[[*RUN_COLUMNS, "rmse"]].copy()
    view["rmse"] = pd.to_numeric(view["rmse"], errors="coerce")
    emit(
        view,
        title="Recorded backtests (model_runs)",
        as_json=as_json,
        as_csv=as_csv,
        limit=limit,
    )

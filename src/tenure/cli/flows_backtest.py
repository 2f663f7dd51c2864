"""``tenure flows backtest FLOW --from DATE --to DATE``: stored history replayed through a
flow, sending nothing (docs/flows.md, "Backtest"). It parses, calls
:func:`tenure.engage.backtest.backtest_flow` and prints tables, JSON or a chart."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, console, kv_table, open_store, print_json
from tenure.cli.flows import NameArg, flows_app
from tenure.cli.output import emit, parse_day, records, warn
from tenure.engage.flow_spec import flow_paths, load_flows, pick
from tenure.engage.settings import load_policy


@flows_app.command("backtest")
def backtest_command(
    name: NameArg,
    start: Annotated[
        str, typer.Option("--from", help="The first day replayed (YYYY-MM-DD, from midnight UTC).")
    ],
    end: Annotated[str, typer.Option("--to", help="The last day replayed (YYYY-MM-DD, whole).")],
    hours: Annotated[
        int,
        typer.Option(
            "--step",
            min=1,
            help="Hours between two ticks of the replay: the cadence `tenure run` will tick "
            "at for exact caps (a coarser one bunches sends), coarser to size a flow fast.",
        ),
    ] = 24,
    window: Annotated[
        int,
        typer.Option("--window", min=1, help="Attribution window: days after entry counted."),
    ] = 7,
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            help="The share held out in the replay, the comparison group (default: the flow's).",
        ),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the backtest as a PNG file.")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay stored history through a flow with the clock moving, sending nothing: the
    persons per step, messages per day by state, cap collisions, the holdout, and what the
    targeted persons and the holdout bought within the window after entering."""
    from tenure.engage.backtest import backtest_flow
    from tenure.engage.backtest_runs import BY_CLI
    from tenure.engage.charts import write_backtest_chart

    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    assert first is not None and last is not None
    with open_store(store) as st:
        flow = pick(load_flows(flow_paths(Path(st.settings.flows_dir))), name)
        result = backtest_flow(
            st,
            flow,
            datetime.combine(first, time()),
            datetime.combine(last + timedelta(days=1), time()),
            step=timedelta(hours=hours),
            window_days=window,
            holdout_share=holdout,
            policy=load_policy(Path(st.settings.flows_dir)),
            by=BY_CLI,
        )
    drawn = str(write_backtest_chart(result, chart)) if chart is not None else None
    warn(result.notes)
    if as_json:
        print_json(
            {
                **result.summary(),
                "notes": result.notes,
                "steps": records(result.steps),
                "daily": records(result.daily),
                "outcome": records(result.outcome),
                "chart": drawn,
                "recorded": result.recorded,
            }
        )
        return
    console.print(kv_table(f"Backtest of {result.flow}", list(result.summary().items())))
    emit(result.steps, title="Steps (stays that ran each)", limit=0)
    emit(result.daily, title="Messages per day (UTC) by state", limit=0)
    emit(
        result.outcome,
        title=f"Within {window} days of entering: targeted vs holdout",
        percent=("conversion",),
        limit=0,
    )
    if drawn:
        console.print(f"Chart: {drawn}")
    if result.recorded:
        console.print("Recorded as the flow's last backtest (the dashboard's Flows page).")

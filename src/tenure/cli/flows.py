"""``tenure flows list / validate / run / pause / resume``: the flows (docs/flows.md). Each
parses, calls one library function (:mod:`tenure.engage.flows`) and prints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, app, open_store, print_json, say
from tenure.cli.output import emit, records
from tenure.config import load_settings
from tenure.engage.flow_spec import Flow, flow_paths, load_flows, pick
from tenure.store import Store

flows_app = typer.Typer(
    help="Flows: triggered message sequences with holdouts (list, validate, one tick, pause)."
)
app.add_typer(flows_app, name="flows")

FlowOpt = Annotated[
    str | None, typer.Option("--flow", help="Only this flow (default: every flow).")
]
NameArg = Annotated[str, typer.Argument(help="The flow's name (`tenure flows list`).")]


def _flows(store: Store | None = None) -> list[Flow]:
    settings = store.settings if store is not None else load_settings()
    return load_flows(flow_paths(Path(settings.flows_dir)))


@flows_app.command("list")
def list_command(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Every flow: its trigger, steps, whether paused, persons in it now, messages by state."""
    from tenure.engage.flows import flow_overview

    with open_store(store) as st:
        frame = flow_overview(st, _flows(st))
    if as_json:
        print_json(records(frame))
        return
    emit(frame, title="Flows", limit=0)


@flows_app.command("validate")
def validate_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Flow files (default: the shipped ones and those of flows_dir)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check flow files: every key, reference, share and channel; the first error names the
    file, the line and the key."""
    paths = list(files) if files else flow_paths(Path(load_settings().flows_dir))
    flows = load_flows(paths)
    if as_json:
        print_json([{"flow": f.name, "path": f.path, "steps": len(f.steps)} for f in flows])
        return
    for f in flows:
        say(("ok", "bold green"), f" {f.name} ({len(f.steps)} steps) {f.path}")


@flows_app.command("run")
def run_command(
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The tick's clock, an ISO time in UTC (default: the store's frozen clock, "
            "else the time now).",
        ),
    ] = None,
    flow: FlowOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One tick: enter the persons triggered since the last tick, advance every stay due,
    decide the messages (each once)."""
    from tenure.engage.flows import run_tick, tick_clock
    from tenure.engage.settings import load_policy

    clock = parse_now(now)
    with open_store(store) as st:
        flows = _flows(st)
        if flow is not None:
            flows = [pick(flows, flow)]
        policy = load_policy(Path(st.settings.flows_dir))
        result = run_tick(st, flows, clock or tick_clock(st), policy=policy)
    frame = result.frame()
    if as_json:
        print_json({"now": result.now.isoformat(), "flows": records(frame)})
        return
    emit(frame, title=f"Flow tick at {result.now.isoformat(sep=' ')} UTC", limit=0)


def parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be an ISO time such as 2026-03-02T12:00, got {value!r}."
        ) from None


@flows_app.command("pause")
def pause_command(name: NameArg, store: StoreOpt = None) -> None:
    """Pause a flow: it enters nobody and decides no message until resumed."""
    from tenure.engage.flows import set_paused

    with open_store(store) as st:
        flow = pick(_flows(st), name)
        set_paused(st, flow, True)
    say(("Paused", "bold"), f" {flow.name}.")


@flows_app.command("resume")
def resume_command(name: NameArg, store: StoreOpt = None) -> None:
    """Resume a paused flow (its next tick reads the triggers since its last one)."""
    from tenure.engage.flows import set_paused

    with open_store(store) as st:
        flow = pick(_flows(st), name)
        set_paused(st, flow, False)
    say(("Resumed", "bold"), f" {flow.name}.")

"""``tenure dispatch`` (one pass of the dispatcher) and ``tenure worker`` (flow ticks and
dispatches in a loop): docs/delivery.md. Each parses, calls one library function
(:mod:`tenure.deliver.dispatcher`, :mod:`tenure.deliver.worker`) and prints."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    app,
    console,
    kv_table,
    open_store,
    print_json,
    say,
    stop_signals,
)
from tenure.deliver.channel import Channel
from tenure.deliver.dispatcher import DispatchResult
from tenure.store import Store

DryRunOpt = Annotated[
    Path | None,
    typer.Option(
        "--dry-run",
        help="Write every message to DIR/<channel>.jsonl instead of sending it (the file "
        "channel); the messages are recorded as sent.",
        metavar="DIR",
    ),
]


def _channels(store: Store, dry_run: Path | None) -> dict[str, Channel]:
    from tenure.deliver.channels import build_channels

    return build_channels(store.settings, store=store, dry_run=dry_run)


def _close(channels: Mapping[str, Channel]) -> None:
    for channel in channels.values():
        channel.close()


def _policy(store: Store) -> Any:
    from tenure.engage.settings import load_policy

    return load_policy(Path(store.settings.flows_dir))


def _rows(result: DispatchResult) -> list[tuple[str, Any]]:
    d = result.as_dict()
    rows = [(k, d[k]) for k in ("claimed", "sent", "failed", "retried", "suppressed")]
    rows += [(k, d[k]) for k in ("capped", "held", "resent", "lost_leases", "batches")]
    rows.append(("seconds", d["seconds"]))
    rows.append(("messages/s", "" if d["per_second"] is None else d["per_second"]))
    for channel, counts in d["per_channel"].items():
        rows.append((f"  {channel}", ", ".join(f"{k} {v:,}" for k, v in counts.items())))
    return rows


@app.command("dispatch")
def dispatch_command(
    dry_run: DryRunOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Claim at most N messages.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The clock, an ISO time in UTC (default: the store's frozen clock, else the "
            "time now).",
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One pass of the dispatcher: claim the due messages, re-check consent and caps, send
    them through their channels, record each outcome."""
    from tenure.deliver.dispatcher import dispatch
    from tenure.deliver.render import build_renderer
    from tenure.deliver.worker import frozen_clock
    from tenure.engage.flows import tick_clock

    clock = _parse_now(now)
    with open_store(store) as st:
        if clock is None and frozen_clock(st):
            clock = tick_clock(st)
        channels = _channels(st, dry_run)
        try:
            result = dispatch(
                st,
                channels=channels,
                renderer=build_renderer(st, st.settings, clock or tick_clock(st)),
                now=clock,
                limit=limit,
                policy=_policy(st),
            )
        finally:
            _close(channels)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(kv_table("Dispatch", _rows(result)))


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be an ISO time such as 2026-03-02T12:00, got {value!r}."
        ) from None


@app.command("worker")
def worker_command(
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.0, help="Seconds from the start of a pass to the next."),
    ] = 60.0,
    passes: Annotated[
        int | None,
        typer.Option("--passes", min=1, help="Stop after N passes (default: run until stopped)."),
    ] = None,
    dry_run: DryRunOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the flows and the dispatcher in a loop: each pass one flow tick, then one
    dispatch. Stops cleanly on Ctrl-C or SIGTERM (the messages claimed are sent and recorded
    first)."""
    from tenure.deliver.worker import WorkerPass, run_worker
    from tenure.engage.flow_spec import flow_paths, load_flows

    def show(p: WorkerPass) -> None:
        if as_json:
            console.file.write(_json_line(p.as_dict()) + "\n")
            return
        d = p.dispatched
        decided = 0 if p.tick is None else sum(sum(f.messages.values()) for f in p.tick.flows)
        say(
            (f"Pass {p.number}", "bold"),
            f" at {p.at.isoformat(sep=' ')} UTC: {decided:,} messages decided; "
            f"{d.sent:,} sent, {d.failed:,} failed, {d.retried:,} to retry, "
            f"{d.suppressed + d.capped + d.held:,} stopped by the policy, {d.resent:,} resent.",
        )

    with open_store(store) as st, stop_signals() as stop:
        flows = load_flows(flow_paths(Path(st.settings.flows_dir)))
        channels = _channels(st, dry_run)
        try:
            done = run_worker(
                st,
                flows=flows,
                channels=channels,
                policy=_policy(st),
                interval=interval,
                passes=passes,
                stop=stop,
                on_pass=show,
            )
        finally:
            _close(channels)
    if not as_json:
        why = " (stopped)" if stop.is_set() else ""
        say(f"{done:,} pass{'es' if done != 1 else ''} run{why}.")


def _json_line(payload: Any) -> str:
    import json

    return json.dumps(payload, default=str, ensure_ascii=False)

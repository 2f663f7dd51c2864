"""The worker: a loop of passes, each one flow tick then one dispatch (docs/delivery.md, "The
dispatcher and its guarantees"); ``tenure worker`` runs it until told to stop.

A pass's clock is the flows' (:func:`tenure.engage.flows.tick_clock`): the store's frozen
day when it has one (``as_of``, a demo), else the time now. The dispatch runs at the same
clock on a frozen store (messages decided at that clock are due by it), else at the time now.
A stop request (``stop`` set, e.g. by SIGINT or SIGTERM) ends the dispatch between batches
and the loop before its next pass or during its wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tenure.deliver.channel import Channel
from tenure.deliver.dispatcher import DispatchResult, dispatch
from tenure.deliver.render import build_renderer
from tenure.engage.flow_spec import Flow
from tenure.engage.flows import TickResult, run_tick, tick_clock
from tenure.engage.settings import SendPolicy
from tenure.store import Store


@dataclass(frozen=True)
class WorkerPass:
    """One pass: its number, clock, the flow tick (None without flows) and the dispatch."""

    number: int
    at: datetime
    tick: TickResult | None
    dispatched: DispatchResult

    def as_dict(self) -> dict[str, Any]:
        flows = [] if self.tick is None else [asdict(f) for f in self.tick.flows]
        return {
            "pass": self.number,
            "at": self.at.isoformat(),
            "flows": flows,
            "dispatch": self.dispatched.as_dict(),
        }


def frozen_clock(store: Store) -> bool:
    """Whether the store runs on a frozen day (the ``as_of`` setting, or a demo's fact)."""
    return store.settings.as_of is not None or store.meta("as_of") is not None


def worker_pass(
    store: Store,
    *,
    flows: Sequence[Flow],
    channels: Mapping[str, Channel],
    policy: SendPolicy,
    number: int = 1,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> WorkerPass:
    """One flow tick of ``flows`` (none: no tick), then one dispatch over ``channels``."""
    clock = tick_clock(store)
    tick = run_tick(store, flows, clock, policy=policy) if flows else None
    result = dispatch(
        store,
        channels=channels,
        renderer=build_renderer(store, store.settings, clock),
        now=clock if frozen_clock(store) else None,
        limit=limit,
        policy=policy,
        stop=None if stop is None else stop.is_set,
    )
    return WorkerPass(number=number, at=clock, tick=tick, dispatched=result)


def run_worker(
    store: Store,
    *,
    flows: Sequence[Flow],
    channels: Mapping[str, Channel],
    policy: SendPolicy,
    interval: float,
    passes: int | None = None,
    stop: threading.Event | None = None,
    on_pass: Callable[[WorkerPass], None] | None = None,
) -> int:
    """Passes every ``interval`` seconds (from the start of one to the start of the next,
    none skipped when a pass runs long) until ``passes`` were run or ``stop`` is set;
    ``on_pass`` is told of each. Returns the passes run."""
    import time

    stop = stop or threading.Event()
    done = 0
    while (passes is None or done < passes) and not stop.is_set():
        started = time.monotonic()
        result = worker_pass(
            store, flows=flows, channels=channels, policy=policy, number=done + 1, stop=stop
        )
        done += 1
        if on_pass is not None:
            on_pass(result)
        if passes is not None and done >= passes:
            break
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
    return done

"""The worker: passes of a flow tick and a dispatch, stopped by its event."""

from __future__ import annotations

import threading
from pathlib import Path

from tenure import Store
from tenure.deliver.worker import WorkerPass, run_worker, worker_pass
from tenure.engage.settings import SendPolicy
from tests.deliver.outboxkit import delivered, file_channels, seed, states


def test_a_pass_dispatches_what_is_due(store: Store, tmp_path: Path) -> None:
    keys = seed(store, n_email=3, n_webhook=2)
    done = worker_pass(store, flows=[], channels=file_channels(tmp_path), policy=SendPolicy())
    assert done.tick is None and done.number == 1
    assert (done.dispatched.claimed, done.dispatched.sent) == (5, 5)
    assert set(states(store).values()) == {"sent"}
    got = delivered(tmp_path, "email") + delivered(tmp_path, "webhook")
    assert sorted(m["message_key"] for m in got) == keys
    payload = done.as_dict()
    assert payload["pass"] == 1 and payload["flows"] == [] and payload["dispatch"]["sent"] == 5


def test_passes_and_a_stop(store: Store, tmp_path: Path) -> None:
    seed(store, n_email=2)
    seen: list[WorkerPass] = []
    ran = run_worker(
        store,
        flows=[],
        channels=file_channels(tmp_path),
        policy=SendPolicy(),
        interval=0,
        passes=2,
        on_pass=seen.append,
    )
    assert ran == 2 and [p.dispatched.sent for p in seen] == [2, 0]
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    # no pass limit, a long interval: the stop ends the wait after the first pass
    stopped = run_worker(
        store,
        flows=[],
        channels=file_channels(tmp_path),
        policy=SendPolicy(),
        interval=3600,
        stop=stop,
    )
    assert stopped == 1

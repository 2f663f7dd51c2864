"""The collector's durability: a 200 means stored, exactly once, whatever happens after.

The server runs in a subprocess and is killed with SIGKILL three times while 8 client
threads send 100,000 events in batches of 100, each batch retried with the same messageIds
until it is answered 200. Afterwards every event acknowledged is in the store exactly once
(and no event twice). The run takes about 25 s on the shared 2-core machine.

The files live in a folder of their own (not pytest's ``tmp_path``: other pytest sessions on a
shared machine prune old pytest folders, which would pull the store away mid-run).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tenure.store import Store
from tests.service.collector_live import KEY, free_port

pytestmark = pytest.mark.slow

EVENTS, BATCH, THREADS, KILLS = 100_000, 100, 8, 3
ROOT = Path(__file__).resolve().parents[2]


class Subprocess:
    """The collector served by ``collector_live.py`` in a subprocess, restartable."""

    def __init__(self, store: Path, wal: Path, log: Path) -> None:
        self.args = [sys.executable, str(ROOT / "tests/service/collector_live.py")]
        self.args += [str(store), str(wal), str(free_port())]
        self.url = f"http://127.0.0.1:{self.args[-1]}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully (the lifespan loads what is left), then re-raises
        code = self.process.wait(timeout=120)
        assert code in (0, -signal.SIGTERM), self.log.read_text()[-2000:]


def _send(url: str, batches: list[list[str]], acked: list[str], deadline: float) -> None:
    """Each batch retried with the same messageIds until answered 200."""
    with httpx.Client(base_url=url, auth=(KEY, ""), timeout=10) as client:
        for ids in batches:
            body = {
                "batch": [
                    {"type": "track", "event": "E", "userId": i[:3], "messageId": i} for i in ids
                ]
            }
            while True:
                try:
                    if client.post("/v1/batch", json=body).status_code == 200:
                        acked.extend(ids)
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tenure-collector-durability-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_for(acked: list[str], n: int, deadline: float) -> None:
    while len(acked) < n:
        assert time.monotonic() < deadline, f"only {len(acked):,} events acknowledged"
        time.sleep(0.05)


def test_every_acknowledged_event_survives_three_sigkills_exactly_once(folder: Path) -> None:
    server = Subprocess(folder / "s.duckdb", folder / "wal", folder / "server.log")
    server.start()
    deadline = time.monotonic() + 600
    ids = [f"t{n % THREADS}-{n}" for n in range(EVENTS)]
    batches = [ids[k : k + BATCH] for k in range(0, EVENTS, BATCH)]
    acked: list[str] = []
    threads = [
        threading.Thread(target=_send, args=(server.url, batches[t::THREADS], acked, deadline))
        for t in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    at_kill = []
    for k in range(KILLS):
        _wait_for(acked, EVENTS * (k + 1) // (KILLS + 1), deadline)
        server.kill()
        at_kill.append(len(acked))
        server.start()
    for thread in threads:
        thread.join()
    server.stop()
    assert len(acked) == EVENTS and at_kill[-1] < EVENTS
    store = Store(f"duckdb://{folder / 's.duckdb'}")
    events = store.table("events")
    stored, distinct = events.count().execute(), events.message_id.nunique().execute()
    stored_ids = set(events.message_id.execute())
    store.close()
    assert stored == distinct == EVENTS and stored_ids == set(acked)

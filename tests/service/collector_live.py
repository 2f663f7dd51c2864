"""Real servers for the collector's tests: uvicorn in a thread (same process, the app's state
at hand) or in a subprocess (to kill it), on a free loopback port, over a DuckDB file.

Run as a script, it is the subprocess server::

    python tests/service/collector_live.py STORE WAL PORT
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tenure.config import Settings, load_settings
from tenure.service.app import create_app
from tenure.service.collector import PART

KEY = "wk-test"


def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(store: Path, wal: Path, **kw: Any) -> Settings:
    """Settings of a test server: the store file, the log folder, the write key."""
    return load_settings(store_url=f"duckdb://{store}", write_keys=[KEY], collector_dir=wal, **kw)


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread; :attr:`url`, :attr:`app`."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    @property
    def state(self) -> Any:
        return self.app.state.tenure

    def wait_loaded(self, timeout: float = 60) -> None:
        """Wait until every acknowledged event was loaded into the store."""
        deadline = time.monotonic() + timeout
        loader = self.state.parts[PART]
        while loader.wal.backlog or loader.wal.closed():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{loader.wal.backlog} events still not loaded")
            time.sleep(0.05)

    def events(self) -> Any:
        """The stored events (a pandas frame), read through the server's store and lock."""
        with self.state.store() as store:
            return store.table("events").execute()


@contextmanager
def live(settings: Settings) -> Iterator[LiveServer]:
    """A :class:`LiveServer` for the block."""
    server = LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str]) -> None:
    """Serve the collector over ``STORE`` with the log in ``WAL`` on ``PORT``."""
    store, wal, port = Path(argv[0]), Path(argv[1]), int(argv[2])
    app = create_app(settings_for(store, wal))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])

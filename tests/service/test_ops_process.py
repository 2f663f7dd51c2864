"""`tenure serve` as a real process: it owns its store (another `tenure` command on it fails
at once, saying what to do), and SIGTERM stops it cleanly (issue 18, part 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import tenure.store
from tenure.store import Store
from tenure.store.owner import owner_path
from tests.service.collector_live import free_port

pytestmark = pytest.mark.slow

#: The source tree under test (the worktree's, not an installed copy).
SRC = Path(tenure.store.__file__).resolve().parents[2]
QUIET = {"TENURE_WORKER_PIPELINE_EVERY": "0", "TENURE_WORKER_FLOWS_EVERY": "0"}


def _tenure(*args: str) -> list[str]:
    return [sys.executable, "-c", "from tenure.cli import main; main()", *args]


#: The real `tenure serve`, its application given one more route: `/slow` answers after 2 s
#: (a request in flight when SIGTERM comes).
WITH_SLOW_ROUTE = """
import time
import tenure.service.app as made
from fastapi import APIRouter

create = made.create_app

def with_slow_route(*args, **kwargs):
    app = create(*args, **kwargs)
    slow = APIRouter()

    @slow.get("/slow")
    def answer_slowly():
        time.sleep(2)
        return {"done": True}

    app.include_router(slow)
    return app

made.create_app = with_slow_route
from tenure.cli import main
main()
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update(PYTHONPATH=str(SRC), TENURE_CONFIG=str(tmp_path / "none.toml"), COLUMNS="200")
    env.update(extra)
    return env


def _serve_args(store_file: Path, port: int) -> list[str]:
    return ["serve", "--store", str(store_file), "--port", str(port)]


def _wait_healthy(url: str, server: subprocess.Popen[str], seconds: float = 60.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            return httpx.get(f"{url}/health", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /health")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    """A `tenure serve` process over a new store (its dispatcher on, every 0.2 s)."""
    store_file = tmp_path / "shop.duckdb"
    Store(f"duckdb://{store_file}").close()  # the schema made before the server starts
    port = free_port()
    env = _env(
        tmp_path,
        **QUIET,
        TENURE_WORKER_DISPATCH_EVERY="0.2",
        TENURE_WEBHOOK_URL="http://127.0.0.1:9/hook",
        TENURE_WEBHOOK_SECRET="s",
        TENURE_SERVE_SHUTDOWN_SECONDS="10",
    )
    server = subprocess.Popen(
        [sys.executable, "-c", WITH_SLOW_ROUTE, *_serve_args(store_file, port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield server, store_file, url
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def test_another_command_on_a_served_store_fails_at_once(
    served: tuple[subprocess.Popen[str], Path, str], tmp_path: Path
) -> None:
    server, store_file, url = served
    owner = owner_path(store_file)
    assert owner.exists()
    path = str(store_file)
    commands = (
        ("store", "info", "--store", path),
        ("--read-only", "store", "info", "--store", path),
        ("serve", "--store", path, "--port", "0"),
    )
    for args in commands:
        started = time.monotonic()
        other = subprocess.run(
            _tenure(*args),
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - started
        said = other.stdout + other.stderr
        assert other.returncode != 0, said
        # at once: a lock is never waited for (a hang would never end); the bound is the
        # interpreter's start on a loaded 2-core CI machine (about 6 s on a busy one here)
        assert took < 45, took
        assert "Traceback" not in said
        assert f"The store shop.duckdb is owned by `tenure serve` (pid {server.pid}," in said
        assert url in said and "stop it first" in said
    assert httpx.get(f"{url}/health", timeout=5).json()["worker"]["running"] is True


def test_sigterm_stops_the_server_cleanly(
    served: tuple[subprocess.Popen[str], Path, str],
) -> None:
    server, store_file, url = served
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["pid"] == server.pid
    time.sleep(0.5)  # a few dispatch passes
    answers: list[httpx.Response] = []
    in_flight = threading.Thread(
        target=lambda: answers.append(httpx.get(f"{url}/slow", timeout=30))
    )
    in_flight.start()
    time.sleep(0.5)  # the request is in flight
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    in_flight.join(10)
    assert answers and answers[0].json() == {"done": True}  # drained, not cut
    assert server.returncode == 0, (out, err)
    assert time.monotonic() - started < 45  # the drain, on a loaded machine
    assert "Traceback" not in out + err
    assert "Stopped (SIGTERM)" in out
    assert not owner_path(store_file).exists()
    store = Store(f"duckdb://{store_file}")  # released, intact
    try:
        assert store.exists("messages") and store.count("orders") == 0
    finally:
        store.close()

"""Run one benchmark step in a fresh process and read its result and peak RSS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def in_child(
    script: str,
    step: str,
    path: Path,
    *,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``python script --child step path``; its last stdout line is a JSON result.

    Adds ``peak_rss_mb``, the child's peak resident memory, unless the child reports its own
    (:func:`own_peak_mb`): Linux carries the parent's peak across fork and exec into the
    child's ``ru_maxrss``, so after a large parent only the child's own figure is right.
    ``python``: another interpreter, e.g. a bench-only environment holding a library the
    project does not depend on. ``env``: variables to set in the child (e.g. ``PYTHONPATH``
    pointing at another revision's source).
    """
    proc = subprocess.Popen(
        [python, script, "--child", step, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env} if env else None,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    output = proc.stdout.read()
    if status != 0:
        raise SystemExit(f"{step} on {path} failed (status {status})")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result.setdefault("peak_rss_mb", usage.ru_maxrss / 1024)
    return result


def own_peak_mb(reset: bool = False) -> float:
    """This process's own peak RSS (VmHWM: since exec, or since the last ``reset``), in MB."""
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    if reset:  # Linux >= 4.0: the peak starts again from the current RSS
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    return kb / 1024


def free_port() -> int:
    """A TCP port free on loopback now (for a server the bench starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float = 600) -> None:
    """Wait until the server ``process`` answers ``GET url/health`` with 200 (an error if it
    exits first or takes over ``seconds``)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited at start")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def served_settings(store: str, collector: str, token: str) -> Any:
    """The settings of a benchmarked server over the DuckDB file ``store``: one admin token,
    the collector's log in ``collector``, the worker off (nothing changes the store)."""
    from tenure.config import load_settings

    return load_settings(
        store_url=f"duckdb://{store}",
        admin_tokens=[token],
        collector_dir=Path(collector),
        worker_pipeline_every=0,
        worker_flows_every=0,
        worker_dispatch_every=0,
    )

"""The operations of `tenure serve` in process: the worker's schedules and failures, `/health`,
`/metrics`, the snippet's route, the store's owner file (issue 18, part 3)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenure import pipeline
from tenure.config import load_settings
from tenure.errors import StoreLockedError
from tenure.pipeline import RunResult, StepRun
from tenure.service.app import create_app
from tenure.service.worker import ServiceWorker
from tenure.store import Store
from tenure.store.owner import owner_message, owner_path, read_owner, remove_owner, write_owner
from tenure.store.store import open_error

FAST = {"worker_pipeline_every": 0.3, "worker_flows_every": 0.2, "worker_dispatch_every": 0.1}
WEBHOOK = {"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s"}


def _settings(tmp_path: Path, **over: Any) -> Any:
    return load_settings(
        store_url=f"duckdb://{tmp_path / 'shop.duckdb'}",
        write_keys=["wk"],
        flows_dir=tmp_path / "flows",
        templates_dir=tmp_path / "templates",
        collector_dir=tmp_path / "collector",
        **over,
    )


def _until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _worker(client: TestClient) -> ServiceWorker:
    worker = client.app.state.tenure.parts["worker"]  # type: ignore[attr-defined]
    assert isinstance(worker, ServiceWorker)
    return worker


def _quick_run(calls: list[int]) -> Callable[..., RunResult]:
    def run(store: Store, **_: Any) -> RunResult:  # the real one takes 10-25 s here
        calls.append(1)
        result = RunResult(run_id="r", as_of=date(2026, 1, 1))
        result.steps.append(StepRun("identity", "ok", seconds=0.01))
        return result

    return run


def test_the_worker_runs_each_unit_on_its_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(pipeline, "run", _quick_run(calls))
    app = create_app(_settings(tmp_path, **FAST, **WEBHOOK))
    with TestClient(app) as client:
        worker = _worker(client)
        _until(lambda: all(u.runs >= 2 for u in worker.units.values()), 90)
        assert len(calls) >= 2
        health = client.get("/health").json()
        units = health["worker"]["units"]
        assert health["worker"]["running"] is True
        assert units["dispatch"]["runs"] >= units["pipeline"]["runs"]
        for name in ("pipeline", "flows", "dispatch"):
            assert units[name]["last_error"] is None, units[name]
            assert units[name]["last_ok"] is not None
        assert "claimed" in units["dispatch"]["last"]
        text = client.get("/metrics").text
        for step in ("pipeline", "flows", "dispatch", "pipeline.identity"):
            assert f'tenure_step_seconds_count{{step="{step}"}}' in text
    assert not worker.running  # the lifespan stopped it


def test_a_failing_unit_is_logged_shown_and_the_server_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    over = {"worker_pipeline_every": 0.0, "worker_flows_every": 0.0}
    app = create_app(_settings(tmp_path, worker_dispatch_every=0.05, **over))
    with TestClient(app) as client:  # no channel configured: every dispatch fails
        worker = _worker(client)
        _until(lambda: worker.units["dispatch"].failures >= 3)
        health = client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["ok"] is False and body["worker"]["ok"] is False
        error = body["worker"]["units"]["dispatch"]["last_error"]
        assert "No delivery channel is configured" in error
        assert body["worker"]["units"]["pipeline"]["enabled"] is False
        assert body["worker"]["running"] is True
    logged = [r for r in caplog.records if "worker dispatch failed" in r.getMessage()]
    assert len(logged) == 1  # once per distinct error, not once per period


def test_stop_lets_the_current_unit_finish(tmp_path: Path) -> None:
    over = {"worker_pipeline_every": 0.0, "worker_flows_every": 0.0}
    app = create_app(_settings(tmp_path, worker_dispatch_every=0.01, **over))
    started, finished = threading.Event(), threading.Event()

    def slow(store: Store) -> dict[str, Any]:
        started.set()
        time.sleep(0.5)
        store.meta("as_of")  # the store is still open while the unit runs
        finished.set()
        return {}

    with TestClient(app) as client:
        worker = _worker(client)
        worker.jobs = {**worker.jobs, "dispatch": slow}
        assert started.wait(10)
    assert finished.is_set() and not worker.running
    assert worker.units["dispatch"].last_error is None


def test_all_units_off_no_thread(tmp_path: Path) -> None:
    off = {"worker_pipeline_every": 0, "worker_flows_every": 0, "worker_dispatch_every": 0}
    with TestClient(create_app(_settings(tmp_path, **off))) as client:
        assert _worker(client).thread is None
        assert client.get("/health").json()["worker"]["running"] is False


def test_metrics_are_prometheus_text_with_messages_by_state(tmp_path: Path) -> None:
    off = {"worker_pipeline_every": 0, "worker_flows_every": 0, "worker_dispatch_every": 0}
    with TestClient(create_app(_settings(tmp_path, **off))) as client:
        state = client.app.state.tenure  # type: ignore[attr-defined]
        with state.store() as store:
            store.con.raw_sql(
                "INSERT INTO messages (message_id, state) VALUES ('a', 'pending'), "
                "('b', 'pending'), ('c', 'sent')"
            )
        state.metrics.events_received.inc(3)
        state.metrics.events_rejected.labels(reason="invalid").inc()
        state.metrics.queue_depth.set(2)
        answer = client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        text = answer.text
        assert 'tenure_messages{state="pending"} 2.0' in text
        assert 'tenure_messages{state="sent"} 1.0' in text
        assert "tenure_events_received_total 3.0" in text
        assert 'tenure_events_rejected_total{reason="invalid"} 1.0' in text
        assert "tenure_collector_queue_depth 2.0" in text
        assert client.get("/health").json()["queue_depth"] == 2.0


def test_the_snippet_is_served(tmp_path: Path) -> None:
    off = {"worker_pipeline_every": 0, "worker_flows_every": 0, "worker_dispatch_every": 0}
    with TestClient(create_app(_settings(tmp_path, **off))) as client:
        answer = client.get("/tenure.js")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/javascript")
        for needle in ("tenure_aid", "SameSite=Lax", "keepalive", "/v1/", "utm_source"):
            assert needle in answer.text


def test_the_server_writes_and_removes_its_owner_file(tmp_path: Path) -> None:
    off = {"worker_pipeline_every": 0, "worker_flows_every": 0, "worker_dispatch_every": 0}
    settings = _settings(tmp_path, **off)
    app = create_app(settings)
    app.state.serve_url = "http://127.0.0.1:8123"
    store_file = tmp_path / "shop.duckdb"
    with TestClient(app):
        owner = read_owner(store_file)
        assert owner is not None and owner["pid"] == os.getpid()
        assert owner["url"] == "http://127.0.0.1:8123"
    assert not owner_path(store_file).exists()


def test_a_store_given_to_the_app_gets_no_owner_file(tmp_path: Path) -> None:
    off = {"worker_pipeline_every": 0, "worker_flows_every": 0, "worker_dispatch_every": 0}
    settings = _settings(tmp_path, **off)
    store = Store(settings.store_url, settings=settings)
    try:
        with TestClient(create_app(settings, store=store)):
            assert not owner_path(tmp_path / "shop.duckdb").exists()
    finally:
        store.close()


def test_stale_and_foreign_owner_files(tmp_path: Path) -> None:
    store_file = tmp_path / "shop.duckdb"
    write_owner(store_file, url="http://x", pid=2**22 + 12345)  # no such process
    assert read_owner(store_file) is None and owner_message(store_file) is None
    remove_owner(store_file)  # not ours: left alone
    assert owner_path(store_file).exists()
    owner_path(store_file).write_text("{not json")
    assert read_owner(store_file) is None
    write_owner(store_file, url="http://127.0.0.1:8000")
    found = owner_message(store_file)
    assert found is not None
    assert found[0] == (
        f"The store shop.duckdb is owned by `tenure serve` (pid {os.getpid()}, "
        "http://127.0.0.1:8000): use its HTTP API (docs/service.md) or stop it first."
    )
    locked = OSError('IO Error: Could not set lock on file "x": Conflicting lock is held')
    error = open_error(locked, store_file, "duckdb://shop.duckdb", read_only=False)
    assert isinstance(error, StoreLockedError) and "tenure serve" in error.message
    remove_owner(store_file)
    assert not owner_path(store_file).exists()
    assert json.loads("{}") == {}

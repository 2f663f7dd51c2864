"""`tenure dispatch` and `tenure worker` through CliRunner: the library's counts, the files of
a dry run, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tests.deliver.outboxkit import delivered, seed, states

runner = CliRunner()


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # flows_dir (`flows`) is relative to it: none here
    path = tmp_path / "outbox.duckdb"
    with Store(f"duckdb://{path}") as store:
        seed(store, n_email=3, n_webhook=2)
    return str(path)


def test_dispatch_dry_run_json(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["dispatch", "--dry-run", str(out), "--store", store_path, "--json"]
    result = runner.invoke(app, [*args, "--limit", "4"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert {k: got[k] for k in ("claimed", "sent", "failed", "retried", "resent")} == {
        "claimed": 4,
        "sent": 4,
        "failed": 0,
        "retried": 0,
        "resent": 0,
    }
    assert got["per_channel"] == {"email": {"sent": 3}, "webhook": {"sent": 1}}
    rest = runner.invoke(app, args)
    assert rest.exit_code == 0 and json.loads(rest.stdout)["sent"] == 1
    assert len(delivered(out, "email")) == 3 and len(delivered(out, "webhook")) == 2
    with Store(f"duckdb://{store_path}") as st:
        assert set(states(st).values()) == {"sent"}


def test_dispatch_table(store_path: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["dispatch", "--dry-run", str(tmp_path), "--store", store_path])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "Dispatch" in lines[0]
    assert "│ claimed │ 5 │" in lines and "│ sent │ 5 │" in lines
    assert "│ email │ sent 3 │" in lines


def test_dispatch_bad_now(store_path: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["dispatch", "--dry-run", str(tmp_path), "--now", "soon", "--store", store_path]
    )
    assert result.exit_code == 2 and "--now must be an ISO time" in result.output


def test_worker_passes(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "worker",
            "--passes",
            "1",
            "--interval",
            "0",
            "--dry-run",
            str(out),
            "--store",
            store_path,
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    assert "Pass 1 at " in said and "5 sent, 0 failed, 0 to retry" in said
    assert said.endswith("1 pass run.")
    assert len(delivered(out, "email")) == 3


def test_worker_stops_cleanly_on_sigterm(store_path: str, tmp_path: Path) -> None:
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    result = runner.invoke(
        app,
        [
            "worker",
            "--interval",
            "600",
            "--dry-run",
            str(tmp_path),
            "--store",
            store_path,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    passes = [json.loads(line) for line in result.stdout.splitlines()]
    # the signal comes during the first pass: its dispatch stops before a next claim (none
    # claimed yet, or all 5 sent), and the loop ends instead of waiting 600 s
    assert [p["pass"] for p in passes] == [1] and passes[0]["dispatch"]["sent"] in (0, 5)
    assert "Traceback" not in result.output
    with Store(f"duckdb://{store_path}") as st:
        assert set(states(st).values()) in ({"pending"}, {"sent"})  # nothing left sending
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back

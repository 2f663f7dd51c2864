"""`tenure flows list / validate / run / pause / resume` through CliRunner: the same as the
library on the hand-built store of tests/engage/flowkit.py (its stand-in send policy and
holdout patched in as the defaults)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.engage.flow_spec import load_flows, shipped_dir
from tenure.engage.flows import flow_overview
from tests.engage.flowkit import T0, build
from tests.engage.test_flows import _carts

runner = CliRunner()
SHIPPED = sorted(p.stem for p in shipped_dir().glob("*.yaml"))


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # flows_dir (`flows`) is relative to it: none here
    path = tmp_path / "flows.duckdb"
    with Store(f"duckdb://{path}") as store:
        events, orders = _carts()
        build(store, events, orders)
    return str(path)


def test_validate_the_shipped_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["flows", "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(d["flow"] for d in json.loads(result.stdout)) == SHIPPED
    plain = runner.invoke(app, ["flows", "validate"])
    assert plain.exit_code == 0 and "ok abandoned_cart (8 steps)" in plain.stdout


def test_validate_a_bad_file_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntrigger: {event: E}\nsteps:\n  - id: a\n    sned: {channel: email}\n")
    result = runner.invoke(app, ["flows", "validate", str(bad)])
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())  # the terminal wraps long lines
    assert "line 5, `sned`: unknown key 'sned' in step. Did you mean 'send'?" in said
    assert "bad.yaml" in "".join(result.stderr.split())  # wrapped anywhere in the path


def test_a_flow_of_flows_dir_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "mine.yaml").write_text(
        "name: mine\ntrigger: {event: E}\nsteps:\n  - {id: a, exit: true}\n"
    )
    result = runner.invoke(app, ["flows", "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert "mine" in [d["flow"] for d in json.loads(result.stdout)]


def test_run_list_pause_resume(store_path: str) -> None:
    now = T0.isoformat()
    args = ["--store", store_path]
    result = runner.invoke(
        app, ["flows", "run", "--now", now, "--flow", "abandoned_cart", *args, "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["now"] == now and [f["flow"] for f in doc["flows"]] == ["abandoned_cart"]
    cart = doc["flows"][0]
    with Store(f"duckdb://{store_path}", read_only=True) as store:
        m = store.table("messages").to_pandas()
        assert cart["entered"] == len(m) and cart["pending"] == (m.state == "pending").sum()
        expected = flow_overview(store, load_flows(sorted(shipped_dir().glob("*.yaml"))))
    listed = runner.invoke(app, ["flows", "list", *args, "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == json.loads(expected.to_json(orient="records"))
    again = runner.invoke(app, ["flows", "run", "--now", now, *args, "--json"])
    assert json.loads(again.stdout)["flows"][0]["pending"] == 0  # nothing decided twice

    paused = runner.invoke(app, ["flows", "pause", "abandoned_cart", *args])
    assert paused.exit_code == 0 and "Paused abandoned_cart." in paused.stdout
    later = (T0 + timedelta(days=2)).isoformat()
    skipped = runner.invoke(app, ["flows", "run", "--now", later, *args, "--json"])
    tick = json.loads(skipped.stdout)["flows"][0]
    assert (tick["paused"], tick["entered"], tick["pending"]) == (True, 0, 0)
    table = runner.invoke(app, ["flows", "list", *args])
    assert table.exit_code == 0 and "abandoned_cart" in table.stdout
    resumed = runner.invoke(app, ["flows", "resume", "abandoned_cart", *args])
    assert resumed.exit_code == 0 and "Resumed abandoned_cart." in resumed.stdout
    with Store(f"duckdb://{store_path}", read_only=True) as store:
        assert not store.table("flow_controls").to_pandas().paused.any()


def test_run_errors(store_path: str) -> None:
    bad_now = runner.invoke(app, ["flows", "run", "--now", "yesterday", "--store", store_path])
    assert bad_now.exit_code == 2 and "--now must be an ISO time" in bad_now.output
    unknown = runner.invoke(app, ["flows", "pause", "abandoned_crt", "--store", store_path])
    assert unknown.exit_code == 2
    assert "No flow named 'abandoned_crt'. Did you mean 'abandoned_cart'" in unknown.stderr


def test_the_table_shows_the_tick(store_path: str) -> None:
    result = runner.invoke(app, ["flows", "run", "--now", T0.isoformat(), "--store", store_path])
    assert result.exit_code == 0, result.output
    assert "Flow tick at 2026-03-02 12:00:00 UTC" in result.stdout
    assert "abandoned_cart" in result.stdout and "journey_history" in result.stdout

"""`tenure flows backtest` through CliRunner: the same figures as the library on the
hand-built history of tests/engage/test_backtest.py (the stand-in send policy and holdout
patched in as the defaults), as JSON, a table and a chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.engage.backtest import backtest_flow
from tenure.engage.backtest_runs import last_backtest
from tests.engage.flowkit import build
from tests.engage.test_backtest import CART, END, START, history

runner = CliRunner()
ARGS = ["--from", "2026-03-01", "--to", "2026-03-06", "--step", "72"]


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bt.duckdb"
    with Store(f"duckdb://{path}") as store:
        build(store, *history())
    return str(path)


def test_json_and_chart_equal_the_library(store_path: str, tmp_path: Path) -> None:
    chart = tmp_path / "out" / "cart.png"
    result = runner.invoke(
        app,
        [
            "flows",
            "backtest",
            "abandoned_cart",
            *ARGS,
            "--store",
            store_path,
            "--json",
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["recorded"] is True
    with Store(store_path) as store:
        kept = last_backtest(store, "abandoned_cart")
        assert (
            kept is not None
            and kept.by == "cli"
            and kept.summary() == {k: v for k, v in got.items() if k in kept.summary()}
        )
        want = backtest_flow(store, CART, START, END, step=END - START)  # the send policy
        assert store.count("messages") == store.count("flow_state") == 0
    assert got["from"] == "2026-03-01T00:00:00" and got["to"] == "2026-03-07T00:00:00"
    assert got["ticks"] == 2 and got["tick_hours"] == 72.0 and got["window_days"] == 7
    assert (got["entered"], got["persons"], got["holdout"], got["capped"]) == (
        want.entered,
        want.persons,
        want.holdout,
        0,
    )
    assert [s["persons"] for s in got["steps"]] == want.steps.persons.tolist()
    assert sum(d["total"] for d in got["daily"]) == int(want.daily.total.sum())
    outcome = {o["group"]: o for o in got["outcome"]}
    assert outcome["targeted"]["converted"] == want.outcome.converted.iloc[0]
    assert outcome["holdout"]["persons"] == want.holdout
    assert got["chart"] == str(chart) and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table(store_path: str) -> None:
    result = runner.invoke(
        app, ["flows", "backtest", "abandoned_cart", *ARGS, "--store", store_path, "--holdout", "0"]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "Backtest of abandoned_cart",
        "email_cart",
        "Messages per day",
        "targeted",
        "Recorded as the flow's last backtest",
    ):
        assert text in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--from", "2026-03-07", "--to", "2026-03-01"], "is not after its start"),
        (["--from", "1 March", "--to", "2026-03-01"], "--from must be a date"),
        (["--from", "2026-03-01", "--to", "2026-03-02", "--holdout", "2"], "in [0, 1)"),
    ],
)
def test_bad_options_exit_cleanly(store_path: str, args: list[str], said: str) -> None:
    result = runner.invoke(
        app, ["flows", "backtest", "abandoned_cart", *args, "--store", store_path]
    )
    assert result.exit_code != 0
    assert said in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_an_unknown_flow_names_the_close_ones(store_path: str) -> None:
    result = runner.invoke(
        app, ["flows", "backtest", "abandoned_crt", *ARGS, "--store", store_path]
    )
    assert result.exit_code != 0 and "abandoned_cart" in result.stderr

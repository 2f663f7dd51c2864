"""`tenure flows stats` through CliRunner: the library's figures (tenure.deliver.measure) on
the hand-made store of tests/deliver/measurekit.py, as JSON and as tables with the uplift
lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.cli.common import console
from tenure.deliver.measure import flow_stats
from tests.deliver.measurekit import NOW, fill

runner = CliRunner()


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = tmp_path / "stats.duckdb"
    with Store(f"duckdb://{path}") as store:
        fill(store)
    return str(path)


def test_json_is_the_library_result(store_path: str) -> None:
    result = runner.invoke(
        app, ["flows", "stats", "--now", NOW.isoformat(), "--json", "--store", store_path]
    )
    assert result.exit_code == 0, result.output
    with Store(f"duckdb://{store_path}", read_only=True) as store:
        assert json.loads(result.stdout) == flow_stats(store, now=NOW).to_dict()


def test_the_tables_and_the_uplift_lines(store_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)  # another test may have fixed a narrower one
    args = ["flows", "stats", "cart", "--now", NOW.isoformat(), "--store", store_path]
    result = runner.invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Flow cart at 2026-03-20 00:00" in out
    assert "│ measured (window of 7 days closed) │" in out
    assert "failed 1, holdout 3, sent 4" in out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "│ clicked (messages with a click) │ 2 │" in lines
    assert "│ clicks │ 3 │" in lines
    assert "│ treated │ 4 │ 2 │ 50.0% │ 2 │ 140.00 │ 35.00 │ 1 │ 1 │ 10.00 │ 0 │" in lines
    assert "│ holdout │ 3 │ 1 │ 33.3% │ 1 │ 40.00 │ 13.33 │ 0 │ 0 │ 0.00 │ 0 │" in lines
    said = " ".join(out.split())
    assert "Conversion uplift: +16.67 pts (95% CI -41.05 to +60.98)." in said
    assert "Revenue per person uplift: +21.67 (95% CI -45.37 to +88.71)." in said
    assert (
        "discount cost 10.00, of which 6.67 went to persons who would have bought anyway "
        "(67% of the treated converters)." in said
    )
    assert "A/B: no winner: too few persons (A has 2, B has 2 of 100 needed)." in said


def test_no_holdout_says_unknown_and_the_window_is_an_option(store_path: str) -> None:
    args = ["flows", "stats", "plain", "--now", NOW.isoformat(), "--store", store_path]
    result = runner.invoke(app, [*args, "--window-days", "3"])
    assert result.exit_code == 0, result.output
    assert "Uplift: unknown (no measured holdout to compare with)." in result.stdout
    assert "window of 3 days closed" in result.stdout
    bad = runner.invoke(app, [*args, "--window-days", "0"])
    assert bad.exit_code == 2
    empty = runner.invoke(app, ["flows", "stats", "nothing", "--store", store_path])
    assert empty.exit_code == 0 and "No flow has entered anyone yet." in empty.stdout

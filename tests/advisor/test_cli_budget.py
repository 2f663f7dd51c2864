"""`tenure advise budget`: the same numbers as the library through CliRunner; a bad bound is
one error line and a hint, exit 2, no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tenure import Store
from tenure.advisor.budget import BudgetRules, propose_budget
from tenure.cli import app

runner = CliRunner()


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _copy(demo_url: str, tmp_path: Path) -> str:
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    return str(path)


def test_json_is_the_library_result(demo_url: str, tmp_path: Path) -> None:
    path = _copy(demo_url, tmp_path)
    args = ["advise", "budget", "--store", path, "--total", "1200"]
    args += ["--min", "paid_search=200", "--max", "paid_social=400", "--days", "28"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(path) as store:
        expected = propose_budget(
            store,
            1200,
            minimum={"paid_search": 200},
            maximum={"paid_social": 400},
            rules=BudgetRules(days=28),
        ).to_dict()
    # the same numbers (money sums may differ in the last bits: the engine adds in threads)
    assert _rounded(doc) == _rounded(json.loads(json.dumps(expected)))
    rows = {r["channel"]: r for r in doc["channels"]}
    assert rows["paid_search"]["proposed_spend"] >= 200
    assert rows["paid_social"]["proposed_spend"] <= 400
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Budget for the next 28 days" in table.stdout
    assert "gain in value" in table.stdout


def test_bad_bounds_are_one_error_line(demo_url: str, tmp_path: Path) -> None:
    path = _copy(demo_url, tmp_path)
    base = ["advise", "budget", "--store", path, "--total", "1000"]
    for extra, words in (
        (["--min", "paid_search"], "--min 'paid_search': expected CHANNEL=AMOUNT."),
        (["--min", "paid_search=lots"], "expected CHANNEL=AMOUNT"),
        (["--max", "tv=100"], "Unknown channel 'tv' in --max."),
    ):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        first = result.stderr.splitlines()[0]
        assert first.startswith("Error:") and words in first, result.stderr

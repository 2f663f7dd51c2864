"""`tenure advocates`: the same figures as the library, through CliRunner, on the hand-made
store of tests/analytics/test_advocacy.py; an empty store prints an empty table, exit 0."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.advocacy import advocacy_kpis, advocates
from tenure.cli import app
from tests.analytics.test_advocacy import END, tiny

runner = CliRunner()


def test_advocates_json_csv_and_table_match_the_library(tmp_path: Path) -> None:
    path = tmp_path / "tiny.duckdb"
    with Store(f"duckdb://{path}") as store:
        tiny(store, tmp_path)
        kpis = advocacy_kpis(store, END)
        expected = advocates(store, END)
    args = ["advocates", "--store", str(path), "--as-of", END.isoformat()]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kpis"]["nps"] == kpis["nps"] == 25.0
    assert doc["kpis"]["programme_cac"] == 15.0
    assert [d["person_id"] for d in doc["advocates"]] == list(expected.person_id)
    assert doc["advocates"][0]["reason"] == expected.reason[0]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*args, "--csv"]).stdout)))
    assert [r["person_id"] for r in rows] == list(expected.person_id)
    assert [r["score"] for r in rows] == ["1", "2", "3", "4"]
    top = json.loads(runner.invoke(app, [*args, "--top", "1", "--json"]).stdout)
    assert len(top["advocates"]) == 1
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "Advocacy indicators" in table.output
    assert "Advocates" in table.output and "Traceback" not in table.output


def test_advocates_on_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    Store(f"duckdb://{path}").close()  # a new, empty store
    result = runner.invoke(app, ["advocates", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert "No advocates yet" in result.output and "Traceback" not in result.output
    doc = json.loads(runner.invoke(app, ["advocates", "--store", str(path), "--json"]).stdout)
    assert doc["kpis"]["nps"] is None and doc["advocates"] == []


def test_advocates_on_the_demo_store(demo_url: str) -> None:
    result = runner.invoke(app, ["advocates", "--store", demo_url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    # the demo's feedback and referrals (their truth: tests/demo/test_feedback.py)
    assert doc["kpis"]["nps_respondents"] > 0 and doc["kpis"]["nps"] is not None
    assert doc["kpis"]["buyers"] > 0 and doc["kpis"]["referred_buyers"] > 0
    assert len(doc["advocates"]) == 20 and doc["advocates"][0]["referred_buyers"] > 0

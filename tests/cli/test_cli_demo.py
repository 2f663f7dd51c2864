"""`tenure demo`: the command prints the library's summary and where the store is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.demo import generate_demo

runner = CliRunner()


def test_demo_json_equals_library_summary(tmp_path: Path) -> None:
    cli_store = tmp_path / "cli.duckdb"
    result = runner.invoke(
        app, ["demo", "--store", str(cli_store), "--customers", "300", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    with Store(f"duckdb://{tmp_path / 'lib.duckdb'}") as st:
        from_lib = json.loads(
            json.dumps(generate_demo(st, customers=300, seed=3).to_dict(), default=str)
        )
    for key in ("customers", "orders", "revenue", "aov", "repeat_rate", "events", "tables"):
        assert from_cli[key] == from_lib[key], key
    assert from_cli["location"] == str(cli_store)


@pytest.mark.slow
def test_demo_prints_summary_and_location(tmp_path: Path) -> None:
    store = tmp_path / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--store", str(store), "--customers", "200"])
    assert result.exit_code == 0, result.output
    labels = ("Customers", "Orders", "Revenue", "Average order value", "Repeat purchase rate")
    for label in (*labels, "Feedback (NPS answers, reviews)", "Referrals"):
        assert label in result.stdout
    assert str(store) in result.stdout.replace("\n", "")


def test_demo_bad_start_date(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--store", str(tmp_path / "d.duckdb"), "--start", "2024-13-01"]
    )
    assert result.exit_code == 2
    assert "not a date" in result.output


def test_demo_json_holds_the_library_report(tmp_path: Path) -> None:
    """One call (:func:`tenure.analytics.demo_store.demo`): the summary, the channels and the
    last twelve months' KPIs, money at the minor unit."""
    from tenure.analytics.demo_store import demo

    result = runner.invoke(
        app, ["demo", "--store", str(tmp_path / "cli"), "--customers", "200", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(str(tmp_path / "lib")) as st:
        report = demo(st, customers=200)
    assert [r["channel"] for r in doc["channels"]] == list(report.channels["channel"])
    assert [r["new_customers"] for r in doc["channels"]] == list(report.channels["new_customers"])
    assert [r["period"] for r in doc["kpis"]] == list(report.kpis["period"])
    assert [r["orders"] for r in doc["kpis"]] == list(report.kpis["orders"])
    revenue = [round(float(v), 2) for v in report.kpis["revenue"]]
    assert [r["revenue"] for r in doc["kpis"]] == revenue
    assert doc["customers"] == report.summary.customers

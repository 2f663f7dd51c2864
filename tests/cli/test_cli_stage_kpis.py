"""`tenure stages --indicators` and `tenure kpis --by stage`: the library's rows through
CliRunner, on the hand-made store of tests/analytics/test_stage_kpis.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.periods import kpis
from tenure.analytics.stage_kpis import COLUMNS, stage_indicators
from tenure.cli import app
from tenure.cli.stages import shown
from tests.analytics.test_stage_kpis import END, EXPECTED, hand

runner = CliRunner()


@pytest.fixture
def path(tmp_path: Path) -> str:
    path = tmp_path / "hand.duckdb"
    with Store(f"duckdb://{path}") as store:
        hand(store, tmp_path)
    return str(path)


def _args(path: str) -> list[str]:
    return ["stages", "--indicators", "--store", path, "--as-of", END.isoformat()]


def test_indicators_json_csv_and_table_match_the_library(path: str) -> None:
    result = runner.invoke(app, [*_args(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(f"duckdb://{path}") as store:
        expected = stage_indicators(store, END)
    assert [list(d) for d in doc] == [list(COLUMNS)] * len(expected)
    assert [(d["stage"], d["indicator"]) for d in doc] == list(
        zip(expected["stage"], expected["indicator"], strict=True)
    )
    got = {(d["stage"], d["indicator"]): d["value"] for d in doc}
    for key, value in EXPECTED.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key
    assert [d["basis"] for d in doc] == list(expected["basis"])
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*_args(path), "--csv"]).stdout)))
    assert [(r["indicator"], r["unit"]) for r in rows] == list(
        zip(expected["indicator"], expected["unit"], strict=True)
    )
    assert float(next(r for r in rows if r["indicator"] == "cac")["value"]) == 205.0
    table = runner.invoke(app, _args(path))
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "Indicators per stage as of 2024-12-31 (money in USD)" in out
    for text in ("205.00 USD", "71.4%", "40 days", "33.3%", "4.5", "visitors_from_paid_search"):
        assert text in out, text
    # the counts output is unchanged without the flag
    plain = runner.invoke(app, ["stages", "--store", path, "--as-of", END.isoformat(), "--json"])
    assert [d["stage"] for d in json.loads(plain.stdout)][:2] == ["reach", "acquire"]


def test_indicator_rules_and_horizon_pass_through(path: str) -> None:
    args = [*_args(path), "--onboarding-days", "200", "--horizon-days", "30", "--json"]
    doc = {d["indicator"]: d["value"] for d in json.loads(runner.invoke(app, args).stdout)}
    assert doc["second_order_rate"] == pytest.approx(2 / 4) and doc["cac"] is None
    bad = runner.invoke(app, [*_args(path), "--horizon-days", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_indicators_on_an_empty_store_are_blank_not_zero(store_url: str) -> None:
    Store(store_url).close()  # an empty, migrated store
    path = store_url.removeprefix("duckdb://")
    result = runner.invoke(app, [*_args(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = {d["indicator"]: d["value"] for d in json.loads(result.stdout)}
    assert doc["visitors"] == 0 and doc["reviews"] == 0
    for name in ("identified_share", "cac", "retention", "median_days_to_second_order", "nps"):
        assert doc[name] is None, name
    assert runner.invoke(app, _args(path)).exit_code == 0


def test_shown_by_unit() -> None:
    assert [shown(v, u, "EUR") for v, u in ((None, "money"), (float("nan"), "share"))] == ["", ""]
    assert shown(1234.5, "money", "EUR") == "1,234.50 EUR"
    assert (shown(0.25, "share", ""), shown(3.0, "persons", ""), shown(-12.5, "score", "")) == (
        "25.0%",
        "3",
        "-12.5",
    )
    assert shown(0.0, "share", "") == "0.0%"  # a known 0 stays 0


def test_kpis_by_stage_json_matches_the_library(path: str) -> None:
    args = ["kpis", "--by", "stage", "--grain", "quarter", "--store", path]
    result = runner.invoke(app, [*args, "--as-of", END.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    doc = pd.DataFrame(json.loads(result.stdout))
    with Store(f"duckdb://{path}") as store:
        expected = kpis(store, grain="quarter", by="stage", as_of=END)
    assert list(doc["stage"]) == list(expected["stage"])
    assert list(doc["revenue"]) == pytest.approx(list(expected["revenue"]))
    table = runner.invoke(app, [*args, "--as-of", END.isoformat()])
    assert table.exit_code == 0 and "KPIs per quarter by stage" in table.stdout

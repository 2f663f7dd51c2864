"""`tenure kpis` (and the demo's headline KPIs): the same numbers as the library, through
CliRunner."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.periods import COLUMNS, kpis
from tenure.cli import app, console
from tests.analytics.test_periods import SMALL_END, fill_small

runner = CliRunner()
AS_OF = ["--as-of", SMALL_END.isoformat()]


def _small(store_url: str) -> str:
    with Store(store_url) as store:
        fill_small(store)
    return store_url.removeprefix("duckdb://")


def test_kpis_csv_exact(store_url: str) -> None:
    path = _small(store_url)
    result = runner.invoke(app, ["kpis", "--store", path, *AS_OF, "--start", "2025-01-01", "--csv"])
    assert result.exit_code == 0, result.output
    header, jan, feb = result.stdout.splitlines()
    assert header.split(",") == COLUMNS
    assert jan == (
        "2025-01,2025-01-01,2025-01-31,False,60.00,18.00,1,60.00,1,1.0,0,1,1,1.0,2,0,,,1,0,0.0,,,"
        "24.00,0.5,2.0,48.00"
    )
    assert feb.startswith("2025-02,2025-02-01,2025-02-15,True,90.00,27.00,1,90.00,1,1.0,1,0,0,0.0,")


def test_kpis_table_headline_in_percent(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _small(store_url)
    monkeypatch.setattr(console, "width", 140)
    result = runner.invoke(app, ["kpis", "--store", path, *AS_OF, "--start", "2024-12-01"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == (
        "KPIs per month, as of 2025-02-15, in USD; the last period is partial"
    )
    header = [cell.strip() for cell in lines[2].split("┃")[1:-1]]
    assert " | ".join(header) == (
        "period | revenue | orders | AOV | customers | new customers | repeat % | retention % | "
        "CAC | CLV"
    )
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[4:7]]
    assert rows == [
        ["2024-12", "0.00", "0", "", "0", "0", "", "", "", ""],
        ["2025-01", "60.00", "1", "60.00", "1", "0", "100.0%", "", "", "48.00"],
        ["2025-02", "90.00", "1", "90.00", "1", "1", "0.0%", "0.0%", "", "40.50"],
    ]


@pytest.mark.slow
def test_kpis_json_by_segment_matches_library(cdnow_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cdnow.duckdb"
    shutil.copy(cdnow_url.removeprefix("duckdb://"), path)
    args = ["kpis", "--store", str(path), "--grain", "quarter", "--by", "segment", "--json"]
    result = runner.invoke(app, [*args, "--start", "1998-01-01"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    url = f"duckdb://{path}"
    with Store(url) as store:
        frame = kpis(store, grain="quarter", by="segment", start=date(1998, 1, 1))
    assert [(r["period"], r["segment"]) for r in doc] == list(
        zip(frame["period"], frame["segment"], strict=True)
    )
    assert [r["customers"] for r in doc] == frame["customers"].tolist()
    assert [r["period_end"] for r in doc][-1] == "1998-06-30"
    got = [r["revenue"] for r in doc]
    assert got == pytest.approx(frame["revenue"].tolist(), rel=1e-12)
    assert all(r["prospect_conversion"] is None for r in doc)  # null in splits


def test_kpis_bad_grain_exits_2_with_the_choices(store_url: str) -> None:
    path = _small(store_url)
    result = runner.invoke(app, ["kpis", "--store", path, "--grain", "year"])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "Error: The 'grain' parameter must be one of day, week, month, quarter. Got 'year'. "
        "Hint: Pass one of: day, week, month, quarter."
    )


def test_kpis_bad_date_exits_2(store_url: str) -> None:
    path = _small(store_url)
    result = runner.invoke(app, ["kpis", "--store", path, "--start", "2024-13-01"])
    assert result.exit_code == 2
    assert "--start must be a date YYYY-MM-DD, got '2024-13-01'" in " ".join(result.output.split())


@pytest.mark.slow
def test_demo_prints_the_last_twelve_months(tmp_path: Path) -> None:
    store = tmp_path / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--store", str(store), "--customers", "200"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Last 12 months"))
    assert lines[start].strip() == "Last 12 months, as of 2025-12-30 (the last month is partial)"
    months = [line.split("│")[1].strip() for line in lines[start:] if line.startswith("│")]
    assert months == [f"2025-{m:02d}" for m in range(1, 13)]

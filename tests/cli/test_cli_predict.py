"""`tenure predict`: the same numbers as the library, through CliRunner."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app, console
from tenure.demo import generate_demo
from tenure.pipeline import predict
from tenure.predictions.results import top_customers
from tenure.store import round_money

runner = CliRunner()


def _demo(tmp_path_factory: pytest.TempPathFactory, customers: int) -> Path:
    path = tmp_path_factory.mktemp("cli-predict") / f"demo{customers}.duckdb"
    url = f"duckdb://{path}"
    with Store(url) as store:
        generate_demo(store, customers=customers, seed=5)
    return path


@pytest.fixture(scope="module")
def twelve_hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Above the data floor: 1,190 buyers, 785 repeat buyers."""
    return _demo(tmp_path_factory, 1200)


@pytest.fixture(scope="module")
def twenty_five_hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough buyers a year before the end (1,116, 566 repeat buyers) for the
    gradient-boosted CLV's window to clear the data floor."""
    return _demo(tmp_path_factory, 2500)


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo(tmp_path_factory, 100)


def _copy(path: Path, tmp_path: Path, name: str) -> str:
    target = tmp_path / name
    shutil.copy(path, target)
    return str(target)


def _library(path: str, **kwargs: object) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The library's run and its ``customer_predictions`` rows, by person."""
    url = f"duckdb://{path}"
    with Store(url) as store:
        result = predict(store, **kwargs)  # type: ignore[arg-type]
        rows = store.read("customer_predictions").order_by("person_id").to_pyarrow().to_pylist()
    return result.to_dict(), rows


def _top(path: str, n: int) -> list[str]:
    """The library's top ``n`` persons by CLV (:func:`top_customers`)."""
    with Store(f"duckdb://{path}") as store:
        return list(top_customers(store, n)["person_id"])


@pytest.mark.slow
def test_predict_json_matches_library(twelve_hundred: Path, tmp_path: Path) -> None:
    cli_path = _copy(twelve_hundred, tmp_path, "cli.duckdb")
    args = ["predict", "--store", cli_path, "--horizon-months", "6", "--top", "3", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    lib = _copy(twelve_hundred, tmp_path, "lib.duckdb")
    expected, rows = _library(lib, horizon_months=6)
    assert doc["method"] == expected["method"] == "BetaGeo"
    _same_run(doc, expected, rows, _top(lib, 3))


def _same_run(doc: Any, expected: Any, rows: list[Any], top: list[str]) -> None:
    """The CLI's JSON and the library's result describe the same prediction run; ``top``: the
    library's top buyers by CLV."""
    for key in ("as_of", "model", "reason", "stats", "patterns", "rows"):
        assert doc[key] == expected[key], key
    assert doc["parameters"] == pytest.approx(expected["parameters"], rel=1e-9)
    money = {"clv", "mean_clv"}  # at the minor unit (cents: issue 11)
    assert {k: v for k, v in doc["totals"].items() if k not in money} == pytest.approx(
        {k: v for k, v in expected["totals"].items() if k not in money}, rel=1e-9
    )
    for key in money:
        assert doc["totals"][key] == float(round_money(expected["totals"][key], "USD"))
    assert [r["person_id"] for r in doc["top"]] == top
    best = next(r for r in rows if r["person_id"] == top[0])
    assert doc["top"][0]["explanation"] == best["explanation"]


@pytest.mark.slow
def test_predict_gradient_boosted_clv_json_matches_library(
    twenty_five_hundred: Path, tmp_path: Path
) -> None:
    cli_path = _copy(twenty_five_hundred, tmp_path, "cli.duckdb")
    args = ["predict", "--store", cli_path, "--clv-model", "GradientBoosting", "--json"]
    result = runner.invoke(app, [*args, "--top", "3"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    lib = _copy(twenty_five_hundred, tmp_path, "lib.duckdb")
    expected, rows = _library(lib, clv_model="GradientBoosting")
    assert doc["method"] == expected["method"] == "BetaGeo+GradientBoosting"
    assert doc["clv_model"] == expected["clv_model"] == "GradientBoosting"
    _same_run(doc, expected, rows, _top(lib, 3))
    assert all(r["clv_12m"] >= 0 for r in rows if r["method"])
    assert doc["top"][0]["explanation"].endswith("expected in 12 months (gradient boosting)")


@pytest.mark.slow
def test_predict_table_summarises_the_heuristic(
    hundred: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy(hundred, tmp_path, "small.duckdb")
    monkeypatch.setattr(console, "width", 120)
    result = runner.invoke(app, ["predict", "--store", path, "--top", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    lib = _copy(hundred, tmp_path, "lib.duckdb")
    doc, rows = _library(lib)
    assert lines[0].strip() == f"Predictions as of {doc['as_of']}"
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.count("│") == 3]
    summary = dict(cells[:15])
    assert list(summary) == [
        "method",
        "model",
        "CLV model",
        "why not the model",
        "buyers",
        "repeat buyers",
        "days of history",
        "VIP threshold (12-month margin)",
        "CLV 12 months, total",
        "CLV 12 months, mean per buyer",
        "expected orders in 12 months",
        "mean P(alive)",
        "expected future VIPs",
        "rows in customer_predictions",
        "seconds",
    ]
    assert summary["method"] == "heuristic" and summary["model"] == "BetaGeo"
    assert summary["CLV model"] == "heuristic"
    buyers = doc["stats"]["buyers"]  # type: ignore[index]
    assert summary["why not the model"] == doc["reason"] == f"{buyers} buyers, fewer than 1,000"
    assert (
        summary["buyers"] == f"{buyers}"
        and summary["rows in customer_predictions"] == f"{len(rows)}"
    )
    assert summary["CLV 12 months, total"] == f"{doc['totals']['clv']:,.2f}"
    at = [i for i, line in enumerate(lines) if line.startswith("Top ")]
    assert len(at) == 1 and lines[at[0]].strip() == "Top 2 buyers by CLV"
    shown = [line.split("│")[1].strip() for line in lines[at[0] :] if line.startswith("│")]
    assert [p for p in shown if p] == _top(lib, 2)


@pytest.mark.slow
def test_predict_customers_csv_gives_every_row(hundred: Path, tmp_path: Path) -> None:
    path = _copy(hundred, tmp_path, "small.duckdb")
    args = ["predict", "--store", path, "--model", "heuristic", "--customers", "--csv"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    _, rows = _library(_copy(hundred, tmp_path, "lib.duckdb"), model="heuristic")
    assert [r["person_id"] for r in table] == [r["person_id"] for r in rows]
    labels = ["customer_id", "email", "other_id"]  # the person's identifiers, after the id
    assert list(table[0]) == ["person_id", *labels, *list(rows[0])[1:]]
    assert [r["explanation"] for r in table] == [r["explanation"] for r in rows]
    heuristic = [r for r in table if r["method"] == "heuristic"]
    assert len(heuristic) > 90 and heuristic[0]["explanation"].startswith("Heuristic (asked for)")


def test_predict_rejects_bad_arguments(hundred: Path, tmp_path: Path) -> None:
    path = _copy(hundred, tmp_path, "small.duckdb")
    result = runner.invoke(app, ["predict", "--store", path, "--model", "lifetimes"])
    assert result.exit_code == 2
    assert "The 'model' parameter of predict must be one of BetaGeo, ModifiedBetaGeo" in (
        result.output
    )
    result = runner.invoke(app, ["predict", "--store", path, "--clv-model", "xgboost"])
    assert result.exit_code == 2
    assert "The 'clv_model' parameter of predict must be one of GammaGamma, GradientBoosting." in (
        " ".join(result.output.split())  # the error console wraps long lines
    )
    result = runner.invoke(app, ["predict", "--store", path, "--as-of", "31/12/2025"])
    assert result.exit_code == 2
    assert "--as-of must be a date YYYY-MM-DD, got '31/12/2025'" in result.output

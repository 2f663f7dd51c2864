"""`tenure models backtest|sufficiency|runs`: the library's numbers, through CliRunner, on the
thin CDNOW store of tests/models/test_backtest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app, console
from tenure.predictions.backtest import backtest
from tenure.predictions.holdout import data_sufficiency
from tests.models.test_backtest import THIN_END, copy_store, thin_cdnow

runner = CliRunner()
WINDOW = ["--calibration-end", THIN_END.isoformat(), "--holdout", "26w"]


@pytest.fixture(scope="module")
def thin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return thin_cdnow(f"duckdb://{tmp_path_factory.mktemp('thin') / 'thin.duckdb'}")


def _copy(url: str, tmp_path: Path) -> str:
    return copy_store(url, tmp_path, "store.duckdb").removeprefix("duckdb://")


@pytest.mark.slow
def test_backtest_json_is_the_library_result(thin_path: str, tmp_path: Path) -> None:
    path = _copy(thin_path, tmp_path)
    out = tmp_path / "charts"
    args = ["models", "backtest", "--store", path, *WINDOW, "--models", "BetaGeo,ParetoNBD"]
    result = runner.invoke(app, [*args, "--out", str(out), "--no-record", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    url = f"duckdb://{path}"
    with Store(url) as store:
        library = backtest(
            store, calibration_end=THIN_END, holdout="26w", models=["BetaGeo", "ParetoNBD"]
        )
    assert payload["chosen"] == library.chosen == "heuristic"
    assert [m["model"] for m in payload["metrics"]] == ["BetaGeo", "ParetoNBD", "heuristic"]
    for row, (_, lib) in zip(payload["metrics"], library.metrics.iterrows(), strict=True):
        assert row["rmse"] == pytest.approx(lib["rmse"], rel=1e-12)
        assert row["predicted"] == pytest.approx(lib["predicted"], rel=1e-12)
    assert payload["charts"]["html"] == str(out / "report.html")
    assert (out / "tracking.png").exists() and not payload["recorded"]
    assert payload["holdout_days"] == 182 and payload["buyers"] == 236
    assert len(payload["histogram"]) == 8 * 3 and len(payload["deciles"]) == 10 * 3


@pytest.mark.slow
def test_backtest_table_records_and_says_where_the_charts_went(
    thin_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy(thin_path, tmp_path)
    monkeypatch.setattr(console, "width", 160)
    monkeypatch.chdir(tmp_path)
    args = ["models", "backtest", "--store", path, *WINDOW, "--models", "BetaGeo"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == (
        "Backtest: calibration to 1997-12-26, holdout 26w (182 days), 236 buyers"
    )
    header = [cell.strip() for cell in lines[2].split("┃")[1:-1]]
    assert header == [
        "model",
        "MAE",
        "RMSE",
        "predicted",
        "actual",
        "error %",
        "MAE margin",
        "RMSE margin",
        "margin error %",
        "chosen",
    ]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[4:6]]
    assert [r[0] for r in rows] == ["BetaGeo", "heuristic"] and rows[1][-1] == "*"
    assert "Chosen: heuristic. Below the data floor the heuristic;" in result.stdout
    assert (
        "Too little data for a model: 236 buyers (fewer than 1,000); 100 repeat buyers (fewer "
        "than 400)."
    ) in result.stdout
    # by default next to the store's file (tmp_path/store.duckdb), not in the working directory
    reports = tmp_path / "tenure-reports" / "backtest-1997-12-26"
    assert f"Charts: report.html and PNGs in {reports}" in result.stdout
    assert (reports / "report.html").exists() and not (tmp_path / "backtest-1997-12-26").exists()
    assert "Recorded in model_runs as run " in result.stdout
    runs = runner.invoke(app, ["models", "runs", "--store", path, "--json"])
    assert runs.exit_code == 0, runs.output
    recorded = json.loads(runs.stdout)
    assert [(r["model"], r["chosen"]) for r in recorded] == [
        ("BetaGeo", False),
        ("heuristic", True),
    ]
    assert recorded[0]["holdout"] == "26w" and recorded[0]["calibration_end"] == "1997-12-26"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--calibration-end", "1997-12-26", "--holdout", "26x"],
            "The '--holdout' must be a whole number of days, weeks, months or years such as "
            "26w, 180d, 6m or 1y. Got '26x' instead.",
        ),
        (
            ["--calibration-end", "26/12/1997"],
            "--calibration-end must be a date YYYY-MM-DD, got '26/12/1997'.",
        ),
        (
            ["--calibration-end", "1998-03-01"],
            "The holdout ends on 1998-08-30, after the as-of day (1998-06-27)",
        ),
        (
            ["--calibration-end", "1997-12-26", "--models", "BetaGeo,Nope"],
            "The 'models' parameter of backtest must name some of BetaGeo",
        ),
    ],
)
def test_backtest_bad_arguments(thin_path: str, args: list[str], message: str) -> None:
    path = thin_path.removeprefix("duckdb://")
    result = runner.invoke(app, ["models", "backtest", "--store", path, *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_sufficiency_json_and_table(thin_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = thin_path.removeprefix("duckdb://")
    result = runner.invoke(app, ["models", "sufficiency", "--store", path, "--json"])
    assert result.exit_code == 0, result.output
    with Store(thin_path) as store:
        assert json.loads(result.stdout) == data_sufficiency(store).to_dict()
    monkeypatch.setattr(console, "width", 160)
    table = runner.invoke(app, ["models", "sufficiency", "--store", path, "--as-of", "1997-02-01"])
    assert table.exit_code == 0, table.output
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.stdout.splitlines()]
    assert [c for c in cells if c] == [
        ["Enough for a model", "no"],
        ["Buyers", "80 (floor 1,000)"],
        ["Repeat buyers", "3 (floor 400)"],
        ["Days of history", "31 (floor 180)"],
    ]
    assert table.stdout.rstrip().endswith(
        "Too little data for a model: 80 buyers (fewer than 1,000); 3 repeat buyers (fewer "
        "than 400); 31 days of history (fewer than 180)."
    )


def test_runs_without_any(thin_path: str, tmp_path: Path) -> None:
    path = _copy(thin_path, tmp_path)
    result = runner.invoke(app, ["models", "runs", "--store", path, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


@pytest.fixture(scope="module")
def free_shop(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-year shop of 1,500 customers whose every order is free (amount 0)."""
    import numpy as np

    from tenure.ingest import import_file
    from tests.models._simulate import write_store_orders

    tmp = tmp_path_factory.mktemp("free")
    source = tmp / "orders.txt"
    write_store_orders(source, np.random.default_rng(2), 1500, r=0.8, alpha=40.0, mean_amount=0)
    url = f"duckdb://{tmp / 'free.duckdb'}"
    with Store(url) as store:
        import_file(store, "orders", [source], preset="cdnow")
    return url


@pytest.mark.slow
def test_backtest_of_a_shop_whose_every_amount_is_0(free_shop: str, tmp_path: Path) -> None:
    """Issue 11, item 6: every spend 0 made Gamma-Gamma's starting values divide by zero and
    the command end in a traceback. Now the purchase models run, the margin figures are
    missing and the note says why."""
    import numpy as np

    url = copy_store(free_shop, tmp_path, "free.duckdb")
    args = ["models", "backtest", "--store", url.removeprefix("duckdb://")]
    window = ["--calibration-end", "2024-06-29", "--holdout", "26w", "--models", "BetaGeo"]
    result = runner.invoke(app, [*args, *window, "--no-record", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    row = json.loads(result.stdout)["metrics"][0]
    assert row["model"] == "BetaGeo" and row["status"] == "ok"
    assert row["note"] == (
        "GammaGamma could not be fitted (GammaGamma.fit: no customer to fit spend on: "
        "Gamma-Gamma needs customers with a repeat purchase of positive value (frequency > 0, "
        "monetary value > 0).); no margin figures."
    )
    assert row["predicted_margin"] is None or np.isnan(row["predicted_margin"])
    table = runner.invoke(app, [*args, *window, "--no-record", "--out", str(tmp_path)])
    assert table.exit_code == 0 and "Traceback" not in table.output


@pytest.mark.slow
def test_predict_on_a_shop_whose_every_amount_is_0(free_shop: str, tmp_path: Path) -> None:
    """The same store through ``tenure predict``: the heuristic, and the reason names
    Gamma-Gamma (not the purchase model, which fits). As of the shop's last day (its year
    ends 2024-12-29): as of today its buyers would look long gone, the fit depending on
    the calendar."""
    path = copy_store(free_shop, tmp_path, "free.duckdb").removeprefix("duckdb://")
    result = runner.invoke(app, ["predict", "--store", path, "--as-of", "2024-12-29", "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    payload = json.loads(result.stdout)
    assert payload["method"] == "heuristic" and payload["model"] == "BetaGeo"
    assert payload["reason"].startswith(
        "GammaGamma could not be fitted: GammaGamma.fit: no customer to fit spend on"
    )


def test_reports_go_next_to_the_store_file_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenure.cli.models import reports_dir

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "shop"
    folder.mkdir()
    with Store(str(folder / "shop.duckdb")) as store:
        assert reports_dir(store) == folder / "tenure-reports"
    with Store("duckdb://:memory:") as memory:
        assert reports_dir(memory) == tmp_path / "tenure-reports"

"""Issue 11, "Must show": a generated one-year GBP shop (tests/gbp_shop.py) through the CLI, as
a new user takes it: import with ``--preset online_retail``, refresh, kpis, backtest, predict.

It reproduces items 1 (revenue 0 in a GBP-only store), 6 (the backtest ended in a traceback)
and 7 (every purchase model refused a store whose buyers show no dropout). The assertions
fixed on other branches are marked ``xfail(strict=True)``: remove the marker after the merge.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenure.cli import app
from tests.gbp_shop import Shop, write_gbp_shop

#: The shop and its backtest take ~25 s each to build: the full run checks them.
pytestmark = pytest.mark.slow

runner = CliRunner()
CALIBRATION_WEEKS = 26


@dataclass(frozen=True)
class Run:
    """One command's exit code, stdout and stderr."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"tenure {' '.join(self.args)}\nexit {self.exit_code}\n{self.stdout}{self.stderr}"


def tenure(*args: str) -> Run:
    result = runner.invoke(app, list(args))
    return Run(list(args), result.exit_code, result.stdout, result.stderr, result.exception)


@dataclass(frozen=True)
class ShopStore:
    shop: Shop
    store: Path
    imported: Run


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory: pytest.TempPathFactory) -> ShopStore:
    """The shop imported with the online_retail preset and refreshed, through the CLI."""
    directory = tmp_path_factory.mktemp("gbp-shop")
    shop = write_gbp_shop(directory / "online_retail.csv")
    store = directory / "shop.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENURE_CONFIG", str(directory / "none.toml"))
        args = ["--store", str(store), "--preset", "online_retail", "--json"]
        imported = tenure("import", "orders", str(shop.path), *args)
        tenure("refresh", "--store", str(store), "--no-progress")
    return ShopStore(shop, store, imported)


def _copy(shop_store: ShopStore, tmp_path: Path) -> str:
    target = tmp_path / "shop.duckdb"
    shutil.copy(shop_store.store, target)
    return str(target)


@pytest.fixture(scope="module")
def backtest_run(shop_store: ShopStore, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`tenure models backtest` with the last 26 weeks as the holdout."""
    directory = tmp_path_factory.mktemp("gbp-backtest")
    store = _copy(shop_store, directory)
    end = shop_store.shop.last_day - timedelta(weeks=CALIBRATION_WEEKS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENURE_CONFIG", str(directory / "none.toml"))
        return tenure(
            "models",
            "backtest",
            "--calibration-end",
            end.isoformat(),
            "--holdout",
            f"{CALIBRATION_WEEKS}w",
            "--out",
            str(directory / "charts"),
            "--store",
            store,
            "--json",
        )


def test_the_shop_is_like_the_real_one(shop_store: ShopStore) -> None:
    """About 3,000 customers and 20,000 invoices in one year, GBP, refunds starting with C;
    every line stored, none quarantined."""
    shop = shop_store.shop
    assert shop.customers == 3000
    assert 18_000 <= shop.invoices <= 23_000 and 300 <= shop.refunds <= 900
    assert (shop.last_day - shop.first_day).days == 363
    imported = shop_store.imported
    assert imported.exit_code == 0, imported
    result = imported.json()
    assert result["rows_read"] == result["stored"] == shop.lines
    assert result["quarantined"] == 0
    assert result["tables"] == {"order_items": shop.lines, "orders": shop.invoices + shop.refunds}


def test_store_info_shows_the_shops_currency(shop_store: ShopStore, tmp_path: Path) -> None:
    store = _copy(shop_store, tmp_path)
    table = tenure("store", "info", "--store", store)
    as_json = tenure("store", "info", "--store", store, "--json")
    assert table.exit_code == as_json.exit_code == 0, table
    assert "GBP" in table.stdout and "GBP" in as_json.stdout, table


def test_kpis_revenue_is_the_gbp_sum_of_the_invoices(shop_store: ShopStore, tmp_path: Path) -> None:
    shop = shop_store.shop
    run = tenure(
        "kpis",
        "--store",
        _copy(shop_store, tmp_path),
        "--start",
        shop.first_day.isoformat(),
        "--as-of",
        shop.last_day.isoformat(),
        "--json",
    )
    assert run.exit_code == 0, run
    revenue = [row["revenue"] for row in run.json()]
    assert None not in revenue, run
    assert sum(Decimal(str(value)) for value in revenue) == pytest.approx(
        shop.total, abs=Decimal("0.01")
    )


def _no_traceback(run: Run) -> None:
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "Internal error" not in output, run
    assert run.exception is None or isinstance(run.exception, SystemExit), run
    assert run.exit_code in {0, 1, 2, 3}, run


def test_the_backtest_exits_cleanly_or_with_the_error_trees_message(backtest_run: Run) -> None:
    """Before the fixes: an "Internal error" (the ZeroDivisionError of item 6), never a raw
    traceback, thanks to the CLI's last line of defence."""
    output = backtest_run.stdout + backtest_run.stderr
    assert "Traceback" not in output, backtest_run
    assert backtest_run.exit_code in {0, 1, 2, 3}, backtest_run


def test_the_backtest_ends_without_an_internal_error(backtest_run: Run) -> None:
    _no_traceback(backtest_run)


def test_the_backtest_chooses_a_model_within_10_percent_of_the_holdout(
    backtest_run: Run,
) -> None:
    assert backtest_run.exit_code == 0, backtest_run
    result = backtest_run.json()
    assert result["chosen"] not in (None, "heuristic"), result["rule"]
    chosen = next(row for row in result["metrics"] if row["model"] == result["chosen"])
    assert chosen["predicted"] == pytest.approx(chosen["actual"], rel=0.10)


def test_predict_uses_a_model_not_the_heuristic(shop_store: ShopStore, tmp_path: Path) -> None:
    run = tenure("predict", "--store", _copy(shop_store, tmp_path), "--json")
    _no_traceback(run)
    assert run.exit_code == 0, run
    result = run.json()
    assert not result["method"].startswith("heuristic"), result["reason"]
    # every customer's spend comes from one distribution: Gamma-Gamma's boundary fit, p / nu
    assert "GammaGamma: no heterogeneity in spend (boundary fit)" in result["reason"]
    assert {"gg_p", "gg_nu"} <= set(result["parameters"])
    assert not {"gg_q", "gg_gamma"} & set(result["parameters"])


def test_the_backtest_fits_spend_without_heterogeneity(backtest_run: Run) -> None:
    """Every customer's lines come from one catalogue: Gamma-Gamma's q, gamma run to
    infinity; its boundary fit gives every buyer p / nu per purchase day."""
    result = backtest_run.json()
    chosen = next(row for row in result["metrics"] if row["model"] == result["chosen"])
    assert chosen["note"] == "GammaGamma: no heterogeneity in spend (boundary fit)"
    assert {"gg_p", "gg_nu"} <= set(chosen["params"])
    assert chosen["margin_error_pct"] == pytest.approx(0.0, abs=10.0)

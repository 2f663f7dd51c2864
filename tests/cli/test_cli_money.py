"""Money through the CLI (issue 11, items 1, 4, 11): the store's currency shown and settable,
money cells as decimals at the currency's minor unit (never a float's tail such as
1071805.4699999692) in tables, JSON and CSV, and the money warnings on stderr."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.periods import MONEY_COLUMNS
from tenure.cli import app, console
from tests.analytics.test_money import exact_totals, gbp_shop

runner = CliRunner()
AT_MOST_2_DECIMALS = re.compile(r"-?\d+(\.\d{1,2})?")


@pytest.fixture
def shop(tmp_path: Path) -> tuple[str, Path]:
    """A one-year GBP shop imported through the CLI."""
    csv_path = gbp_shop(tmp_path / "gbp.csv")
    store = str(tmp_path / "shop.duckdb")
    result = runner.invoke(app, ["import", "orders", str(csv_path), "--store", store])
    assert result.exit_code == 0, result.output
    assert (
        "Reporting currency: GBP (the currency of every order), recorded in the store."
        in " ".join(result.stdout.split())
    )
    return store, csv_path


def _monthly_exact(csv_path: Path) -> dict[str, Decimal]:
    exact = exact_totals(csv_path)
    months = [d.strftime("%Y-%m") for d in exact["day"]]
    return exact.assign(month=months).groupby("month")["total"].sum().to_dict()


def test_store_info_shows_the_recorded_currency(shop: tuple[str, Path]) -> None:
    store, _ = shop
    result = runner.invoke(app, ["store", "info", "--store", store])
    assert result.exit_code == 0, result.output
    assert "GBP (recorded in the store by first import)" in result.stdout
    info = json.loads(runner.invoke(app, ["store", "info", "--store", store, "--json"]).stdout)
    assert (info["reporting_currency"], info["reporting_currency_source"]) == ("GBP", "store")
    assert info["warnings"] == []


def test_kpis_csv_money_is_the_exact_decimal_sum(shop: tuple[str, Path]) -> None:
    store, csv_path = shop
    result = runner.invoke(app, ["kpis", "--store", store, "--as-of", "2024-12-31", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 12
    for row in rows:
        for column in MONEY_COLUMNS:
            assert row[column] == "" or AT_MOST_2_DECIMALS.fullmatch(row[column]), row[column]
    exact = _monthly_exact(csv_path)
    assert {r["period"]: Decimal(r["revenue"]) for r in rows} == exact
    # margin: 30% of it, rounded half up from the decimal figure (1689.495 -> 1689.50)
    cents = Decimal("0.01")
    assert {r["period"]: Decimal(r["margin"]) for r in rows} == {
        p: (v * Decimal("0.3")).quantize(cents, rounding=ROUND_HALF_UP) for p, v in exact.items()
    }
    # the warning goes to stderr: the CSV on stdout stays clean
    assert "No marketing spend recorded" in result.stderr
    assert "Warning" not in result.stdout


def test_kpis_json_and_table_money_at_the_minor_unit(
    shop: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, csv_path = shop
    exact = _monthly_exact(csv_path)
    args = ["kpis", "--store", store, "--as-of", "2024-12-31"]
    doc = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    for row in doc:
        for column in MONEY_COLUMNS:
            value = row[column]
            assert value is None or AT_MOST_2_DECIMALS.fullmatch(repr(value)), (column, value)
        assert Decimal(repr(row["revenue"])) == exact[row["period"]]
        assert row["cac"] is None and row["spend"] is None  # no spend recorded: not 0.00
    monkeypatch.setattr(console, "width", 200)
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "KPIs per month, as of 2024-12-31, in GBP" in table.stdout
    cells = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in table.stdout.splitlines()
        if line.startswith("│")
    }
    assert {p: Decimal(v.replace(",", "")) for p, v in cells.items()} == exact


def _mixed_store(tmp_path: Path) -> str:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,currency,total\n"
        "g1,ann,2024-01-05,GBP,10.10\n"
        "g2,ann,2024-02-05,GBP,20.20\n"
        "g3,bob,2024-02-07,GBP,0.30\n"
        "e1,eve,2024-03-01,EUR,5.00\n"
        "e2,eve,2024-03-09,EUR,7.00\n"
    )
    store = str(tmp_path / "mixed.duckdb")
    result = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert result.exit_code == 0, result.output
    assert " ".join(result.stdout.split()).endswith(
        "Reporting currency: GBP (the currency of the most orders, 3), recorded in the store; "
        "the other orders (2 in EUR) need fx_rates to be converted, or set another with "
        "`tenure store set reporting-currency CODE`."
    )
    return store


@pytest.mark.slow
def test_unconvertible_orders_print_blank_and_a_warning(tmp_path: Path) -> None:
    store = _mixed_store(tmp_path)
    result = runner.invoke(app, ["kpis", "--store", store, "--as-of", "2024-03-31", "--json"])
    assert result.exit_code == 0, result.output
    march = json.loads(result.stdout)[-1]
    assert (march["period"], march["orders"], march["revenue"]) == ("2024-03", 2, None)
    warning = " ".join(result.stderr.split())
    assert "2 of 5 orders could not be converted to GBP (2 in EUR)" in warning
    assert "Import fx_rates for EUR" in warning
    args = ["kpis", "--store", store, "--as-of", "2024-03-31", "--csv"]
    csv_out = runner.invoke(app, args).stdout
    assert csv_out.splitlines()[-1].startswith("2024-03,2024-03-01,2024-03-31,False,,,2,,")
    shown = runner.invoke(app, ["customers", "show", "eve", "--store", store, "--json"])
    doc = json.loads(shown.stdout)
    assert doc["revenue"] is None and doc["margin"] is None
    assert doc["warnings"][0].startswith("2 of 5 orders could not be converted to GBP")
    rfm = runner.invoke(app, ["rfm", "--store", store, "--customers", "--csv"])
    assert "2 in EUR" in " ".join(rfm.stderr.split())
    eve = [line for line in rfm.stdout.splitlines() if line.startswith("eve,")]
    assert eve[0].split(",")[3] == ""  # margin unknown: blank, not 0.00
    refreshed = runner.invoke(app, ["refresh", "--store", store, "--json"])
    assert json.loads(refreshed.stdout)["warnings"][0].startswith("2 of 5 orders")
    status = runner.invoke(app, ["status", "--store", store, "--json"])
    assert "2 in EUR" in " ".join(status.stderr.split())
    assert json.loads(status.stdout)  # stdout stays one JSON document
    channels = runner.invoke(app, ["channels", "--store", store, "--csv"])
    assert channels.stdout.splitlines()[1] == "direct,3,,0,,4.59,3,,no spend,"
    assert "No marketing spend recorded" in channels.stderr


def test_store_set_reporting_currency(tmp_path: Path) -> None:
    store = _mixed_store(tmp_path)
    result = runner.invoke(app, ["store", "set", "reporting-currency", "eur", "--store", store])
    assert result.exit_code == 0, result.output
    assert "Reporting currency recorded in the store: EUR." in result.stdout
    url = f"duckdb://{store}"
    with Store(url) as st:
        assert st.meta("reporting_currency") == "EUR"
    info = runner.invoke(app, ["store", "info", "--store", store])
    assert "EUR (recorded in the store by tenure store set)" in info.stdout
    assert "3 in GBP" in " ".join(info.stdout.split())
    bad = runner.invoke(app, ["store", "set", "reporting-currency", "euros", "--store", store])
    assert bad.exit_code == 2
    assert "3-letter ISO 4217 code" in bad.stderr
    unknown = runner.invoke(app, ["store", "set", "colour", "red", "--store", store])
    assert unknown.exit_code == 2 and "Unknown store fact 'colour'" in unknown.stderr


def test_import_fx_rates_clears_the_warning(tmp_path: Path) -> None:
    store = _mixed_store(tmp_path)
    rates = tmp_path / "fx.csv"
    rates.write_text("date,currency,rate\n2024-01-01,EUR,0.85\n")
    result = runner.invoke(app, ["import", "fx_rates", str(rates), "--store", store])
    assert result.exit_code == 0, result.output
    assert "│ Stored          │ 1 │" in result.stdout
    kpis = runner.invoke(app, ["kpis", "--store", store, "--as-of", "2024-03-31", "--json"])
    assert json.loads(kpis.stdout)[-1]["revenue"] == 10.2  # 12 EUR x 0.85
    assert "could not be converted" not in kpis.stderr

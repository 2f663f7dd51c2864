"""`tenure refresh` and `tenure customers show`: the same as the library, through CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics import customer_row
from tenure.cli import app
from tenure.pipeline import refresh
from tenure.store import round_money

runner = CliRunner()


def _copy(cdnow_url: str, tmp_path: Path) -> str:
    path = tmp_path / "cdnow.duckdb"
    shutil.copy(cdnow_url.removeprefix("duckdb://"), path)
    return str(path)


@pytest.mark.slow
def test_refresh_json_matches_library(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    result = runner.invoke(app, ["refresh", "--store", path, "--as-of", "1998-06-30", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["as_of"] == "1998-06-30"
    assert doc["rows"]["customer_facts"] == 23_570
    url = f"duckdb://{path}"
    with Store(url) as store:
        again = refresh(store)
        assert again.rows == doc["rows"] and again.as_of.isoformat() == "1998-06-30"


def test_refresh_rejects_a_bad_date(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    result = runner.invoke(app, ["refresh", "--store", path, "--as-of", "30/06/1998"])
    assert result.exit_code == 2
    assert "--as-of must be a date YYYY-MM-DD, got '30/06/1998'" in result.output


def _cents(value: float | None) -> float | None:
    amount = round_money(value, "USD")
    return None if amount is None else float(amount)


def test_customers_show_json_matches_library(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    result = runner.invoke(app, ["customers", "show", "00019", "--store", path, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    url = f"duckdb://{path}"
    with Store(url) as store:
        row = customer_row(store, "00019").iloc[0].to_dict()
    assert doc.pop("warnings") == []
    # CDNOW is not resolved: the person id is the customer id, and the text matched it
    assert doc.pop("matched") == {"kind": "person_id", "value": "00019"}
    assert (doc["customer_id"], doc["email"]) == ("00019", None)
    money = {"revenue", "margin", "aov", "monetary", "first_order_value"}  # at the minor unit
    expected = json.loads(json.dumps(row, default=str))
    assert {k: v for k, v in doc.items() if k not in money} == {
        k: v for k, v in expected.items() if k not in money
    }
    assert {k: doc[k] for k in money} == {k: _cents(expected[k]) for k in money}
    assert doc["orders"] == 2 and doc["frequency"] == 1 and doc["recency_days"] == 160


def test_customers_show_unknown(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    result = runner.invoke(app, ["customers", "show", "nobody", "--store", path])
    assert result.exit_code == 1
    assert "No person has 'nobody' as a person id, customer id" in " ".join(result.output.split())

"""`tenure store`, `tenure version` and the CLI's error handling, through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tenure import Store, __version__
from tenure.cli import app
from tenure.identity import resolve_identities
from tenure.pipeline.steps import STEPS
from tenure.store.derived import DERIVED
from tenure.store.migrations import LATEST_VERSION, MIGRATIONS_TABLE
from tenure.store.schema import TABLES

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout == f"tenure {__version__}\n"


def test_store_info_json_matches_library(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["store", "info", "--store", str(path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    with Store(f"duckdb://{path}") as st:
        assert info == {
            "url": st.url,
            "location": str(path),
            "backend": "duckdb",
            "version": LATEST_VERSION,
            "reporting_currency": "USD",
            "reporting_currency_source": "default",
            "reporting_currency_text": "USD (default: no currency recorded yet)",
            "tables": st.counts(),
            "derived_tables": dict.fromkeys(DERIVED),
            "warnings": [],
            "last_runs": dict.fromkeys(s.name for s in STEPS),
        }
    assert set(info["tables"]) == set(TABLES)


def test_store_info_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["store", "info", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0
    assert "Data-model version" in result.stdout
    assert "quarantine" in result.stdout


def test_store_migrate_reports_applied_then_nothing(tmp_path: Path) -> None:
    url = str(tmp_path / "m.duckdb")
    first = runner.invoke(app, ["store", "migrate", "--store", url])
    assert first.exit_code == 0
    assert "Applied migration 1: canonical data model" in first.stdout
    assert f"Store is at data-model version {LATEST_VERSION}." in first.stdout
    second = runner.invoke(app, ["store", "migrate", "--store", url])
    assert second.stdout == f"Store is at data-model version {LATEST_VERSION}.\n"


def test_store_url_from_environment(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("TENURE_STORE_URL", f"duckdb://{tmp_path / 'env.duckdb'}")
    result = runner.invoke(app, ["store", "info", "--json"])
    assert json.loads(result.stdout)["location"] == str(tmp_path / "env.duckdb")


def test_tenure_error_becomes_message_hint_and_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    with Store(f"duckdb://{path}") as st:
        st.con.raw_sql(f"INSERT INTO {MIGRATIONS_TABLE} VALUES (99, 'future', now())")
    result = runner.invoke(app, ["store", "info", "--store", str(path)])
    assert result.exit_code == 1
    assert "Error: The store" in result.stderr
    assert "version 99" in result.stderr
    assert "Hint: Upgrade Tenure" in result.stderr
    assert result.stdout == ""


def test_bad_setting_exits_2(monkeypatch: object, tmp_path: Path) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("TENURE_QUARANTINE_THRESHOLD", "7")
    result = runner.invoke(app, ["store", "info", "--store", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2
    assert "quarantine_threshold" in result.stderr


def test_store_info_does_not_count_the_resolution_state_as_a_flag(tmp_path: Path) -> None:
    from tests.identity.test_identity import _scenario

    path = tmp_path / "s.duckdb"
    with Store(f"duckdb://{path}") as st:
        _scenario(st, tmp_path)
        result = resolve_identities(st)
        assert result.flagged == 0 and st.count("identity_flags") == 1  # the state row
    doc = json.loads(runner.invoke(app, ["store", "info", "--store", str(path), "--json"]).stdout)
    assert doc["tables"]["identity_flags"] == 0

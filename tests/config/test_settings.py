"""Settings: defaults, tenure.toml, TENURE_* variables, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure import load_settings
from tenure.errors import ConfigError


def test_defaults() -> None:
    s = load_settings()
    assert s.store_url == "duckdb://tenure.duckdb"
    assert s.reporting_currency is None  # unset: the store's own currency (issue 11)
    assert s.quarantine_threshold == 0.01


def test_toml_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "tenure.toml"
    toml.write_text('reporting_currency = "eur"\ntimezone = "Europe/Paris"\nlapsed_days = 200\n')
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    monkeypatch.setenv("TENURE_LAPSED_DAYS", "100")
    s = load_settings(timezone="UTC")
    assert s.reporting_currency == "EUR"
    assert s.lapsed_days == 100
    assert s.timezone == "UTC"


def test_invalid_value_names_setting_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENURE_REPORTING_CURRENCY", "dollars")
    with pytest.raises(ConfigError, match="reporting_currency") as info:
        load_settings()
    assert "'dollars'" in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_setting_in_toml_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "tenure.toml"
    toml.write_text("quarantine_treshold = 0.5\n")
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    with pytest.raises(ConfigError, match="quarantine_treshold"):
        load_settings()

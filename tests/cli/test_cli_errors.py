"""The CLI's last line of defence: an exception that is not a TenureError (a bug) prints one
"Internal error" line and a hint, exits 1, and shows its traceback only with --debug or
TENURE_DEBUG=1. A TenureError keeps its own message, hint and exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import tenure.cli.common
from tenure.cli import app
from tenure.errors import ConfigError

runner = CliRunner()


def _raise(exc: Exception) -> object:
    def fail(*_: object, **__: object) -> object:
        raise exc

    return fail


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a store fails with an exception Tenure did not plan for."""
    bug = ZeroDivisionError("float division by zero\n  (in a [bold]starting value[/bold])")
    monkeypatch.setattr(tenure.cli.common, "Store", _raise(bug))


def test_an_unexpected_exception_is_one_line_and_exit_1(broken: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["store", "info", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Internal error: ZeroDivisionError: float division by zero (in a [bold]starting "
        "value[/bold])"
    )
    hint = " ".join(" ".join(lines[1:]).split())
    assert hint == (
        "Hint: this is a bug in Tenure. Run the command again with `tenure --debug ...` "
        "(or TENURE_DEBUG=1) for the traceback, and report it."
    )


@pytest.mark.parametrize("how", ["--debug", "TENURE_DEBUG"])
def test_debug_shows_the_exception(
    broken: None, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["store", "info", "--store", str(tmp_path / "s.duckdb")]
    if how == "--debug":
        args.insert(0, "--debug")
    else:
        monkeypatch.setenv("TENURE_DEBUG", "1")
    result = runner.invoke(app, args)
    assert isinstance(result.exception, ZeroDivisionError)
    assert "Internal error" not in result.output


def test_a_tenure_error_keeps_its_message_hint_and_exit_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    error = ConfigError("The 'x' setting must be positive. Got -1.", hint="Set it to 1.")
    monkeypatch.setattr(tenure.cli.common, "Store", _raise(error))
    result = runner.invoke(app, ["store", "info", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: The 'x' setting must be positive. Got -1.",
        "Hint: Set it to 1.",
    ]


def test_usage_errors_and_aborts_keep_their_exit_codes(tmp_path: Path) -> None:
    wrong = runner.invoke(app, ["store", "info", "--no-such-option"])
    assert wrong.exit_code == 2 and "No such option" in wrong.stderr
    asked = runner.invoke(app, ["privacy", "delete", "customer_id:c1"], input="n\n")
    assert asked.exit_code == 1 and "Internal error" not in asked.output

"""The CLI's last line of defence: an exception that is not a TenureError (a bug) prints one
"Internal error" line and a hint, exits 1, and shows its traceback only with --debug or
TENURE_DEBUG=1. A TenureError keeps its own message, hint and exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import tenure.cli.common
from tenure import Store
from tenure.cli import app
from tenure.errors import ConfigError, StoreReadOnlyError

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


# -- exit codes: each one the README documents ------------------------------------------------
ORDERS = "order_id,customer_id,ordered_at,currency,total\nA1,C1,2024-03-01,USD,10\n"


def _orders(tmp_path: Path, text: str = ORDERS) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    return path


def _readme_exit_codes() -> dict[int, str]:
    """The README's table of exit codes: code -> meaning."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1]
    return {int(c): m for c, m in re.findall(r"^\| `(\d)` \| (.+?) \|$", section, flags=re.M)}


def test_the_readme_documents_exit_codes_0_to_3() -> None:
    assert sorted(_readme_exit_codes()) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("version", 0),
        ("missing input file", 1),
        ("unknown identifier", 1),
        ("write on a read-only store", 1),
        ("unknown option", 2),
        ("unknown preset", 2),
        ("preset and mapping", 2),
        ("bad store URL", 2),
        ("read-only store file that does not exist", 2),
        ("bad setting", 2),
        ("too much quarantined", 3),
    ],
)
def test_each_documented_exit_code(
    case: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ["--store", str(tmp_path / "s.duckdb")]
    orders = str(_orders(tmp_path))
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns: {}\n")
    args = {
        "version": ["--version"],
        "missing input file": ["import", "orders", str(tmp_path / "none.csv"), *store],
        "unknown identifier": ["identity", "unmerge", "email:x@y.z", "email:y@y.z", *store],
        "write on a read-only store": ["--read-only", "import", "orders", orders, *store],
        "unknown option": ["store", "info", "--no-such-option"],
        "unknown preset": ["import", "orders", orders, "--preset", "woo", *store],
        "preset and mapping": [
            *("import", "orders", orders, "--preset", "cdnow", "--mapping", str(mapping)),
            *store,
        ],
        "bad store URL": ["store", "info", "--store", "nosuch://x"],
        "read-only store file that does not exist": ["--read-only", "store", "info", *store],
        "bad setting": ["store", "info", *store],
        "too much quarantined": [
            *("import", "orders", str(_orders(tmp_path, ORDERS + "A2,C2,never,USD,1\n"))),
            *store,
        ],
    }[case]
    if case == "bad setting":
        monkeypatch.setenv("TENURE_QUARANTINE_THRESHOLD", "-1")
    if case == "write on a read-only store":
        Store(f"duckdb://{tmp_path / 's.duckdb'}").close()  # it exists, so it opens read-only
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
    if code:
        assert result.stderr.startswith(("Error: ", "Usage: ")), result.stderr


def test_version_option_and_command_agree() -> None:
    from tenure import __version__

    assert runner.invoke(app, ["--version"]).stdout == f"tenure {__version__}\n"
    assert runner.invoke(app, ["version"]).stdout == f"tenure {__version__}\n"


# -- read-only stores --------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_read_only_reads_and_refuses_writes_naming_the_command_and_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.duckdb"
    runner.invoke(app, ["import", "orders", str(_orders(tmp_path)), "--store", str(path)])
    info = runner.invoke(app, ["--read-only", "store", "info", "--store", str(path), "--json"])
    assert info.exit_code == 0, info.output
    refused = runner.invoke(app, ["--read-only", "refresh", "--store", str(path)])
    assert refused.exit_code == 1
    assert _one_line(refused.stderr) == (
        "Error: `tenure refresh` writes to the store (pipeline_runs), and the store is open "
        "read-only (--read-only or TENURE_READ_ONLY). Hint: Run `tenure refresh` without "
        "--read-only (and with TENURE_READ_ONLY unset) on a store you can write; read-only, "
        "only the commands that read work."
    )
    monkeypatch.setenv("TENURE_READ_ONLY", "1")
    again = runner.invoke(app, ["identity", "resolve", "--store", str(path)])
    assert again.exit_code == 1 and "`tenure identity resolve` writes" in _one_line(again.stderr)
    with Store(str(path)) as st:  # the setting reaches the library too
        assert st.read_only
        with pytest.raises(StoreReadOnlyError, match="identities cannot be written"):
            st.truncate("identities")


def test_read_only_readers_say_what_is_stale_instead_of_updating(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    store = ["--store", str(path)]
    runner.invoke(app, ["import", "orders", str(_orders(tmp_path)), *store])
    runner.invoke(app, ["run", *store, "--no-progress"])
    more = tmp_path / "more.csv"
    more.write_text(ORDERS.replace("A1,C1", "A9,C9"))
    runner.invoke(app, ["import", "orders", str(more), *store])  # facts are stale now
    shown = runner.invoke(app, ["--read-only", "customers", "show", "customer_id:C1", *store])
    assert shown.exit_code == 0, shown.output
    assert "Note: customer_facts is not current" in _one_line(shown.stderr)


def test_two_read_only_commands_share_a_store(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store(str(path)).close()
    with Store(str(path), read_only=True) as first, Store(str(path), read_only=True) as second:
        assert first.count("orders") == second.count("orders") == 0


# -- honest hints when a store cannot be opened -------------------------------------------------
def test_a_store_held_by_another_process_names_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    Store(str(path)).close()
    code = f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); "
    holder = subprocess.Popen(
        [sys.executable, "-c", code + "time.sleep(30)"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        result = runner.invoke(app, ["store", "info", "--store", str(path)])
    finally:
        holder.kill()
        holder.wait()
    said = _one_line(result.stderr)
    assert result.exit_code == 1
    assert "another process holds the file (python" in said and f"PID {holder.pid})" in said
    assert "serve" not in said


def test_a_store_that_cannot_be_written_suggests_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    import tenure.store.store as store_module

    path = tmp_path / "ro.duckdb"
    Store(str(path)).close()

    def refuse(*_: object, **kw: object) -> object:
        if kw.get("read_only"):
            return real(str(path), read_only=True)
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')

    real = store_module.ibis.duckdb.connect
    monkeypatch.setattr(store_module.ibis.duckdb, "connect", refuse)
    monkeypatch.setattr(store_module.os, "access", lambda *_: False)  # as a user without rights
    result = runner.invoke(app, ["store", "info", "--store", str(path)])
    said = _one_line(result.stderr)
    assert result.exit_code == 1
    # a long temporary path may be folded inside a word: compare without the whitespace
    squeezed = "".join(result.stderr.split())
    assert "".join(f"for writing: you have no write permission on the file {path}.".split()) in (
        squeezed
    )
    assert "`tenure --read-only COMMAND ...` (or TENURE_READ_ONLY=1)" in said
    assert "another process" not in said and "serve" not in said
    read = runner.invoke(app, ["--read-only", "store", "info", "--store", str(path)])
    assert read.exit_code == 0, read.output

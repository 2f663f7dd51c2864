"""Output no data can break (issue 13, item 5).

A store whose channel, campaign, customer id, order id, product and category values are
Rich markup, spreadsheet formulas, control characters, a 500-character string, right-to-left
text and an emoji code is imported through the real importers and run; every read-only
command prints it as a table (at 80 and 200 columns), as JSON and as CSV: no crash, exit 0,
the values shown literally in the terminal (control characters as escapes), exact in JSON,
and neutralised in CSV (``'`` before a formula) unless ``tenure --raw-csv``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.cli.common import console, err_console
from tenure.cli.render import NUMBER, visible
from tenure.ingest import import_file
from tenure.pipeline import run

runner = CliRunner()

HOSTILE = [
    "[/]",
    "[/x]",
    "partner [summer sale]",
    "[bold red]LOUD[/bold red]",
    '=HYPERLINK("http://evil.example","x")',
    "+1 555 0100",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "bell\x07esc\x1b[31mred",
    "line\nbreak",
    "L" * 500,
    "שלום עולם",
    "مرحبا بالعالم",
    ":smile:",
]
#: The values a spreadsheet would run as a formula.
FORMULAS = [v for v in HOSTILE if v.startswith(("=", "+", "-", "@", "\t", "\r"))]
#: Short values with markup: printed literally, whole, in a wide terminal.
MARKUP = ["[/]", "partner [summer sale]", "[bold red]LOUD[/bold red]", ":smile:", "שלום עולם"]


def _orders(folder: Path) -> Path:
    rows = []
    start = datetime(2024, 1, 1, 10)
    for c, value in enumerate(HOSTILE):
        for k in range(3):
            at = start + timedelta(days=30 * k + c)
            rows.append(
                {
                    "order_id": f"{value}#{k}",
                    "customer_id": value,
                    "email": f"c{c}@example.com",
                    "ordered_at": at.isoformat(sep=" "),
                    "currency": "USD",
                    "total": "20.00",
                    "channel": value,
                    "utm_campaign": value,
                    "product_id": value,
                    "title": value,
                    "category": value,
                    "quantity": "1",
                    "unit_price": "20.00",
                }
            )
    path = folder / "orders.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _spend(folder: Path) -> Path:
    path = folder / "spend.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["date", "channel", "campaign", "cost", "currency"]
        )
        writer.writeheader()
        for value in HOSTILE:
            writer.writerow(
                {
                    "date": "2024-01-01",
                    "channel": value,
                    "campaign": value,
                    "cost": "10",
                    "currency": "USD",
                }
            )
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hostile store's file, imported and run, its clock frozen at 2024-04-30."""
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "store.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TENURE_CONFIG", str(folder / "none.toml"))
        with Store(f"duckdb://{path}") as store:
            assert import_file(store, "orders", [_orders(folder)]).stored == 3 * len(HOSTILE)
            assert import_file(store, "spend", [_spend(folder)]).stored == len(HOSTILE)
            store.set_meta("as_of", "2024-04-30", by="tests: hostile store")
            run(store)
    return str(path)


#: Every read-only command printing the data, the column holding the hostile values in its
#: JSON / CSV (None: only person ids), and whether it has --csv.
COMMANDS: dict[str, tuple[list[str], str | None, bool]] = {
    "channels": (["channels"], "channel", True),
    "kpis --by channel": (["kpis", "--by", "channel", "--grain", "quarter"], "channel", True),
    "kpis --wide": (["kpis", "--wide"], None, True),
    "cohorts --by channel": (["cohorts", "--by", "channel"], "channel", True),
    "cohorts --long": (
        ["cohorts", "--by", "first_category", "--long", "--limit", "0"],
        "first_category",
        True,
    ),
    "rfm": (["rfm"], None, True),
    "rfm --customers": (["rfm", "--customers"], None, True),
    "status --customers": (["status", "--customers"], None, True),
    "stages entered": (["stages", "entered"], None, True),
    "stages transitions": (["stages", "transitions"], None, True),
    "models runs": (["models", "runs"], None, True),
    "models sufficiency": (["models", "sufficiency"], None, False),
    "predict --customers": (["predict", "--customers"], None, True),
    "predict": (["predict", "--top", "5"], None, False),
    "customers show": (["customers", "show", "customer_id:[/x]"], None, False),
    "profile show": (["profile", "show", "customer_id:[/x]"], None, False),
    "store info": (["store", "info"], None, False),
}


#: The commands whose hostile runs stay in the fast lane (the others run in the full suite).
FAST = {"channels", "customers show", "profile show"}


def _cases(names: list[str]) -> list[object]:
    return [pytest.param(n, marks=[] if n in FAST else [pytest.mark.slow]) for n in names]


def _ok(result: object) -> str:
    output = result.stdout  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    for marker in ("Traceback", "Internal error", "MarkupError"):
        assert marker not in result.output  # type: ignore[attr-defined]
    return str(output)


@pytest.mark.parametrize("name", _cases(list(COMMANDS)))
def test_tables_show_hostile_values_literally_and_fit(
    hostile: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, column, _ = COMMANDS[name]
    for width in (80, 200):
        monkeypatch.setattr(console, "width", width)
        monkeypatch.setattr(err_console, "width", width)
        out = _ok(runner.invoke(app, [*args, "--store", hostile]))
        assert "\x1b" not in out and "\x07" not in out  # control characters made visible
        assert all(cell_len(line) <= width for line in out.splitlines()), name
        if column and width == 200:
            for value in MARKUP:  # each word literally (a narrow column wraps at spaces)
                assert all(word in out for word in value.split()), (name, value)
            assert visible("\x07") in out  # the bell as an escape, not rung
            assert "\\tTAB" in out
    if name in ("customers show", "profile show"):
        assert "[/x]" in out


@pytest.mark.parametrize("name", _cases([n for n, (_, _, csv_) in COMMANDS.items() if csv_]))
def test_json_is_exact_and_csv_neutralised(hostile: str, name: str) -> None:
    args, column, _ = COMMANDS[name]
    doc = json.loads(_ok(runner.invoke(app, [*args, "--store", hostile, "--json"])))
    rows = list(
        csv.DictReader(io.StringIO(_ok(runner.invoke(app, [*args, "--store", hostile, "--csv"]))))
    )
    assert len(rows) == len(doc)
    for row in rows:
        for value in row.values():
            if value and value.startswith(("=", "+", "-", "@", "\t", "\r")):
                assert NUMBER.fullmatch(value), (name, value)  # only numbers start so
    if column:
        assert {r[column] for r in doc} == set(HOSTILE)  # exact, control characters and all
        shown = {r[column] for r in rows}
        assert shown == {("'" + v if v in FORMULAS else v) for v in HOSTILE}
        raw = runner.invoke(app, ["--raw-csv", *args, "--store", hostile, "--csv"])
        assert {r[column] for r in csv.DictReader(io.StringIO(_ok(raw)))} == set(HOSTILE)


def test_json_of_one_person_is_exact(hostile: str) -> None:
    doc = json.loads(
        _ok(
            runner.invoke(
                app, ["customers", "show", "customer_id:[/x]", "--store", hostile, "--json"]
            )
        )
    )
    assert doc["first_order_id"] == "[/x]#0" and doc["first_category"] == "[/x]"
    profile = json.loads(
        _ok(
            runner.invoke(
                app, ["profile", "show", "customer_id:@SUM(A1)", "--store", hostile, "--json"]
            )
        )
    )
    assert profile["identities"]["customer_id"] == ["@SUM(A1)"]


def test_an_error_carrying_data_is_not_markup(hostile: str) -> None:
    result = runner.invoke(
        app, ["customers", "show", "customer_id:[bold]nobody[/bold]\x1b", "--store", hostile]
    )
    assert result.exit_code != 0
    assert "[bold]nobody[/bold]" in result.output and "\x1b" not in result.output
    assert "Traceback" not in result.output

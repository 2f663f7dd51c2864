"""Every table fits the terminal it is printed to (issue 13, item 1).

Each read-only command that prints a table renders on the demo store (the session fixture
``demo_url``) at 80 and 120 columns through Typer's CliRunner: no line is wider than the
terminal, no cell is cut to "…", every person id printed is whole (``P-`` and 16 hex digits),
no ``nan``/``NaT``/``None`` and no microseconds are shown. The rendering engine's parts
(:mod:`tenure.cli.render`) are checked on their own below.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.cli.common import console, err_console
from tenure.cli.render import days, neutralise, visible, write_csv

runner = CliRunner()

#: A person id cut short: "P-" and fewer than 16 hex digits, then no more of them.
CUT_ID = re.compile(r"P-[0-9a-f]{0,15}(?![0-9a-f])")
PERSON_ID = re.compile(r"P-[0-9a-f]{16}")
#: Words that must never show in a terminal table.
FORBIDDEN = ("nan", "NaT", "None", "Traceback", "Internal error")

#: The read-only commands that print a table (`tenure --help`), with their arguments.
TABLES: dict[str, list[str]] = {
    "kpis": ["kpis"],
    "kpis --wide": ["kpis", "--wide"],
    "kpis --by channel": ["kpis", "--by", "channel", "--grain", "quarter"],
    "cohorts": ["cohorts"],
    "cohorts --metric revenue": ["cohorts", "--metric", "revenue"],
    "cohorts --long": ["cohorts", "--long", "--limit", "20"],
    "channels": ["channels"],
    "rfm": ["rfm"],
    "rfm --customers": ["rfm", "--customers"],
    "status": ["status"],
    "status --customers": ["status", "--customers"],
    "stages entered": ["stages", "entered"],
    "stages transitions": ["stages", "transitions"],
    "models runs": ["models", "runs"],
    "models sufficiency": ["models", "sufficiency"],
    "store info": ["store", "info"],
}


def _first_person(url: str) -> tuple[str, str]:
    """The first buyer's person id and customer id."""
    with Store(url) as store:
        ids = store.read("identities")
        row = ids.filter(ids.kind == "customer_id").order_by("person_id").limit(1).execute()
    return str(row.person_id[0]), f"customer_id:{row.value[0]}"


def check_fits(output: str, width: int) -> None:
    """The rules every terminal table keeps at ``width`` columns."""
    lines = output.splitlines()
    assert lines, "nothing printed"
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[:2]}"
    assert "…" not in output, "a cell cut short"
    for word in FORBIDDEN:
        assert not re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", output), word
    assert not CUT_ID.search(output), CUT_ID.search(output)
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", output), "microseconds shown"


@pytest.fixture
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    columns: int = request.param
    monkeypatch.setattr(console, "width", columns)
    monkeypatch.setattr(err_console, "width", columns)
    return columns


#: The widths every table is rendered at; 120 runs in the full suite (80 is the narrow one).
WIDTHS = [80, pytest.param(120, marks=pytest.mark.slow)]


@pytest.mark.parametrize("width", WIDTHS, indirect=True)
@pytest.mark.parametrize("name", list(TABLES))
def test_every_table_fits(demo_url: str, name: str, width: int) -> None:
    path = demo_url.removeprefix("duckdb://")
    result = runner.invoke(app, [*TABLES[name], "--store", path])
    assert result.exit_code == 0, result.output
    check_fits(result.stdout, width)


@pytest.mark.parametrize("width", WIDTHS, indirect=True)
@pytest.mark.parametrize("command", ["customers show", "profile show"])
def test_one_person_fits_and_shows_the_id_whole(demo_url: str, command: str, width: int) -> None:
    path = demo_url.removeprefix("duckdb://")
    person, customer = _first_person(demo_url)
    result = runner.invoke(app, [*command.split(), customer, "--store", path])
    assert result.exit_code == 0, result.output
    check_fits(result.stdout, width)
    assert person in result.stdout


def test_customer_tables_show_whole_ids_and_say_how_many_are_left_out(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns `rfm --customers` keeps the person id whole, shows 50 rows (not a
    terminal) and says how many rows and which columns it left out, and the flags for them."""
    monkeypatch.setattr(console, "width", 80)
    path = demo_url.removeprefix("duckdb://")
    result = runner.invoke(app, ["rfm", "--customers", "--store", path])
    assert result.exit_code == 0, result.output
    ids = PERSON_ID.findall(result.stdout)
    assert len(ids) == 50
    with Store(demo_url) as store:
        buyers = int(store.read("customer_rfm").count().execute())
    words = " ".join(result.stdout.split())
    assert f"Showing the first 50 of {buyers:,} rows; --limit 0 or --csv for all." in words
    assert "Left out to fit 80 columns: " in words and "(--csv or --json shows them)" in words
    every = runner.invoke(app, ["rfm", "--customers", "--store", path, "--limit", "0"])
    assert len(PERSON_ID.findall(every.stdout)) == buyers
    assert "Showing" not in every.stdout


def test_limit_is_the_same_rows_as_the_csv(demo_url: str) -> None:
    """The terminal's first rows are the CSV's first rows (one library call, limited)."""
    path = demo_url.removeprefix("duckdb://")
    csv = runner.invoke(app, ["status", "--customers", "--store", path, "--csv"])
    table = runner.invoke(app, ["status", "--customers", "--store", path, "--limit", "7"])
    first = [line.split(",")[0] for line in csv.stdout.splitlines()[1:8]]
    assert list(dict.fromkeys(PERSON_ID.findall(table.stdout))) == first  # once per block


def test_kpis_wide_is_wrapped_into_blocks_repeating_the_period(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 80)
    path = demo_url.removeprefix("duckdb://")
    result = runner.invoke(app, ["kpis", "--wide", "--store", path])
    headers = [line for line in result.stdout.splitlines() if line.startswith("┃ period")]
    assert len(headers) >= 3  # every block starts with the period
    for column in ("revenue", "churn %", "CLV"):
        assert column in result.stdout


@pytest.mark.slow
def test_predict_tables_fit(demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`predict` (the top-N) and `predict --customers` write predictions: on a copy."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    for columns in (80, 120):
        monkeypatch.setattr(console, "width", columns)
        for extra in ([], ["--customers"]):
            result = runner.invoke(app, ["predict", "--store", str(path), *extra])
            assert result.exit_code == 0, result.output
            check_fits(result.stdout, columns)
            assert PERSON_ID.search(result.stdout)


# --------------------------------------------------------------------------- the parts
def test_durations_read_as_days() -> None:
    assert days(dt.timedelta(days=1)) == "1 day"
    assert days(dt.timedelta(days=3)) == "3 days"
    assert days(dt.timedelta(days=2, hours=4)) == "2 days 04:00:00"
    assert days(dt.timedelta(minutes=30)) == "00:30:00"
    assert days(dt.timedelta(0)) == "0 days"
    assert days(dt.timedelta(days=-1)) == "-1 day"


def test_control_characters_are_made_visible() -> None:
    assert visible("a\x1b[31mb\x07\n\t\u202ec") == "a\\x1b[31mb\\x07\\n\\t\\u202ec"
    assert visible("line\nbreak", newlines=True) == "line\nbreak"
    assert visible("שלום عالم") == "שלום عالم"  # right-to-left text as it is


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+44 20 7946", "'+44 20 7946"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("1e-5", "1e-5"),
        ("plain", "plain"),
        ("a=b", "a=b"),
    ],
)
def test_formula_cells_are_neutralised(value: str, written: str) -> None:
    assert neutralise(value) == written


def test_csv_neutralises_text_not_numbers_unless_raw() -> None:
    frame = pd.DataFrame(
        {"name": ["=cmd", "ok", None], "amount": [-12.5, 3.0, None], "m": [Decimal("-1.50")] * 3}
    )
    out = io.StringIO()
    write_csv(frame, out)
    assert out.getvalue().splitlines() == [
        "name,amount,m",
        "'=cmd,-12.5,-1.50",
        "ok,3.0,-1.50",
        ",,-1.50",
    ]
    raw = io.StringIO()
    write_csv(frame, raw, raw=True)
    assert raw.getvalue().splitlines()[1] == "=cmd,-12.5,-1.50"


def test_library_limit_and_stored_read_give_the_same_rows(demo_url: str) -> None:
    """`limit` returns the first rows of the whole result and its count; `stored` (the
    derived table, current after `tenure run`) the same rows as computing them again."""
    from tenure.analytics.rfm import rfm_customers
    from tenure.analytics.status import status_customers
    from tenure.predictions.results import customer_predictions

    with Store(demo_url) as store:
        for fn in (rfm_customers, status_customers):
            whole = fn(store)
            first = fn(store, limit=5)
            assert first.attrs["rows"] == len(whole) > 5
            pd.testing.assert_frame_equal(first, whole.head(5), check_dtype=False)
            stored = fn(store, stored=True)
            pd.testing.assert_frame_equal(stored, whole, check_dtype=False)
        every = customer_predictions(store)
        some = customer_predictions(store, limit=3)
        assert some.attrs["rows"] == len(every)
        assert list(some.person_id) == list(every.person_id[:3])
        assert "rows" not in every.attrs


def test_blocks_and_choice_keep_within_the_width() -> None:
    """Long identifiers as keys: the blocks never grow wider than the terminal, the key that
    leaves no room is wrapped like any column, and the choice names what it left out."""
    from tenure.cli.render import blocks, choose, columns_of, table_width

    frame = pd.DataFrame(
        {
            "person_id": ["P-0123456789abcdef"],
            "customer_id": ["C" * 38],
            "email": ["e" * 39 + "@example.com"],
            **{f"metric_{i}": [1.5 * i] for i in range(12)},
        }
    )
    columns = columns_of(frame, (), ())
    keys = ["person_id", "customer_id", "email"]
    for part in blocks(columns, 80, keys):
        assert table_width([c.least for c in part]) <= 80
        assert part[0].name == "person_id"
    chosen = choose(columns, 80, keys)
    assert [c.name for c in chosen][:2] == ["person_id", "customer_id"]
    assert table_width([c.least for c in chosen]) <= 80


def test_a_closed_pipe_ends_quietly(demo_url: str) -> None:
    """`tenure status --customers --json | head -1`: the reader leaves early (the JSON,
    ~300 KB, is more than a pipe holds); the command stops without an "Internal error" or a
    traceback."""
    import os
    import subprocess
    import sys

    tenure = str(Path(sys.executable).parent / "tenure")
    args = [
        tenure,
        "status",
        "--customers",
        "--json",
        "--store",
        demo_url.removeprefix("duckdb://"),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(1) == b"["
    proc.stdout.close()
    error = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert "Internal error" not in error and "Traceback" not in error


def test_a_column_alike_in_every_row_is_said_once(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 80)
    path = demo_url.removeprefix("duckdb://")
    result = runner.invoke(app, ["status", "--customers", "--store", path])
    assert "In every row shown: " in result.stdout and "as of 2024-12-30" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "person id" in line)
    assert "as of" not in header

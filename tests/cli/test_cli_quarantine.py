"""`tenure quarantine list|show|export|retry` and the import flags through the CLI: the same
results as the library, the messages that name the next command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.cli.common import console
from tenure.ingest import Selection, quarantine_summary, quarantined_row, quarantined_rows

runner = CliRunner()

ORDERS = (
    "order_id,customer_id,ordered_at,currency,total,title\n"
    "A1,C1,2024-03-01,EUR,10.50,ok\n"
    "A2,C2,2024-03-02,EUR,x,[bold]loud[/bold]\n"
    "A3,C3,2024-03-03,EUR,5,ok,extra\n"
)


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 200)


def _import(tmp_path: Path, *extra: str, text: str = ORDERS) -> tuple[str, str]:
    """Import ``text`` with the CLI; the store path and the import id."""
    path = tmp_path / "orders.csv"
    path.write_text(text)
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(
        app, ["import", "orders", str(path), "--store", store, "--max-quarantine", "1", *extra]
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("Import id: "))
    return store, line.removeprefix("Import id: ").strip()


def test_an_import_with_rejects_names_the_list_command(tmp_path: Path, wide: None) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    result = runner.invoke(
        app, ["import", "orders", str(path), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code == 3  # over the 1% default
    iid = json.loads(
        runner.invoke(
            app, ["quarantine", "list", "--store", str(tmp_path / "s.duckdb"), "--json"]
        ).stdout
    )["summary"][0]["import_id"]
    assert f"\n  tenure quarantine list --import {iid}\n" in result.stdout  # never wrapped
    hint = " ".join(result.stderr.split())
    assert f"See them with `tenure quarantine list --import {iid}`" in hint


def test_list_json_csv_and_table_match_the_library(tmp_path: Path, wide: None) -> None:
    store, iid = _import(tmp_path)
    got = runner.invoke(app, ["quarantine", "list", "--store", store, "--json"])
    assert got.exit_code == 0, got.output
    payload = json.loads(got.stdout)
    with Store(store) as st:
        summary = quarantine_summary(st).to_dict("records")
        rows = quarantined_rows(st).to_dict("records")
    assert payload["summary"] == summary and payload["total"] == 2
    assert payload["rows"] == rows
    assert [r["id"] for r in rows] == [f"{iid}:3", f"{iid}:4"]
    as_csv = runner.invoke(app, ["quarantine", "list", "--store", store, "--csv"])
    parsed = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert [(r["id"], r["line"], r["reason"]) for r in parsed] == [
        (f"{iid}:3", "3", "unreadable number"),
        (f"{iid}:4", "4", "wrong column count"),
    ]
    table = runner.invoke(
        app, ["quarantine", "list", "--store", store, "--import", iid, "--limit", "1"]
    )
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "Quarantined rows by import and reason" in out and f"{iid}:3" in out
    assert f"{iid}:4" not in out
    assert "Showing 1 of 2 rows: --limit 0 shows all" in out
    empty = runner.invoke(app, ["quarantine", "list", "--store", store, "--reason", "nope"])
    assert empty.exit_code == 0 and "No quarantined rows (reason 'nope')." in empty.stdout


def test_show_prints_the_row_in_full(tmp_path: Path, wide: None) -> None:
    store, iid = _import(tmp_path)
    got = runner.invoke(app, ["quarantine", "show", f"{iid}:3", "--store", store, "--json"])
    assert got.exit_code == 0, got.output
    with Store(store) as st:
        assert json.loads(got.stdout) == quarantined_row(st, f"{iid}:3")
    table = runner.invoke(app, ["quarantine", "show", f"{iid}:3", "--store", store])
    assert table.exit_code == 0, table.output
    assert "unreadable number" in table.stdout and "loud" in table.stdout
    raw = runner.invoke(app, ["quarantine", "show", f"{iid}:4", "--store", store])
    assert "Raw row:\nA3,C3,2024-03-03,EUR,5,ok,extra" in raw.stdout
    missing = runner.invoke(app, ["quarantine", "show", f"{iid}:2", "--store", store])
    assert missing.exit_code == 1
    assert f"No quarantined row has the id '{iid}:2'" in missing.stderr
    assert "Traceback" not in missing.output


def test_export_writes_the_file_and_says_so(tmp_path: Path, wide: None) -> None:
    store, iid = _import(tmp_path)
    out = tmp_path / "fix.csv"
    got = runner.invoke(
        app, ["quarantine", "export", "--out", str(out), "--store", store, "--import", iid]
    )
    assert got.exit_code == 0, got.output
    assert f"Wrote 2 quarantined rows (import '{iid}') to {out}." in " ".join(got.stdout.split())
    rows = list(csv.DictReader(out.open(newline="")))
    assert [(r["order_id"], r["quarantine_reason"]) for r in rows] == [
        ("A2", "unreadable number"),
        ("", "wrong column count"),
    ]


def test_retry_prints_the_accounting(tmp_path: Path, wide: None) -> None:
    latin = "order_id,customer_id,ordered_at,currency,total,title\nA1,C1,2024-03-01,EUR,1,caf\xe9\n"
    path = tmp_path / "latin.csv"
    path.write_bytes(latin.encode("latin-1"))
    store = str(tmp_path / "s.duckdb")
    first = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert first.exit_code == 3
    assert "Import it again with `--encoding latin-1`" in " ".join(first.stdout.split())
    assert "  tenure quarantine retry --import imp-" in first.stdout
    got = runner.invoke(app, ["quarantine", "retry", "--store", store, "--json"])
    assert got.exit_code == 0, got.output
    payload = json.loads(got.stdout)
    assert (payload["retried"], payload["imported"], payload["still_quarantined"]) == (1, 0, 1)
    table = runner.invoke(app, ["quarantine", "retry", "--store", store, "--encoding", "latin-1"])
    assert table.exit_code == 0, table.output
    text = table.stdout
    for label, n in (("Retried", 1), ("Imported", 1), ("Still quarantined", 0)):
        assert any(
            line.strip("│ ").startswith(label) and line.strip("│ ").endswith(str(n))
            for line in text.splitlines()
        ), label
    assert "Run `tenure run` to bring the analytics up to date." in text
    with Store(store) as st:
        assert quarantined_rows(st, Selection()).empty
        assert st.table("order_items").title.to_pyarrow().to_pylist() == ["café"]


def test_import_flags_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("order_id;customer_id;ordered_at;currency;total\nA1;C1;2024-03-01;EUR;1\n")
    store = str(tmp_path / "s.duckdb")
    ok = runner.invoke(
        app, ["import", "orders", str(path), "--store", store, "--delimiter", ";", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["stored"] == 1
    bad = runner.invoke(
        app, ["import", "orders", str(path), "--store", store, "--encoding", "klingon"]
    )
    assert bad.exit_code == 2 and "Traceback" not in bad.output  # a bad argument
    # a long temporary path may be folded inside a word: compare without the whitespace
    expected = f"{path}: cannot read it with the encoding 'klingon'"
    assert "".join(expected.split()) in "".join(bad.stderr.split())


def test_import_events_help_offers_no_order_preset() -> None:
    events = runner.invoke(app, ["import", "events", "--help"], env={"COLUMNS": "200"})
    assert events.exit_code == 0
    text = " ".join(events.stdout.split())
    assert "none for events yet: give --mapping" in text and "shopify" not in text
    orders = runner.invoke(app, ["import", "orders", "--help"], env={"COLUMNS": "200"})
    assert "cdnow, online_retail, shopify" in " ".join(orders.stdout.split())


def test_hostile_values_are_shown_as_written(tmp_path: Path, wide: None) -> None:
    """Quarantined values are whatever a file held: shown as text, never as markup."""
    text = "order_id,customer_id,ordered_at,currency,total\n[/],C1,2024-03-01,EUR,[/x]\n"
    store, iid = _import(tmp_path, text=text)
    listed = runner.invoke(app, ["quarantine", "list", "--store", store])
    shown = runner.invoke(app, ["quarantine", "show", f"{iid}:2", "--store", store])
    for result in (listed, shown):
        assert result.exit_code == 0, result.output
        assert "[/x]" in result.stdout
    assert "[/]" in shown.stdout

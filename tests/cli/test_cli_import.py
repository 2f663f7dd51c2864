"""`tenure import ...`: the command and the library give the same result; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.ingest import import_orders

runner = CliRunner()

GOOD = (
    "order_id,customer_id,email,ordered_at,currency,total\n"
    "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50\n"
    "A2,C2,b@example.com,2024-03-02T11:00:00,USD,20.00\n"
    "A3,C1,a@example.com,2024-03-05T12:00:00,USD,5.25\n"
)


def _write(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_orders_json_matches_library(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    cli_store = tmp_path / "cli.duckdb"
    result = runner.invoke(
        app, ["import", "orders", str(path), "--store", str(cli_store), "--json"]
    )
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    lib_url = f"duckdb://{tmp_path / 'lib.duckdb'}"
    with Store(lib_url) as st:
        from_lib = import_orders(st, [path]).to_dict()
    for key in ("rows_read", "stored", "already_present", "quarantined", "by_reason", "tables"):
        assert from_cli[key] == from_lib[key], key
    assert from_cli["rows_read"] == 3 and from_cli["stored"] == 3


def test_import_summary_table_and_reimport_adds_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    store = str(tmp_path / "s.duckdb")
    first = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert first.exit_code == 0, first.output
    assert "Stored" in first.stdout and "Already present" in first.stdout
    second = runner.invoke(app, ["import", "orders", str(path), "--store", store, "--json"])
    data = json.loads(second.stdout)
    assert (data["stored"], data["already_present"], data["quarantined"]) == (0, 3, 0)


def _suppress_email(store: str, email: str) -> None:
    import pyarrow as pa

    from tenure.ingest.identifiers import digest

    url = f"duckdb://{store}"
    with Store(url) as st:
        st.insert(
            "suppressions",
            pa.table(
                {
                    "identifier": [digest("email", email)],
                    "identifier_kind": ["sha256:email"],
                    "channel": ["all"],
                }
            ),
        )


def test_import_summary_counts_suppressed_rows(tmp_path: Path) -> None:
    """A deleted person's rows: the summary shows them, the JSON matches the library."""
    path = _write(tmp_path, GOOD)
    store = str(tmp_path / "s.duckdb")
    _suppress_email(store, "a@example.com")
    result = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2:8] == [
        "│ Read            │ 3 │",
        "│ Stored          │ 1 │",
        "│ Already present │ 0 │",
        "│ Suppressed      │ 2 │",
        "│ Quarantined     │ 0 │",
        "└─────────────────┴───┘",
    ]
    assert lines[-1] == (
        "Suppressed: rows of persons deleted with `tenure privacy delete` (not stored)."
    )
    with Store(f"duckdb://{store}") as st:
        assert st.table("orders").order_id.to_pyarrow().to_pylist() == ["A2"]
    cli_store, lib_store = tmp_path / "cli.duckdb", tmp_path / "lib.duckdb"
    for each in (cli_store, lib_store):
        _suppress_email(str(each), "a@example.com")
    as_json = runner.invoke(
        app, ["import", "orders", str(path), "--store", str(cli_store), "--json"]
    )
    from_cli = json.loads(as_json.stdout)
    lib_url = f"duckdb://{lib_store}"
    with Store(lib_url) as st:
        from_lib = import_orders(st, [path]).to_dict()
    for key in ("rows_read", "stored", "already_present", "quarantined", "suppressed"):
        assert from_cli[key] == from_lib[key], key
    assert (from_cli["rows_read"], from_cli["stored"], from_cli["suppressed"]) == (3, 1, 2)


def test_import_over_threshold_exits_3_but_keeps_good_rows(tmp_path: Path) -> None:
    bad = GOOD + "A4,C3,c@example.com,not a date,USD,1.00\n"
    path = _write(tmp_path, bad)
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert result.exit_code == 3
    assert "25.00% of the rows were quarantined" in result.stderr
    assert "unreadable date" in result.stdout
    with Store(f"duckdb://{store}") as st:
        assert st.count("orders") == 3
        assert st.count("quarantine") == 1


def test_import_threshold_flag_allows_more(tmp_path: Path) -> None:
    bad = GOOD + "A4,C3,c@example.com,not a date,USD,1.00\n"
    path = _write(tmp_path, bad)
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(
        app, ["import", "orders", str(path), "--store", store, "--max-quarantine", "0.5"]
    )
    assert result.exit_code == 0, result.output


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    missing = tmp_path / "nope.csv"
    result = runner.invoke(app, ["import", "orders", str(missing), "--store", store])
    assert result.exit_code == 1
    assert "nope.csv" in "".join(result.stderr.split())  # the path may wrap
    assert "Traceback" not in result.output


LATER = (
    "order_id,customer_id,email,ordered_at,currency,total,status,refunded\n"
    "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50,refunded,10.50\n"
    "A2,C2,b@example.com,2024-03-02T11:00:00,USD,20.00,,\n"
    "A3,C1,a@example.com,2024-03-05T12:00:00,USD,5.25,,\n"
)


def test_import_update_applies_a_changed_order(tmp_path: Path) -> None:
    """Issue 11, item 5: a later export with a refunded order exits 3 without --update (the
    hint points to it); with --update the order is replaced, the summary shows it, exit 0."""
    first, later = _write(tmp_path, GOOD), _write(tmp_path, LATER, "later.csv")
    store = str(tmp_path / "s.duckdb")
    assert runner.invoke(app, ["import", "orders", str(first), "--store", store]).exit_code == 0
    safe = runner.invoke(app, ["import", "orders", str(later), "--store", store])
    assert safe.exit_code == 3
    assert "same key with different content │ 1" in safe.stdout
    assert "import again with --update to apply them" in " ".join(safe.stderr.split())
    result = runner.invoke(app, ["import", "orders", str(later), "--store", store, "--update"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2:9] == [
        "│ Read            │ 3 │",
        "│ Stored          │ 0 │",
        "│ Updated         │ 1 │",
        "│ Already present │ 2 │",
        "│ Suppressed      │ 0 │",
        "│ Quarantined     │ 0 │",
        "└─────────────────┴───┘",
    ]
    assert "Run `tenure refresh` to rebuild the analytics." in " ".join(lines[-2:])
    with Store(f"duckdb://{store}") as st:
        orders = st.table("orders").order_by("order_id").to_pyarrow().to_pylist()
        assert [o["status"] for o in orders] == ["refunded", None, None]
        history = st.table("row_history").to_pyarrow().to_pylist()
        assert [(h["entity"], h["record_key"]) for h in history] == [
            ("orders", '{"order_id":"A1"}')
        ]
        assert st.table("imports").updated.to_pyarrow().to_pylist() == [0, 0, 1]


def test_import_update_json_matches_library(tmp_path: Path) -> None:
    first, later = _write(tmp_path, GOOD), _write(tmp_path, LATER, "later.csv")
    cli_store = tmp_path / "cli.duckdb"
    runner.invoke(app, ["import", "orders", str(first), "--store", str(cli_store)])
    result = runner.invoke(
        app, ["import", "orders", str(later), "--store", str(cli_store), "--update", "--json"]
    )
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    lib_url = f"duckdb://{tmp_path / 'lib.duckdb'}"
    with Store(lib_url) as st:
        import_orders(st, [first])
        from_lib = import_orders(st, [later], update=True).to_dict()
    for key in ("rows_read", "stored", "updated", "already_present", "quarantined", "tables"):
        assert from_cli[key] == from_lib[key], key
    assert (from_cli["updated"], from_cli["tables"]) == (1, {"orders": 1, "row_history": 1})


def test_import_update_refuses_events(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"type":"track","messageId":"m1"}\n', "e.jsonl")
    result = runner.invoke(
        app, ["import", "events", str(path), "--store", str(tmp_path / "s.duckdb"), "--update"]
    )
    assert result.exit_code == 1
    assert "Events cannot be updated" in result.stderr
    assert "Traceback" not in result.output


def test_cdnow_sample_with_the_cdnow_preset_is_a_clean_error(tmp_path: Path) -> None:
    sample = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_sample.txt"
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(
        app, ["import", "orders", str(sample), "--preset", "cdnow", "--store", store]
    )
    assert result.exit_code == 1, result.output
    assert "customer_id date(%Y%m%d) number_of_cds dollar_value" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_import_summary_counts_flagged_amounts(tmp_path: Path) -> None:
    """An implausible total is stored; the summary says how many were flagged and where."""
    path = _write(
        tmp_path, GOOD + "A4,C3,c@example.com,2024-03-06T10:00:00,USD,99999999999999.99\n"
    )
    store = str(tmp_path / "s.duckdb")
    result = runner.invoke(app, ["import", "orders", str(path), "--store", store])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[3:5] == ["│ Stored            │ 4 │", "│   of them flagged │ 1 │"]
    text = " ".join(result.stdout.split())
    assert "Flagged: 1 stored value looks implausible" in text
    assert "flagged_values table (import_id = 'imp-" in text and "tenure store info" in text
    as_json = runner.invoke(
        app, ["import", "orders", str(path), "--store", str(tmp_path / "j.duckdb"), "--json"]
    )
    assert json.loads(as_json.stdout)["flagged"] == 1


FIXTURES = Path(__file__).parents[1] / "ingest" / "fixtures"


def test_import_feedback_and_referrals_match_library(tmp_path: Path) -> None:
    """`tenure import feedback|referrals` with the review and referral presets: the same
    counts, reasons, flags and notes as the library; the summary names the cycle."""
    from tenure.ingest import import_file

    cases = [
        ("feedback", "judgeme_reviews", (4, 3, 1, 0)),
        ("referrals", "referralcandy", (4, 3, 1, 2)),
    ]
    for entity, preset, counts in cases:
        path = FIXTURES / f"{preset}.csv"
        args = ["import", entity, str(path), "--preset", preset, "--max-quarantine", "1"]
        cli_store = str(tmp_path / f"cli-{entity}.duckdb")
        result = runner.invoke(app, [*args, "--store", cli_store, "--json"])
        assert result.exit_code == 0, result.output
        from_cli = json.loads(result.stdout)
        with Store(f"duckdb://{tmp_path / f'lib-{entity}.duckdb'}") as st:
            from_lib = import_file(st, entity, [path], preset=preset, max_quarantine=1.0)
        got = (from_cli["rows_read"], from_cli["stored"], from_cli["quarantined"])
        assert (*got, from_cli["flagged"]) == counts
        for key in ("by_reason", "tables", "flagged"):
            assert from_cli[key] == from_lib.to_dict()[key], key
        assert from_cli["notes"] == [
            n.replace(from_lib.import_id, from_cli["import_id"]) for n in from_lib.notes
        ]
    table = runner.invoke(app, [*args, "--store", str(tmp_path / "t.duckdb")])
    assert table.exit_code == 0, table.output
    assert "2 referrals are on a referral cycle" in " ".join(table.output.split())
    assert "referral to oneself" in table.output

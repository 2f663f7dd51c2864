"""`tenure customers search|list|show`, and the commands taking a person (`profile show`,
`privacy delete`) given any identifier: the same as the library, through CliRunner, on the
session demo store (tests/conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tenure import Store
from tenure.analytics import list_customers, search_customers
from tenure.cli import app

runner = CliRunner()


def _path(demo_url: str) -> str:
    return demo_url.removeprefix("duckdb://")


def _flat(text: str) -> str:
    """The output with its line breaks and runs of spaces as one space (titles wrap to the
    terminal's width)."""
    return " ".join(text.split())


def test_search_prints_the_first_matches_and_the_total(demo_url: str) -> None:
    result = runner.invoke(app, ["customers", "search", "clark", "--store", _path(demo_url)])
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "Customers matching 'clark': 62 customers (revenue in USD)" in out
    assert "Showing the first 20 of 62 rows; --limit 0 or --csv for all." in out
    few = runner.invoke(
        app, ["customers", "search", "gus clark", "--store", _path(demo_url), "--limit", "1"]
    )
    assert few.exit_code == 0, few.output
    assert "'gus clark': 2 customers (revenue in USD)" in _flat(few.stdout)
    assert "Showing the first 1 of 2 rows" in _flat(few.stdout)


def test_search_json_is_every_match_as_the_library_gives_it(demo_url: str) -> None:
    result = runner.invoke(
        app, ["customers", "search", "clark", "--store", _path(demo_url), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(demo_url) as store:
        expected = search_customers(store, "clark", limit=None)
    assert len(doc) == 62
    assert [d["customer_id"] for d in doc] == list(expected["customer_id"])
    # money at the minor unit, days as YYYY-MM-DD
    assert (doc[0]["customer_id"], doc[0]["revenue"], doc[0]["last_order"]) == (
        "C0000396",
        823.99,
        "2024-12-22",
    )


def test_list_filters_sorts_and_writes_csv(demo_url: str) -> None:
    args = ["customers", "list", "--store", _path(demo_url), "--segment", "champions"]
    table = runner.invoke(app, [*args, "--limit", "3"])
    assert table.exit_code == 0, table.output
    shown = _flat(table.stdout)
    assert "Customers of segment Champions by revenue: 63 customers (revenue in USD)" in shown
    assert "Showing the first 3 of 63 rows" in shown
    csv = runner.invoke(app, [*args, "--csv", "--sort", "orders", "--asc"])
    assert csv.exit_code == 0, csv.output
    lines = csv.stdout.splitlines()
    assert lines[0] == "person_id,customer_id,email,name,status,orders,revenue,last_order"
    with Store(demo_url) as store:
        expected = list_customers(
            store, segment="Champions", sort="orders", descending=False, limit=None
        )
    assert len(lines) == 1 + 63
    assert [line.split(",")[1] for line in lines[1:]] == list(expected["customer_id"])


def test_list_refuses_an_unknown_column_or_status_with_the_choices(demo_url: str) -> None:
    bad = runner.invoke(app, ["customers", "list", "--store", _path(demo_url), "--sort", "x"])
    assert bad.exit_code == 2
    assert "Cannot sort customers by 'x'." in bad.output
    assert "Sort by one of: person_id, customer_id, email, name, status, orders" in bad.output
    gone = runner.invoke(app, ["customers", "list", "--store", _path(demo_url), "--status", "gone"])
    assert gone.exit_code == 2
    assert "Choose one of: prospect, new, lapsed, at_risk, vip, active." in gone.output


def test_show_takes_any_identifier_and_says_how_it_matched(demo_url: str) -> None:
    for text, how in [
        ("GUS.CLARK1@example.com", "found by email gus.clark1@example.com"),
        ("order:D00000002", "found by order_id D00000002"),
        ("C0000001", "found by customer_id C0000001"),
    ]:
        result = runner.invoke(app, ["customers", "show", text, "--store", _path(demo_url)])
        assert result.exit_code == 0, result.output
        assert how in _flat(result.stdout)
        assert "C0000001" in result.stdout and "gus.clark1@example.com" in result.stdout
    doc = json.loads(
        runner.invoke(
            app, ["customers", "show", "D00000002", "--store", _path(demo_url), "--json"]
        ).stdout
    )
    assert doc["customer_id"] == "C0000001" and doc["email"] == "gus.clark1@example.com"
    assert doc["matched"] == {"kind": "order_id", "value": "D00000002"}


def test_show_of_nobody_suggests_close_matches(demo_url: str) -> None:
    result = runner.invoke(app, ["customers", "show", "C000001", "--store", _path(demo_url)])
    assert result.exit_code == 1
    assert "No person has 'C000001' as a person id, customer id, e-mail" in result.output
    assert "Close matches: customer_id:C0000001" in result.output
    assert "Traceback" not in result.output


def test_profile_shows_the_readable_identity_by_a_phone(demo_url: str) -> None:
    result = runner.invoke(app, ["profile", "show", "(206) 305-1731", "--store", _path(demo_url)])
    assert result.exit_code == 0, result.output
    assert "+12063051731" in result.stdout
    doc = json.loads(
        runner.invoke(
            app, ["profile", "show", "C0000001", "--store", _path(demo_url), "--json"]
        ).stdout
    )
    assert doc["labels"] == {
        "customer_id": "C0000001",
        "email": "gus.clark1@example.com",
        "other_id": None,
    }
    shown = runner.invoke(app, ["profile", "show", "C0000001", "--store", _path(demo_url)])
    assert f"Person {doc['person_id']} (C0000001, gus.clark1@example.com)" in shown.stdout


def test_privacy_delete_by_an_order_id_names_the_person_first(
    demo_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "demo.duckdb"
    shutil.copy(_path(demo_url), path)
    with Store(str(path)) as store:
        gus = search_customers(store, "C0000001")["person_id"].iloc[0]
    refused = runner.invoke(
        app, ["privacy", "delete", "D00000002", "--store", str(path)], input="n\n"
    )
    assert f"Delete every row of person {gus} (C0000001, gus.clark1@example.com)?" in (
        _flat(refused.output)
    )
    assert refused.exit_code == 1
    done = runner.invoke(
        app, ["privacy", "delete", "D00000002", "--store", str(path), "--yes", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["person_id"] == gus
    gone = runner.invoke(app, ["customers", "show", "C0000001", "--store", str(path)])
    assert gone.exit_code == 1 and "No person has 'C0000001'" in gone.output


def test_unmerge_takes_bare_identifiers_spelled_as_stored(demo_url: str, tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    shutil.copy(_path(demo_url), path)
    unknown = runner.invoke(
        app, ["identity", "unmerge", "C000001", "C0000001", "--store", str(path)]
    )
    assert unknown.exit_code == 1
    assert "No customer id, e-mail, phone or anonymous id 'C000001' is known." in _flat(
        unknown.output
    )
    assert "Close matches: customer_id:C0000001" in _flat(unknown.output)
    args = ["identity", "unmerge", "C0000001", "Gus.Clark1@Example.com", "--store", str(path)]
    done = runner.invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    with Store(str(path)) as store:
        edges = store.read("identity_blocked_edges").select("a", "b").to_pyarrow().to_pylist()
    assert edges == [{"a": "customer_id:C0000001", "b": "email:gus.clark1@example.com"}]

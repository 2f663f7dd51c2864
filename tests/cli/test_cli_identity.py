"""`tenure identity resolve`, `tenure profile show`, `tenure privacy export|delete`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tests.identity.test_identity import _scenario

runner = CliRunner()


def _store(tmp_path: Path) -> str:
    path = tmp_path / "s.duckdb"
    with Store(f"duckdb://{path}") as st:
        _scenario(st, tmp_path)
    return str(path)


def test_resolve_then_profile_then_export_then_delete(tmp_path: Path) -> None:
    store = _store(tmp_path)
    resolved = runner.invoke(app, ["identity", "resolve", "--store", store, "--json"])
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.stdout)["persons"] == 2
    shown = runner.invoke(app, ["profile", "show", "ann.smith@example.com", "--store", store])
    assert shown.exit_code == 0, shown.output
    assert "cust-9" in shown.stdout and "G1" in shown.stdout
    as_json = runner.invoke(
        app, ["profile", "show", "customer_id:cust-9", "--store", store, "--json"]
    )
    assert json.loads(as_json.stdout)["identities"]["customer_id"] == ["cust-9"]
    out = tmp_path / "ann.json"
    exported = runner.invoke(
        app, ["privacy", "export", "cust-9", "--store", store, "--out", str(out)]
    )
    assert exported.exit_code == 0 and json.loads(out.read_text())["orders"][0]["order_id"] == "G1"
    deleted = runner.invoke(
        app, ["privacy", "delete", "cust-9", "--store", store, "--yes", "--json"]
    )
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout)["rows_deleted"]["orders"] == 1
    gone = runner.invoke(app, ["profile", "show", "cust-9", "--store", store])
    assert gone.exit_code == 1
    assert "No person has 'cust-9' as a person id, customer id" in " ".join(gone.stderr.split())


def test_delete_asks_for_confirmation(tmp_path: Path) -> None:
    store = _store(tmp_path)
    runner.invoke(app, ["identity", "resolve", "--store", store])
    refused = runner.invoke(app, ["privacy", "delete", "cust-9", "--store", store], input="n\n")
    assert refused.exit_code == 1
    with Store(f"duckdb://{store}") as st:
        assert st.count("orders") == 1


def test_unmerging_two_persons_that_were_never_merged_says_so_and_records_nothing(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    runner.invoke(app, ["identity", "resolve", "--store", store])
    args = ["identity", "unmerge", "customer_id:cust-9", "anonymous_id:other-1", "--store", store]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert said.startswith(
        "Error: customer_id:cust-9 and anonymous_id:other-1 were never merged: "
        "customer_id:cust-9 is person P-"
    )
    assert said.endswith(
        "Nothing was recorded. Hint: Unmerge two identifiers of one person; `tenure profile "
        "show ID` lists a person's identifiers."
    )
    with Store(f"duckdb://{store}") as st:
        assert st.count("identity_blocked_edges") == 0

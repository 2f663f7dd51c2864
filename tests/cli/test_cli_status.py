"""`tenure status` and `tenure stages ...`: the same as the library, through CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.stages import transitions
from tenure.analytics.status import status_counts
from tenure.cli import app

runner = CliRunner()


def _copy(cdnow_url: str, tmp_path: Path) -> str:
    path = tmp_path / "cdnow.duckdb"
    shutil.copy(cdnow_url.removeprefix("duckdb://"), path)
    return str(path)


def test_status_json_matches_library(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    result = runner.invoke(app, ["status", "--store", path, "--as-of", "1998-06-30", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    url = f"duckdb://{path}"
    with Store(url) as store:
        expected = status_counts(store)
    assert [d["status"] for d in doc] == list(expected["status"])
    assert [d["persons"] for d in doc] == list(expected["persons"])
    assert sum(d["persons"] for d in doc) == 23_570
    table = runner.invoke(app, ["status", "--store", path])
    assert table.exit_code == 0 and "Customer statuses" in table.output
    assert "lapsed" in table.output and "15,238" in table.output


@pytest.mark.slow
def test_stages_backfill_entered_and_transitions(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    args = ["--store", path]
    done = runner.invoke(
        app,
        ["stages", "backfill", "--start", "1998-05-01", "--every", "week", "--json", *args],
    )
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)["stage_history_rows"]
    assert rows > 23_570
    entered = runner.invoke(
        app, ["stages", "entered", "--status", "at_risk", "--on", "1998-06-30", "--csv", *args]
    )
    assert entered.exit_code == 0, entered.output
    lines = entered.stdout.strip().splitlines()
    header = "person_id,customer_id,email,other_id,status,entered_at,left_at"
    assert lines[0] == header and len(lines) > 1
    assert all(",at_risk,1998-06-30," in line for line in lines[1:])
    moved = runner.invoke(app, ["stages", "transitions", "--json", *args])
    assert moved.exit_code == 0, moved.output
    url = f"duckdb://{path}"
    with Store(url) as store:
        expected = transitions(store)
    doc = json.loads(moved.stdout)
    assert [(d["from_status"], d["to_status"], d["moves"]) for d in doc] == list(
        zip(expected["from_status"], expected["to_status"], expected["moves"], strict=True)
    )


def test_stages_bad_arguments(cdnow_url: str, tmp_path: Path) -> None:
    path = _copy(cdnow_url, tmp_path)
    bad = runner.invoke(
        app, ["stages", "backfill", "--start", "1998-05-01", "--every", "hour", "--store", path]
    )
    assert bad.exit_code != 0
    assert "'every' parameter of backfill_stages must be one of day, week, month" in bad.output
    bad = runner.invoke(app, ["stages", "entered", "--status", "sleepy", "--store", path])
    assert bad.exit_code != 0 and "'status' parameter must be one of" in bad.output


def test_an_empty_transitions_table_says_why_and_what_to_run(demo_url: str, tmp_path: Path) -> None:
    """The session demo store with its status history cut to one recorded day (its last,
    as after one `tenure run` on a store without history), so no moves yet."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    with Store(f"duckdb://{path}") as st:
        st.drop("stage_history")
    store = ["--store", str(path)]
    one = runner.invoke(app, ["stages", "backfill", "--start", "2024-12-30", *store])
    assert one.exit_code == 0, one.output
    first = runner.invoke(app, ["stages", "transitions", *store, "--json"])
    assert first.exit_code == 0 and json.loads(first.stdout) == []
    assert " ".join(first.stderr.split()) == (
        "Note: No moves between statuses yet: stage_history holds one status per person, "
        "recorded on 2024-12-30. Moves appear once statuses are recorded on later days "
        "(`tenure run` each day), or replay past days: `tenure stages backfill --start "
        "2024-10-01 --every week`."
    )
    runner.invoke(app, ["stages", "backfill", "--start", "2024-11-01", "--every", "month", *store])
    window = ["--start", "2023-01-01", "--end", "2023-02-01"]
    outside = runner.invoke(app, ["stages", "transitions", *window, *store, "--json"])
    said = " ".join(outside.stderr.split())
    assert said.startswith(
        "Note: No moves between statuses dated within 2023-01-01..2023-02-01; the "
    )
    assert said.endswith("moves recorded are dated 2024-12-01..2024-12-30.")
    assert json.loads(outside.stdout) == []

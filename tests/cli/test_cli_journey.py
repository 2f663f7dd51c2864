"""`tenure stages` (journey counts) and `tenure stages --transitions`: the same as the
library, through CliRunner, on the hand-made store of tests/analytics/test_journey.py."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.journey import journey_counts, journey_transitions, record_journey
from tenure.cli import app
from tests.analytics.test_journey import END, _tiny

runner = CliRunner()


def _store(tmp_path: Path) -> str:
    path = tmp_path / "tiny.duckdb"
    with Store(f"duckdb://{path}") as store:
        _tiny(store, tmp_path)
        record_journey(store, END.replace(month=5, day=15))
        record_journey(store, END)
    return str(path)


def test_stages_counts_json_csv_and_table_match_the_library(tmp_path: Path) -> None:
    path = _store(tmp_path)
    args = ["stages", "--store", path, "--as-of", END.isoformat()]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(f"duckdb://{path}") as store:
        expected = journey_counts(store, END)
    assert [d["persons"] for d in doc] == list(expected["persons"])
    assert [d["share"] for d in doc] == pytest.approx(list(expected["share"]))
    assert [(d["stage"], d["persons"]) for d in doc] == [
        ("reach", 1),
        ("acquire", 1),
        ("develop", 1),
        ("retain", 6),
        ("advocate", 3),
        ("at_risk", 1),
        ("lapsed", 1),
    ]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*args, "--csv"]).stdout)))
    assert [r["persons"] for r in rows] == ["1", "1", "1", "6", "3", "1", "1"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "Journey stages" in table.output and "advocate" in table.output
    # the rules: a stricter review threshold leaves c-v in retain
    strict = runner.invoke(app, [*args, "--review-share", "0.9", "--json"])
    by = {d["stage"]: d["persons"] for d in json.loads(strict.stdout)}
    assert (by["advocate"], by["retain"]) == (2, 7)
    bad = runner.invoke(app, [*args, "--onboarding-days", "0"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "The 'onboarding_days' parameter must be an integer of at least 1" in bad.output


def test_stages_transitions_match_the_library(tmp_path: Path) -> None:
    path = _store(tmp_path)
    result = runner.invoke(app, ["stages", "--transitions", "--store", path, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    with Store(f"duckdb://{path}") as store:
        expected = journey_transitions(store, period="month")
    assert [(d["period"], d["stage"], d["entries"], d["exits"]) for d in doc] == [
        (str(r.period), r.stage, r.entries, r.exits) for r in expected.itertuples()
    ]
    assert ("2024-06-01", "advocate", 3, 0) in [
        (d["period"], d["stage"], d["entries"], d["exits"]) for d in doc
    ]
    bad = runner.invoke(app, ["stages", "--transitions", "--period", "hour", "--store", path])
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "'period' parameter must be one of day, week, month" in bad.output
    # the status subcommands still answer under the group
    sub = runner.invoke(app, ["stages", "transitions", "--store", path, "--json"])
    assert sub.exit_code == 0, sub.output

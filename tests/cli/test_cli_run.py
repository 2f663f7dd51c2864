"""`tenure run` and `tenure store info` through CliRunner, paired with the library; and the
sequence of issue 12 (refresh, identity resolve, predict) whose readers were not current."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ibis
import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app, console
from tenure.pipeline import run
from tests.pipeline.conftest import demo_file, demo_path, open_store

__all__ = ["demo_file", "demo_path"]  # the small demo store fixtures of tests/pipeline

runner = CliRunner()
ANALYTICS = ["customer_facts", "customer_rfm", "customer_status", "stage_history"]


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow  # a full run or a model fit: 10-20 s on the shared machine
def test_run_json_matches_the_library(demo_path: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin.duckdb"
    shutil.copy(demo_path, twin)
    args = ["run", "--store", str(demo_path), "--no-progress"]
    doc = _json(*args, *(x for s in ANALYTICS[1:3] for x in ("--step", s)))
    with open_store(twin) as st:
        expected = run(st, steps=ANALYTICS[1:3]).to_dict()
    assert doc["as_of"] == expected["as_of"] == "2025-02-03" and doc["ok"]
    shape = ("step", "outcome", "mode", "reason", "rows")
    assert [{k: s[k] for k in shape} for s in doc["steps"]] == [
        {k: s[k] for k in shape} for s in expected["steps"]
    ]
    assert [s["rows"].get(s["step"]) for s in doc["steps"]] == [405, 297, 405]
    again = _json(*args)  # everything else: identity, stage history, predictions
    outcomes = {s["step"]: s["outcome"] for s in again["steps"]}
    assert outcomes == {
        "identity": "ok",
        "customer_facts": "ok",  # the identity step ran since
        "customer_rfm": "ok",
        "customer_status": "ok",
        "stage_history": "ok",
        "journey": "ok",
        "predictions": "ok",
        "recommendations": "ok",
        "segments": "ok",
        "flows": "ok",
        "goals": "ok",
        "dashboard": "ok",
    }
    assert again["steps"][1]["reason"] == "identity runs first"
    quiet = _json(*args)
    # nothing new: every step is current but the flows' tick, the goals' progress and the
    # dashboard's pages, which run at every run (the pages whose kept copy holds are left)
    outcomes = {s["step"]: s["outcome"] for s in quiet["steps"]}
    assert outcomes.pop("flows") == "ok" and outcomes.pop("dashboard") == "ok"
    assert outcomes.pop("goals") == "ok"
    assert set(outcomes.values()) == {"current"}


def test_run_prints_one_row_per_step(demo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 120)
    args = ["run", "--store", str(demo_path), "--step", "customer_rfm", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "Pipeline run as of 2025-02-03"
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert [c[:4] for c in cells] == [
        ["customer_facts", "ok", "full", "774"],  # facts, purchase gaps, facts identities
        ["customer_rfm", "ok", "full", "297"],
    ]
    assert [c[5] for c in cells] == ["never ran", "never ran"]
    full = runner.invoke(app, [*args, "--full"])
    assert [line.split("│")[2].strip() for line in full.stdout.splitlines() if "│" in line] == [
        "ok",
        "ok",
    ]


def test_a_failed_step_exits_1_naming_it_after_the_table(
    demo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    rfm_module = importlib.import_module("tenure.analytics.rfm")  # the package exports rfm()

    real = rfm_module.rfm

    def broken(store: Store, **kw: object) -> ibis.Table:
        expr = real(store, **kw)  # type: ignore[arg-type]
        return expr.mutate(orders=ibis.literal("many").cast("int64"))

    monkeypatch.setattr(rfm_module, "rfm", broken)
    monkeypatch.setattr(console, "width", 200)
    args = ["run", "--store", str(demo_path), "--no-progress"]
    result = runner.invoke(app, [*args, *(x for s in ANALYTICS for x in ("--step", s))])
    assert result.exit_code == 1
    rows = {
        cells[0]: cells[1]
        for line in result.stdout.splitlines()
        if "│" in line
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
        if cells[0]  # not the wrapped rest of a long error
    }
    assert rows == {
        "customer_facts": "ok",
        "customer_rfm": "failed",
        "customer_status": "ok",  # it does not come after customer_rfm
        "stage_history": "ok",
    }
    assert result.stderr.startswith(
        "Error: Pipeline step 'customer_rfm' failed: ConversionException"
    )
    assert "Traceback" not in result.output


def test_store_info_json_is_the_library_and_the_table_shows_the_last_runs(
    demo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenure.pipeline import store_info

    store = str(demo_path)
    runner.invoke(app, ["run", "--store", store, "--step", "customer_rfm", "--no-progress"])
    doc = _json("store", "info", "--store", store)
    with open_store(demo_path) as st:
        expected = json.loads(json.dumps(store_info(st), default=str))
    assert doc == expected
    assert doc["derived_tables"]["customer_rfm"] == 297
    assert doc["last_runs"]["customer_rfm"]["outcome"] == "ok"
    monkeypatch.setattr(console, "width", 150)
    shown = runner.invoke(app, ["store", "info", "--store", store]).stdout
    assert "customer_predictions (derived)" in shown and "not built" in shown
    lines = shown.splitlines()
    first = lines.index(next(line for line in lines if "Last pipeline runs" in line))
    runs = [[c.strip() for c in line.split("│")[1:-1]] for line in lines[first:] if "│" in line]
    assert [r[0] for r in runs] == [
        "identity",
        "customer_facts",
        "customer_rfm",
        "customer_status",
        "stage_history",
        "journey",
        "predictions",
        "recommendations",
        "segments",
        "flows",
        "goals",
        "dashboard",
    ]
    assert runs[0][1] == "never" and runs[2][2:6] == ["2025-02-03", "ok", "full", "297"]


@pytest.mark.slow  # a full run or a model fit: 10-20 s on the shared machine
def test_readers_are_current_after_refresh_identity_resolve_predict(demo_path: Path) -> None:
    """Issue 12: after import (here the demo), refresh, identity resolve, predict, the VIP
    threshold and expected future VIPs were blank (facts keyed by customer id, live totals
    by person id), `rfm --customers` showed P- ids while `customers show` showed customer
    ids, and `customers show customer_id:...` failed until another refresh."""
    store = ["--store", str(demo_path)]
    refreshed = _json("refresh", *store, "--no-progress")
    assert refreshed["rows"]["customer_facts"] == 405
    assert _json("identity", "resolve", *store)["persons"] == 405
    predicted = _json("predict", *store, "--top", "3")
    assert predicted["vip_threshold"] == 161.01
    assert predicted["totals"]["future_vips"] == pytest.approx(1.0)
    assert predicted["top"][0]["person_id"].startswith("P-")
    shown = _json("customers", "show", "customer_id:C0000011", *store)
    person = shown["person_id"]
    assert person.startswith("P-") and shown["orders"] == 1
    assert shown["clv_12m"] == predicted["top"][0]["clv_12m"]  # joined, not attached
    rfm_ids = {r["person_id"] for r in _json("rfm", "--customers", *store)}
    assert person in rfm_ids and all(p.startswith("P-") for p in rfm_ids)
    with open_store(demo_path) as st:
        facts = set(st.read("customer_facts").person_id.to_pyarrow().to_pylist())
    assert rfm_ids <= facts


@pytest.mark.slow  # a full run or a model fit: 10-20 s on the shared machine
def test_customers_show_notes_stale_predictions(demo_path: Path) -> None:
    store = ["--store", str(demo_path)]
    _json("predict", *store, "--model", "heuristic", "--top", "0")
    assert _json("refresh", *store, "--no-progress")["rows"]["customer_facts"] == 405
    result = runner.invoke(app, ["customers", "show", "customer_id:C0000011", *store])
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()) == (
        "Note: customer_predictions is not current (predictions: customer_facts ran since); "
        "`tenure run` updates it."
    )

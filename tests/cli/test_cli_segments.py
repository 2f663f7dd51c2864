"""`tenure segments list | preview | members | export`: the library's figures through
CliRunner, on the hand-built store of tests/engage/segkit.py; errors exit cleanly."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.engage.segments import list_segments, refresh_segments, segment_members
from tests.engage.segkit import NOW, make_tiny

runner = CliRunner()
AT = ["--now", NOW.isoformat()]


@pytest.fixture(scope="module")
def tiny_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_tiny(tmp_path_factory.mktemp("tiny"))


def _flat(text: str) -> str:
    """``text`` without any white space: the terminal wraps long paths anywhere."""
    return "".join(text.split())


def _copy(tiny_url: str, tmp_path: Path) -> str:
    path = tmp_path / "tiny.duckdb"
    shutil.copy(tiny_url.removeprefix("duckdb://"), path)
    return str(path)


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_list_and_members_match_the_library(tiny_url: str, tmp_path: Path) -> None:
    path = _copy(tiny_url, tmp_path)
    with Store(f"duckdb://{path}") as store:
        expected = list_segments(store, NOW)
        promoters = segment_members(store, "promoters", now=NOW)
        refresh_segments(store, NOW)
    store = ["--store", path]
    doc = json.loads(_invoke("segments", "list", *store, *AT, "--json"))
    assert doc["now"] == NOW.isoformat()
    got = {s["segment"]: (s["size"], s["last_size"], s["change"]) for s in doc["segments"]}
    assert got == {
        n: (s, n and s, 0) for n, s in zip(expected.segment, expected["size"], strict=True)
    }
    table = _invoke("segments", "list", *store, *AT)
    assert "Segments at 2024-06-30 12:00" in table and "cart_abandoners" in table
    members = json.loads(_invoke("segments", "members", "promoters", *store, *AT, "--json"))
    assert [m["person_id"] for m in members] == list(promoters.person_id)
    assert members[0]["customer_id"] == "c1" and members[0]["nps"] == 10.0
    rows = list(
        csv.DictReader(
            io.StringIO(_invoke("segments", "members", "cart_abandoners", *store, *AT, "--csv"))
        )
    )
    assert sorted(r["customer_id"] for r in rows) == ["c1", "c4", "c5"]
    one = json.loads(
        _invoke("segments", "members", "cart_abandoners", *store, *AT, "--json", "--limit", "1")
    )
    assert len(one) == 1


def test_preview_and_export(tiny_url: str, tmp_path: Path) -> None:
    path = _copy(tiny_url, tmp_path)
    store = ["--store", path]
    doc = json.loads(_invoke("segments", "preview", "cart_abandoners", *store, *AT, "--json"))
    assert (doc["size"], doc["entering"], doc["leaving"], doc["last_refresh"]) == (
        3,
        None,
        None,
        None,
    )
    assert sorted(m["customer_id"] for m in doc["sample"]) == ["c1", "c4", "c5"]
    shown = _invoke("segments", "preview", "cart_abandoners", *store, *AT, "--sample", "1")
    assert "Never refreshed" in shown and "Showing the first 1 of 3 rows" in shown
    out = tmp_path / "cart.csv"
    said = _invoke("segments", "export", "cart_abandoners", "--out", str(out), *store, *AT)
    assert _flat(said) == _flat(f"Wrote 3 members of cart_abandoners to {out}.")
    assert out.read_text().splitlines()[0] == "customer_id,email,person_id"


def test_errors_exit_cleanly(tiny_url: str, tmp_path: Path) -> None:
    store = ["--store", _copy(tiny_url, tmp_path)]
    unknown = runner.invoke(app, ["segments", "preview", "vipp", *store])
    assert unknown.exit_code == 1
    assert "No segment named 'vipp'" in unknown.output and "Did you mean vip?" in unknown.output
    bad = runner.invoke(app, ["segments", "list", *store, "--now", "yesterday"])
    assert bad.exit_code == 2 and "--now 'yesterday' is not a time" in bad.output
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "mine.yaml").write_text(
        "name: mine\ncondition: {field: statuss, eq: x}\n"
    )
    env = {"TENURE_SEGMENTS_DIR": str(tmp_path / "segments")}
    broken = runner.invoke(app, ["segments", "list", *store], env=env)
    assert broken.exit_code == 2 and "Traceback" not in broken.output
    assert _flat("mine.yaml line 2: unknown field 'statuss'") in _flat(broken.output)
    assert _flat("Did you mean status") in _flat(broken.output)

"""`tenure flows preview FLOW STEP PERSON` and `tenure bounces import FILE` through
CliRunner: the same as the library functions, on the channel tests' small store."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.deliver.bounces import parse_payload, record_bounces
from tenure.deliver.render import preview
from tests.deliver.channels.channelkit import NOW, seed

runner = CliRunner()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store, made once (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("preview") / "seeded.duckdb"
    with Store(f"duckdb://{path}") as store:
        seed(store)
    return path


@pytest.fixture
def store_path(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no templates/ nor flows/ here: the shipped ones
    monkeypatch.setenv("TENURE_PUBLIC_URL", "https://crm.shop.example")
    monkeypatch.setenv("TENURE_UNSUBSCRIBE_SECRET", "unsub-secret")
    monkeypatch.setenv("TENURE_EMAIL_FROM", "Shop <news@shop.example>")
    path = tmp_path / "shop.duckdb"
    shutil.copy(seeded, path)
    return str(path)


def test_preview_prints_what_the_library_renders(store_path: str) -> None:
    args = ["flows", "preview", "welcome_series", "offer", "c1", "--now", NOW.isoformat()]
    result = runner.invoke(app, [*args, "--store", store_path, "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    with Store(store_path) as store:
        expected = preview(store, store.settings, "welcome_series", "offer", "p_ann", NOW)
    assert got == json.loads(json.dumps(dataclasses.asdict(expected), default=str))
    assert got["to"] == "ann@example.com" and got["subject"] == "10% off your first order"
    assert got["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = runner.invoke(app, [*args, "--store", store_path])
    assert plain.exit_code == 0, plain.output
    assert "10% off your first order" in plain.stdout and "Text part" in plain.stdout
    assert "Hello Ann <script>alert(1)</script>," in plain.stdout
    assert "Hello Ann &lt;script&gt;alert(1)&lt;/script&gt;," in plain.stdout


def test_preview_errors_are_one_clean_line(store_path: str) -> None:
    result = runner.invoke(app, ["flows", "preview", "welcome_series", "nope", "c1",
                                 "--store", store_path])  # fmt: skip
    assert result.exit_code != 0
    assert "has no send step 'nope'" in result.output and "Traceback" not in result.output


def test_bounces_import(store_path: str, tmp_path: Path) -> None:
    payload = [
        {"type": "bounce", "email": "ann@example.com", "bounce_type": "hard", "status": "5.1.1"},
        {"type": "bounce", "email": "bob@example.org", "bounce_type": "soft"},
    ]
    file = tmp_path / "events.json"
    file.write_text(json.dumps(payload))
    result = runner.invoke(app, ["bounces", "import", str(file), "--store", store_path, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "hard": 1, "soft": 1, "complaints": 0, "suppressed": 1, "already_suppressed": 0,
        "skipped": 0,
    }  # fmt: skip
    again = runner.invoke(app, ["bounces", "import", str(file), "--store", store_path])
    assert again.exit_code == 0 and "already suppressed" in again.stdout
    with Store(store_path) as store:
        assert record_bounces(store, parse_payload(payload), NOW).already_suppressed == 1
    missing = runner.invoke(app, ["bounces", "import", str(tmp_path / "x.mbox")])
    assert missing.exit_code != 0 and "does not exist" in " ".join(missing.output.split())

"""The collector's loader alone: a segment that keeps failing to load is set aside, kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tenure.errors import TenureError
from tenure.service import loader as loader_module
from tenure.service.loader import Loader
from tenure.service.state import ServiceState
from tenure.service.wal import WriteAheadLog
from tenure.store import Store
from tests.service.collector_live import settings_for


def test_a_segment_that_keeps_failing_is_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise TenureError("the import failed")

    monkeypatch.setattr(loader_module, "import_events", broken)
    monkeypatch.setattr(loader_module, "MAX_FAILURES", 2)
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir()
    event = {"messageId": "m1", "type": "track", "event": "E", "userId": "u"}
    (wal_dir / "000000000001.jsonl").write_text(json.dumps(event) + "\n")
    settings = settings_for(tmp_path / "s.duckdb", wal_dir)
    store = Store(settings.store_url, settings=settings)
    wal = WriteAheadLog(wal_dir)
    assert wal.backlog == 1
    loader = Loader(ServiceState(settings=settings, owned=store), wal)
    assert loader.load_once() is None and wal.closed()
    assert loader.load_once() is None and not wal.closed()
    assert (wal_dir / "000000000001.failed").exists() and wal.backlog == 0
    store.close()

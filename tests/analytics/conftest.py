"""Analytics fixtures: CDNOW master imported once per session into a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenure import Store, load_settings
from tenure.ingest import import_file

CDNOW = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_master.txt"


@pytest.fixture(scope="session")
def cdnow_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb://{tmp_path_factory.mktemp('cdnow') / 'cdnow.duckdb'}"
    with Store(url, settings=load_settings(store_url=url)) as store:
        import_file(store, "orders", [CDNOW], preset="cdnow")
    return url


@pytest.fixture
def cdnow(cdnow_url: str) -> Iterator[Store]:
    with Store(cdnow_url, settings=load_settings(store_url=cdnow_url)) as store:
        yield store

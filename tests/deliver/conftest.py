"""Fixtures of the delivery tests: a fresh migrated DuckDB store per test (a copy of one made
once per session)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenure import Store
from tests.deliver.channels.channelkit import (  # noqa: F401 (fixtures: the end-to-end test)
    receiver,
    smtp_server,
)


@pytest.fixture(scope="session")
def empty_outbox_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deliver") / "empty.duckdb"
    Store(f"duckdb://{path}").close()
    return path


@pytest.fixture
def store_path(empty_outbox_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copy(empty_outbox_file, path)
    return path


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    with Store(f"duckdb://{store_path}") as st:
        yield st

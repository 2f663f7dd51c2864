"""A small demo store (300 customers over 400 days), generated once and copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tenure import Store
from tenure.demo import generate_demo

#: The demo's frozen clock: its last day.
END = date(2025, 2, 3)


def open_store(path: Path) -> Store:
    url = f"duckdb://{path}"
    return Store(url)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "demo.duckdb"
    with open_store(path) as store:
        generate_demo(store, customers=300, seed=7, days=400)
    return path


@pytest.fixture
def demo_path(demo_file: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo store, never built."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_file, path)
    return path


@pytest.fixture
def demo(demo_path: Path) -> Iterator[Store]:
    with open_store(demo_path) as store:
        yield store

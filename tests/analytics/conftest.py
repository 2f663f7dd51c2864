"""Analytics fixtures: the CDNOW store (``cdnow_url``, ``cdnow``) lives in tests/conftest.py;
the 4,000-buyer demo store (``demo_url``, ``demo``) of the channel and period tests is built
once per run here (the tests read it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenure import Store
from tenure.demo import generate_demo
from tests.conftest import CDNOW_MASTER as CDNOW

__all__ = ["CDNOW"]


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb://{tmp_path_factory.mktemp('kpi') / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=4000, seed=11)
    return url


@pytest.fixture
def demo(demo_url: str) -> Iterator[Store]:
    with Store(demo_url) as store:
        yield store

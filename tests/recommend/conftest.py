"""Fixtures of the recommendation tests, built once for the package: the groceries baskets
as purchase lines, an in-memory DuckDB store for the Spark parity tests to compare with, and a
small demo store on both engines.

The PySpark store itself is the session's (``spark_store``, tests/conftest.py: one Spark
session per run); its catalog is shared with the other packages' Spark tests, so the
recommend tests write either tables of their own names or, for ``engines``, the canonical
tables after emptying them (as tests/analytics/test_analytics_spark.py does)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tests.conftest import FIXTURES, copy_tables

GROCERIES = FIXTURES / "groceries" / "groceries.csv"
DOC = Path(__file__).parents[2] / "docs" / "recommendations.md"

#: The two-engine demo: 300 customers over 2024 (seed 11), as of its last day.
DEMO_END = date(2024, 12, 31)
#: The canonical tables the purchase lines, cart sessions and cross-category candidates read
#: (only these are emptied and copied into the shared Spark store).
READ = ("orders", "order_items", "products", "events", "identities", "fx_rates", "store_meta")


@pytest.fixture(scope="package")
def groceries() -> pd.DataFrame:
    """The 9,835 groceries baskets (:func:`tenure.recommend.evaluate.read_baskets`); tests
    that change it work on a copy."""
    from tenure.recommend.evaluate import read_baskets

    return read_baskets(GROCERIES)


@pytest.fixture(scope="package")
def duckdb_store() -> Iterator[Store]:
    """An empty in-memory DuckDB store, shared by the package's Spark parity tests (each
    writes and drops tables of its own names)."""
    with Store("duckdb://:memory:") as store:
        yield store


@pytest.fixture(scope="package")
def engines(
    spark_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Store]]:
    """(DuckDB store, Spark store) holding the same rows: a demo of 300 customers over 2024
    (orders with lines, products with categories, ``Product Added`` events), identities
    resolved once on DuckDB (person ids carry the time of the run that made them) and the
    tables the recommenders read (:data:`READ`) copied into the Spark store."""
    from tenure.demo import generate_demo
    from tenure.identity import resolve_identities

    url = f"duckdb://{tmp_path_factory.mktemp('recommend-engines') / 'demo.duckdb'}"
    with Store(url) as duck:
        generate_demo(duck, customers=300, seed=11, start=date(2024, 1, 1), days=365)
        resolve_identities(duck)
        copy_tables(duck, spark_store, READ)
        yield duck, spark_store

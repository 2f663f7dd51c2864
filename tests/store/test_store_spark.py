"""The same store URL scheme on PySpark local mode: schema, migrations, inserts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.store.migrations import LATEST_VERSION
from tenure.store.schema import TABLES
from tests.conftest import comparable

pytestmark = pytest.mark.spark
pytest.importorskip("pyspark")


def test_spark_store_has_the_canonical_schema(spark_store: Store) -> None:
    assert spark_store.backend_name == "pyspark"
    assert spark_store.version == LATEST_VERSION
    for name, spec in TABLES.items():
        assert comparable(spark_store.table(name).schema()) == comparable(spec.schema), name


def test_spark_store_insert_round_trips_decimals(spark_store: Store) -> None:
    spark_store.insert(
        "orders",
        pa.table({"order_id": ["store-test"], "currency": ["USD"], "total": [Decimal("19.99")]}),
    )
    # to_pyarrow, not to_pandas: Ibis 12's pandas conversion fails on all-null decimal
    # columns (subtotal, tax... here) on PySpark.
    orders = spark_store.table("orders")  # the Spark session (and catalog) is shared
    got = orders.filter(orders.order_id == "store-test").to_pyarrow()
    assert got.column("total").to_pylist() == [Decimal("19.9900")]


def test_spark_reopen_applies_nothing(spark_store: Store, tmp_path: Path) -> None:
    again = Store(spark_store.url)
    assert again.migrations_applied == []


def test_spark_add_column_keeps_rows_with_unknown_flags(spark_store: Store) -> None:
    """Migration 10's step on Spark: a boolean and an int64 column, null in every old row."""
    from tenure.store.migrations import add_column

    con = spark_store.con
    name = "addcol_products_v9"
    con.create_table(name, pa.table({"product_id": ["P1", "P2"]}), overwrite=True)
    try:
        add_column(con, name, "active", "boolean", None)
        add_column(con, name, "inventory", "int64", None)
        got = con.table(name).order_by("product_id").to_pyarrow()
        assert got.schema.names == ["product_id", "active", "inventory"]
        assert got.to_pylist() == [
            {"product_id": "P1", "active": None, "inventory": None},
            {"product_id": "P2", "active": None, "inventory": None},
        ]
        assert f"_tenure_migrate_{name}" not in con.list_tables()
    finally:
        con.drop_table(name, force=True)


def test_spark_strip_keeps_letters_v_and_f(spark_store: Store) -> None:
    """Ibis's strip() on PySpark trimmed the letters v and f (it sent '\\v' and '\\f', which
    Spark reads as v and f); the store's Spark compiler strips whitespace only, as DuckDB."""
    values = ["abcf", "vav", " x\t", "\nfive \r", "\x0bof\x0c", "ff", "", None]
    t = spark_store.upload("_strip_test", pa.table({"v": values}))
    try:
        got = t.select(s=t.v.strip()).to_pyarrow().column("s").to_pylist()
    finally:
        spark_store.drop_upload("_strip_test")
    assert sorted(got, key=str) == sorted(
        [None if v is None else v.strip() for v in values], key=str
    )

"""The same pairs and rules on PySpark as on DuckDB (groceries baskets)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.recommend.baskets import read_basket_file
from tenure.recommend.rules import (
    association_rules,
    complete_basket,
    counted_baskets,
    product_pairs,
)
from tests.conftest import FIXTURES

pytestmark = pytest.mark.spark

GROCERIES = FIXTURES / "groceries" / "groceries.csv"


def comparable(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows in one order, arrays as tuples, floats to 12 digits (the engines add in
    different orders)."""
    frame = frame.copy()
    for column in frame.columns:
        if (
            frame[column].dtype == object
            and len(frame)
            and not isinstance(frame[column].iloc[0], str)
        ):
            frame[column] = frame[column].map(tuple)
        elif frame[column].dtype.kind == "f":
            frame[column] = frame[column].round(12)
        elif frame[column].dtype.kind in "iu":
            frame[column] = frame[column].astype("int64")
    return frame.sort_values(keys).reset_index(drop=True)


def stored(store: Store, name: str, data: pa.Table) -> ir.Table:
    """``data`` as a stored table (on Spark a table of files: an uploaded view is a local
    relation, which Spark's optimiser evaluates on the driver, out of heap on the pairs)."""
    store.drop(name)
    store.create(name, ibis.schema(dict(zip(data.column_names, data.schema.types, strict=True))))
    store.append(name, data)
    return store.read(name)


def test_same_pairs_and_rules_on_spark(spark_store: Store, duckdb_store: Store) -> None:
    data = read_basket_file(GROCERIES)
    on_spark = stored(spark_store, "groceries_lines_rules", data)
    on_duck = stored(duckdb_store, "groceries_lines_rules", data)
    try:
        pairs = [
            comparable(product_pairs(t).to_pandas(), ["product_id", "other_id"])
            for t in (on_duck, on_spark)
        ]
        assert len(pairs[0]) == 15044
        pd.testing.assert_frame_equal(pairs[0], pairs[1])
        rules = [
            comparable(
                association_rules(t, min_support=0.005, min_confidence=0.3).to_pandas(),
                ["rule"],
            )
            for t in (on_duck, on_spark)
        ]
        assert len(rules[0]) > 100
        pd.testing.assert_frame_equal(rules[0], rules[1])
        with counted_baskets(on_spark) as counted:  # counted once (cached), the same rows
            once = product_pairs(counted).to_pandas()
            once_rules = association_rules(counted, min_support=0.005, min_confidence=0.3)
            once_rules_frame = once_rules.to_pandas()
        pd.testing.assert_frame_equal(comparable(once, ["product_id", "other_id"]), pairs[1])
        pd.testing.assert_frame_equal(comparable(once_rules_frame, ["rule"]), rules[1])
        milk = rules[1][rules[1].rule == "{other vegetables, yogurt} -> {whole milk}"].iloc[0]
        assert (round(milk.support, 4), round(milk.confidence, 3), round(milk.lift, 3)) == (
            0.0223,
            0.513,
            2.007,
        )
        carts = [
            complete_basket(t, ["other vegetables", "yogurt"], top=5) for t in (on_duck, on_spark)
        ]
        pd.testing.assert_frame_equal(carts[0], carts[1])
    finally:
        spark_store.drop("groceries_lines_rules")

"""The same next products, similarity and consumables on PySpark as on DuckDB."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tenure import Store
from tenure.recommend.similar import consumables, item_similarity, next_products
from tests.recommend.test_rules_spark import comparable, stored
from tests.recommend.test_similar import COFFEE, WARDROBE, catalogue, lines_of

pytestmark = pytest.mark.spark


def test_same_next_products_on_spark(spark_store: Store, duckdb_store: Store) -> None:
    lines = lines_of(*WARDROBE, *COFFEE, ("c9", 0, "tie"), ("c9", 80, "belt")).to_pyarrow()
    products = catalogue(
        shirt=("Linen Shirt", True, 5),
        tie=("Silk Tie", None, None),
        belt=("Belt", True, 1),
        coffee=("Coffee", None, 9),
        mug=("Mug", False, 3),
    ).to_pyarrow()
    got = []
    for store in (duckdb_store, spark_store):
        t = stored(store, "similar_lines", lines)
        p = stored(store, "similar_products", products)
        try:
            got.append(
                (
                    comparable(
                        next_products(
                            t, as_of=date(2024, 4, 5), products=p, min_together=1
                        ).to_pandas(),
                        ["person_id", "rank"],
                    ),
                    comparable(
                        item_similarity(t, min_together=1).to_pandas(), ["product_id", "other_id"]
                    ),
                    comparable(consumables(t).to_pandas(), ["product_id"]),
                )
            )
        finally:
            store.drop("similar_lines")
            store.drop("similar_products")
    duck, spark = got
    assert len(duck[0]) > 10 and "mug" not in set(duck[0].product_id)
    assert "you buy it about every 30 days" in " ".join(duck[0].reason)
    for a, b in zip(duck, spark, strict=True):
        pd.testing.assert_frame_equal(a, b)

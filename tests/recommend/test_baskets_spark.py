"""The same purchase lines, cart sessions and cross-category candidates on PySpark as on
DuckDB (the package's two-engine demo store, tests/recommend/conftest.py)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.recommend.baskets import blank_to_null, purchase_lines
from tenure.recommend.cross import cross_category
from tests.recommend.conftest import DEMO_END
from tests.recommend.test_rules_spark import comparable, stored

pytestmark = pytest.mark.spark

KEYS = ["order_id", "product_id"]


def lines_frame(lines: object) -> pd.DataFrame:
    """Lines as a comparable frame (times without their zone or precision)."""
    frame = comparable(lines.to_pandas(), KEYS)  # type: ignore[attr-defined]
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"]).astype("datetime64[us]")
    return frame


def test_same_purchase_lines_and_cart_sessions(engines: tuple[Store, Store]) -> None:
    """Orders up to a day, and cart sessions of the ``Product Added`` events (30 minutes
    between adds): the same rows, the same session ids."""
    got = [
        [
            lines_frame(purchase_lines(store, DEMO_END)),
            lines_frame(purchase_lines(store, DEMO_END, source="carts")),
        ]
        for store in engines
    ]
    duck, spark = got
    orders, carts = duck
    assert len(orders) > 1_000 and orders.person_id.notna().all()
    assert carts.order_id.str.startswith("cart:").all() and len(carts) > 1_000
    assert carts.order_id.nunique() > orders.order_id.nunique()  # abandoned carts too
    for a, b in zip(duck, spark, strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_same_cross_category_candidates(engines: tuple[Store, Store]) -> None:
    """The features and categories bought are read on each engine, the models fitted in
    scikit-learn on what was read: the same candidates, propensities and held-out quality."""
    duck, spark = (cross_category(store, as_of=DEMO_END, min_movers=8) for store in engines)
    assert (duck.cutoff, duck.notes) == (spark.cutoff, spark.notes)
    modelled = duck.quality[duck.quality.note == ""]
    assert len(modelled) >= 3 and len(duck.candidates) > 300
    pd.testing.assert_frame_equal(duck.quality, spark.quality, rtol=1e-9)
    pd.testing.assert_frame_equal(duck.candidates, spark.candidates, rtol=1e-9)


def test_blank_ids_and_edge_spaces_are_the_same(spark_store: Store, duckdb_store: Store) -> None:
    """Ids lose their edge whitespace, not their edge letters: Ibis's ``strip`` cut a
    leading or trailing v or f on PySpark (baskets.blank_to_null)."""
    ids = [" abf ", "\tvP1v\n", "\x0bP2\x0c", "  ", "", "fof", None]
    got = []
    for store in (duckdb_store, spark_store):
        t = stored(store, "blank_ids", pa.table({"k": range(len(ids)), "s": ids}))
        try:
            got.append(t.order_by("k").select(s=blank_to_null(t.s)).to_pandas().s.tolist())
        finally:
            store.drop("blank_ids")
    expected = ["abf", "vP1v", "P2", None, None, "fof", None]
    assert got[0] == got[1] == expected

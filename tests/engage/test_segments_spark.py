"""Segments give the same members on DuckDB and PySpark: the hand-built store's canonical
tables copied into the shared Spark store, a few segments evaluated on both (from the
canonical tables only: the shared Spark store's derived tables belong to other tests)."""

from __future__ import annotations

import pytest

from tenure import Store
from tenure.engage.segments import context, members
from tenure.engage.spec import parse_segment
from tests.conftest import copy_tables
from tests.engage.segkit import NOW

TABLES = (
    "customers",
    "orders",
    "order_items",
    "products",
    "fx_rates",
    "events",
    "identities",
    "consents",
    "suppressions",
    "feedback",
    "referrals",
    "flagged_values",
)
CONDITIONS = {
    "cart": "{event: Product Added, within: 1h, not_followed_by: Order Completed}",
    "shoes": "{event: Product Viewed, where: {category: shoes}, count: {ge: 3}, within: 7d}",
    "mixed": (
        "{any: [{field: status, in: [vip, at_risk]}, {field: traits.age, gt: 40}, "
        "{not: {field: email_subscribed, eq: true}}]}"
    ),
    "promoters": "{field: nps, ge: 9}",
}


def _members(store: Store) -> dict[str, set[str]]:
    ctx = context(store, NOW, built=False)
    out = {}
    for name, text in CONDITIONS.items():
        seg = parse_segment(f"name: {name}\ncondition: {text}\n", f"{name}.yaml")
        out[name] = set(members(ctx, seg).to_pandas()["person_id"])
    return out


@pytest.mark.spark
def test_duckdb_and_pyspark_agree(tiny: Store, spark_store: Store) -> None:
    copy_tables(tiny, spark_store, TABLES)
    duck = _members(tiny)
    assert {k: len(v) for k, v in duck.items()} == {
        "cart": 3,
        "shoes": 1,
        "mixed": 3,
        "promoters": 1,
    }
    assert _members(spark_store) == duck

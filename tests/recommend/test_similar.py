"""The next product per person (recommend.similar): similarity numbers, exact rankings,
consumables due and not due, the catalogue's flags, and the demo's companion products."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest

from tenure import Store
from tenure.errors import ConfigError
from tenure.recommend.baskets import purchase_lines
from tenure.recommend.similar import (
    catalogue_warnings,
    consumables,
    item_similarity,
    missing_from_catalogue,
    next_products,
)

START = datetime(2024, 1, 1, 10)
COLUMNS = ["person_id", "rank", "product_id", "score", "reason"]


#: The cosine over a month's window (item_similarity's defaults), which the hand-counted
#: examples below compute; next_products' own defaults are a year and alpha 0.8.
COSINE: dict[str, Any] = {"window_days": 30, "alpha": 0.5}


def lines_of(*orders: tuple[str, int, str]) -> ir.Table:
    """Purchase lines from (person, day, "product product ...") orders: one order each, on
    day ``day`` after 2024-01-01."""
    rows = [
        {
            "order_id": f"o{n}",
            "product_id": product,
            "person_id": person,
            "ordered_at": START + timedelta(days=day),
        }
        for n, (person, day, products) in enumerate(orders)
        for product in products.split()
    ]
    schema = {"order_id": "string", "product_id": "string", "person_id": "string"}
    return ibis.memtable(pd.DataFrame(rows), schema={**schema, "ordered_at": "timestamp"})


def catalogue(**flags: tuple[str | None, bool | None, int | None]) -> ir.Table:
    """products: product_id -> (title, active, inventory)."""
    frame = pd.DataFrame(
        [(p, t, a, i) for p, (t, a, i) in flags.items()],
        columns=["product_id", "title", "active", "inventory"],
    ).astype({"active": "object", "inventory": "Int64"})
    schema = {"product_id": "string", "title": "string", "active": "boolean", "inventory": "int64"}
    return ibis.memtable(frame, schema=schema)


def rows(t: ir.Table) -> list[tuple[object, ...]]:
    frame = t.to_pandas().sort_values(["person_id", "rank"])
    assert list(frame.columns) == COLUMNS
    return [
        (r.person_id, r.rank, r.product_id, round(r.score, 4), r.reason) for r in frame.itertuples()
    ]


# Shirts and ties: c1, c2 buy both in one order; c3 shirt + belt; c4 a shirt, then a belt
# 200 days later (outside the window: not together); c5 a tie, a belt 20 days later.
WARDROBE = (
    ("c1", 0, "shirt tie"),
    ("c2", 0, "shirt tie"),
    ("c3", 0, "shirt belt"),
    ("c4", 0, "shirt"),
    ("c4", 200, "belt"),
    ("c5", 10, "tie"),
    ("c5", 30, "belt"),
)


def test_similarity_is_cosine_over_buyers_within_the_window() -> None:
    sim = item_similarity(lines_of(*WARDROBE), window_days=30, min_together=1).to_pandas()
    got = {
        (r.product_id, r.other_id): (r.together, r.product_buyers, r.other_buyers, r.similarity)
        for r in sim.itertuples()
    }
    # buyers: shirt 4 (c1-c4), tie 3 (c1, c2, c5), belt 3 (c3, c4, c5)
    assert got == {
        ("shirt", "tie"): (2, 4, 3, pytest.approx(2 / math.sqrt(12))),
        ("tie", "shirt"): (2, 3, 4, pytest.approx(2 / math.sqrt(12))),
        ("shirt", "belt"): (1, 4, 3, pytest.approx(1 / math.sqrt(12))),
        ("belt", "shirt"): (1, 3, 4, pytest.approx(1 / math.sqrt(12))),
        ("tie", "belt"): (1, 3, 3, pytest.approx(1 / 3)),
        ("belt", "tie"): (1, 3, 3, pytest.approx(1 / 3)),
    }
    # alpha 1: the share of the product's buyers who bought the other
    share = item_similarity(lines_of(*WARDROBE), min_together=1, alpha=1.0).to_pandas()
    got = {(r.product_id, r.other_id): r.similarity for r in share.itertuples()}
    assert got[("shirt", "tie")] == pytest.approx(2 / 4)
    assert got[("tie", "shirt")] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="'alpha' parameter of item_similarity"):
        item_similarity(lines_of(*WARDROBE), alpha=1.5)
    # a wider window counts c4's belt too; min_together drops pairs of one person
    wide = item_similarity(lines_of(*WARDROBE), window_days=365, min_together=2).to_pandas()
    assert sorted(zip(wide.product_id, wide.other_id, wide.together, strict=True)) == [
        ("belt", "shirt", 2),
        ("shirt", "belt", 2),
        ("shirt", "tie", 2),
        ("tie", "shirt", 2),
    ]


def test_a_buyer_of_too_many_products_is_left_out_of_the_counts() -> None:
    reseller = lines_of(*WARDROBE, ("w", 0, "shirt tie belt"))
    keys = ["product_id", "other_id"]
    without = item_similarity(lines_of(*WARDROBE), min_together=1).to_pandas()
    capped = item_similarity(reseller, min_together=1, max_products=2).to_pandas()
    pd.testing.assert_frame_equal(
        capped.sort_values(keys).reset_index(drop=True),
        without.sort_values(keys).reset_index(drop=True),
    )
    counted = (
        item_similarity(reseller, min_together=1).to_pandas().set_index(["product_id", "other_id"])
    )
    assert counted.loc[("shirt", "tie"), ["together", "product_buyers"]].tolist() == [3, 5]


def test_next_products_rank_by_summed_similarity_with_reasons() -> None:
    lines = lines_of(*WARDROBE)
    got = next_products(
        lines, as_of=date(2024, 7, 31), min_together=1, half_life_days=1e9, fill=False, **COSINE
    )
    s12, s9 = 2 / math.sqrt(12), 1 / math.sqrt(12)
    assert rows(got) == [
        ("c1", 1, "belt", round(s9 + 1 / 3, 4), "bought with tie by 1 customer"),
        ("c2", 1, "belt", round(s9 + 1 / 3, 4), "bought with tie by 1 customer"),
        ("c3", 1, "tie", round(s12 + 1 / 3, 4), "bought with shirt by 2 customers"),
        ("c4", 1, "tie", round(s12 + 1 / 3, 4), "bought with shirt by 2 customers"),
        ("c5", 1, "shirt", round(s12 + s9, 4), "bought with tie by 2 customers"),
    ]


def test_titles_name_products_and_recent_purchases_weigh_more() -> None:
    """c9 bought a tie long ago and a belt lately: the belt's neighbour wins."""
    lines = lines_of(*WARDROBE, ("c9", 0, "tie"), ("c9", 170, "belt"))
    products = catalogue(
        shirt=("Linen Shirt", True, 5), tie=("Silk Tie", None, None), belt=(None, True, 1)
    )
    got = next_products(lines, as_of=date(2024, 7, 1), products=products, min_together=1)
    mine = [r for r in rows(got) if r[0] == "c9"]
    assert [(r[1], r[2], r[4]) for r in mine] == [(1, "shirt", "bought with belt by 1 customer")]
    c5 = [r for r in rows(got) if r[0] == "c5"]
    assert c5[0][4] == "bought with Silk Tie by 2 customers"


def test_what_was_bought_is_not_recommended_and_short_lists_get_best_sellers() -> None:
    got = rows(
        next_products(lines_of(*WARDROBE), as_of=date(2024, 7, 31), min_together=2, **COSINE)
    )
    fill = "best-seller, bought by {} customers (too little history for more)"
    assert got == [
        ("c1", 1, "belt", 3.0, fill.format(3)),
        ("c2", 1, "belt", 3.0, fill.format(3)),
        (
            "c3",
            1,
            "tie",
            round(2 / math.sqrt(12) * 0.5 ** (212 / 180), 4),
            "bought with shirt by 2 customers",
        ),
        (
            "c4",
            1,
            "tie",
            round(2 / math.sqrt(12) * 0.5 ** (212 / 180), 4),
            "bought with shirt by 2 customers",
        ),
        (
            "c5",
            1,
            "shirt",
            round(2 / math.sqrt(12) * 0.5 ** (202 / 180), 4),
            "bought with tie by 2 customers",
        ),
    ]
    for person, products in {"c1": "shirt tie", "c3": "shirt belt", "c5": "tie belt"}.items():
        assert not {r[2] for r in got if r[0] == person} & set(products.split())


# Coffee every 30 days by five buyers (days 0, 30, 60); c6 bought it once.
COFFEE = (
    *((f"c{n}", day + n, "coffee") for n in range(1, 6) for day in (0, 30, 60)),
    ("c6", 60, "coffee"),
    ("c6", 60, "mug"),
)


def test_consumables_are_bought_again_by_a_share_of_their_buyers() -> None:
    got = consumables(lines_of(*COFFEE), min_buyers=5, min_repeat_share=0.5).to_pandas()
    assert got.to_dict("records") == [
        {
            "product_id": "coffee",
            "buyers": 6,
            "repeat_buyers": 5,
            "repeat_share": pytest.approx(5 / 6),
            "median_days": 30.0,
        }
    ]
    assert consumables(lines_of(*COFFEE), min_buyers=7).count().execute() == 0


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2024, 3, 10), []),  # c1's last coffee (day 61) 8 days ago: not due
        (date(2024, 4, 5), [("c1", "you buy it about every 30 days; last bought 34 days ago")]),
        (date(2024, 4, 30), [("c1", "you buy it about every 30 days; last bought 59 days ago")]),
        (date(2024, 7, 1), []),  # 121 days: more than 3 rhythms, lapsed
    ],
)
def test_a_consumable_is_recommended_again_when_due(
    as_of: date, expected: list[tuple[str, str]]
) -> None:
    got = next_products(lines_of(*COFFEE), as_of=as_of, min_together=1, fill=False).to_pandas()
    got = got[(got.person_id == "c1") & (got.product_id == "coffee")]
    assert [(r.person_id, r.reason) for r in got.itertuples()] == expected
    if expected:
        assert got["rank"].tolist() == [1]  # due reorders come first
        assert got.score.tolist() == [pytest.approx(5 / 6)]  # the share who buy it again


def test_a_one_time_buyer_is_due_on_the_products_rhythm() -> None:
    got = next_products(lines_of(*COFFEE), as_of=date(2024, 4, 5), fill=False).to_pandas()
    c6 = got[got.person_id == "c6"]
    assert [(r.rank, r.product_id, r.reason) for r in c6.itertuples()] == [
        (1, "coffee", "its buyers buy it again about every 30 days; last bought 35 days ago")
    ]


def test_inactive_and_out_of_stock_products_are_never_recommended() -> None:
    lines = lines_of(*WARDROBE, *COFFEE)
    products = catalogue(
        shirt=("Linen Shirt", True, None),
        tie=("Silk Tie", False, 8),  # inactive
        belt=("Belt", True, 0),  # out of stock
        coffee=("Coffee", None, -1),  # oversold
        mug=("Mug", None, None),
    )
    got = next_products(lines, as_of=date(2024, 4, 5), products=products).to_pandas()
    assert set(got.product_id) == {"shirt", "mug"}
    free = next_products(lines, as_of=date(2024, 4, 5)).to_pandas()
    assert set(free.product_id) == {"shirt", "tie", "belt", "coffee", "mug"}


def test_products_missing_from_the_catalogue_are_counted_not_recommended() -> None:
    lines = lines_of(*WARDROBE)
    products = catalogue(shirt=("Linen Shirt", True, 3), tie=("Silk Tie", True, 3))
    missing = missing_from_catalogue(lines, products).to_pandas()
    assert missing.to_dict("records") == [{"product_id": "belt", "lines": 3}]
    got = next_products(lines, as_of=date(2024, 7, 31), products=products, min_together=1)
    assert "belt" not in set(got.to_pandas().product_id)
    assert catalogue_warnings(lines, products) == [
        "1 product bought (3 purchase lines) not in the catalogue, e.g. belt: not recommended "
        "until the catalogue lists them"
    ]
    flagged = catalogue(
        shirt=("Linen Shirt", False, 3), tie=("Silk Tie", True, 0), belt=(None, None, None)
    )
    assert catalogue_warnings(lines, flagged) == [
        "2 catalogue products inactive or out of stock: never recommended"
    ]
    # an empty catalogue says nothing: every product may be recommended
    empty = catalogue().filter(ibis.literal(False))
    got = next_products(lines, as_of=date(2024, 7, 31), products=empty, min_together=1)
    assert "belt" in set(got.to_pandas().product_id)
    assert catalogue_warnings(lines, empty) == catalogue_warnings(lines, None) == []


def test_one_customer_one_product_and_no_lines_give_empty_tables() -> None:
    one_customer = lines_of(("c1", 0, "shirt tie"), ("c1", 3, "belt"))
    one_product = lines_of(("c1", 0, "mug"), ("c2", 4, "mug"), ("c3", 9, "mug"))
    nothing = lines_of(("c1", 0, "mug")).filter(ibis.literal(False))
    for lines in (one_customer, one_product, nothing):
        got = next_products(lines, as_of=date(2024, 3, 1)).to_pandas()
        assert list(got.columns) == COLUMNS
        assert got.empty
    assert item_similarity(one_product, min_together=1).count().execute() == 0


def test_single_item_orders_of_one_time_buyers_get_best_sellers_only() -> None:
    lines = lines_of(("a", 0, "mug"), ("b", 1, "mug"), ("c", 2, "tin"), ("d", 3, "cup"))
    assert item_similarity(lines, min_together=1).count().execute() == 0
    got = rows(next_products(lines, as_of=date(2024, 2, 1), top=2))
    fill = "best-seller, bought by {} (too little history for more)"
    assert got == [
        ("a", 1, "cup", 1.0, fill.format("1 customer")),
        ("a", 2, "tin", 1.0, fill.format("1 customer")),
        ("b", 1, "cup", 1.0, fill.format("1 customer")),
        ("b", 2, "tin", 1.0, fill.format("1 customer")),
        ("c", 1, "mug", 2.0, fill.format("2 customers")),
        ("c", 2, "cup", 1.0, fill.format("1 customer")),
        ("d", 1, "mug", 2.0, fill.format("2 customers")),
        ("d", 2, "tin", 1.0, fill.format("1 customer")),
    ]


def test_no_churn_the_same_lines_give_the_same_lists() -> None:
    lines = lines_of(*WARDROBE, *COFFEE)
    first, again = (
        rows(next_products(lines, as_of=date(2024, 4, 5), min_together=1)) for _ in range(2)
    )
    assert first == again and len(first) > 10


def test_lines_after_as_of_are_not_read() -> None:
    lines = lines_of(*WARDROBE)
    early = next_products(lines, as_of=date(2024, 1, 5), min_together=1, fill=False)
    # by Jan 5 only the orders of day 0 exist: c5 has bought nothing yet
    assert sorted({r[0] for r in rows(early)}) == ["c1", "c2", "c3", "c4"]


def test_only_top_products_per_person_ranked_from_one() -> None:
    many = (*((f"c{n}", 0, "a b c d e") for n in range(3)), ("c9", 0, "a"))
    got = next_products(lines_of(*many), as_of=date(2024, 2, 1), top=2).to_pandas()
    c9 = got[got.person_id == "c9"].sort_values("rank")
    assert c9["rank"].tolist() == [1, 2]
    assert c9.product_id.tolist() == ["b", "c"]  # equal scores: by product id
    with pytest.raises(ConfigError, match="'top' parameter of next_products"):
        next_products(lines_of(*many), as_of=date(2024, 2, 1), top=0)


def test_demo_companions_are_among_the_most_similar(demo_url: str) -> None:
    """The demo puts each product's companion (demo/catalog.py) in ~35% of its orders: for
    the 20 best-selling products it is among the 3 most similar in 15 (measured; 17 in a
    demo without tastes: with them an order's other products lean to the buyer's category,
    whose products compete with the companion)."""
    from tenure.demo.catalog import make_catalog

    catalog = make_catalog(np.random.default_rng([7, 0]))  # the demo's seed 7
    companion = {f"P{i:04d}": f"P{c:04d}" for i, c in enumerate(catalog.companion)}
    with Store(demo_url, read_only=True) as store:
        lines = purchase_lines(store)
        sim = item_similarity(lines, neighbours=3).to_pandas()
        buyers = lines.group_by("product_id").agg(n=lines.person_id.nunique()).to_pandas()
    best = buyers.sort_values(["n", "product_id"], ascending=[False, True]).product_id[:20]
    found = [p for p in best if companion[p] in set(sim[sim.product_id == p].other_id)]
    assert len(found) >= 15

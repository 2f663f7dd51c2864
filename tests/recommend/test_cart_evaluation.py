"""Completing a cart, evaluated as it answers (recommend.cart_evaluation): the sampled carts,
the baskets holding each, and complete_basket's two paths against the pair ranking."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd
import pytest

from tenure.errors import ConfigError
from tenure.recommend import cart_evaluation as C
from tenure.recommend import evaluate as E
from tenure.recommend import rules
from tests.recommend.conftest import DOC


def test_holding_counts_on_hand_made_baskets() -> None:
    """Baskets holding every known cart item; items no basket holds are left out (as
    complete_basket leaves them out), and baskets over the cap are not counted."""
    rows = [("1", "a"), ("1", "b"), ("2", "a"), ("2", "b"), ("2", "c"), ("3", "a")]
    rows += [("4", p) for p in "abcd"]
    train = pd.DataFrame(rows, columns=["order_id", "product_id"])
    carts = [["a", "b"], ["a"], ["a", "zzz"], ["zzz"], ["b", "c"]]
    assert C.holding_counts(train, carts).tolist() == [3, 4, 4, 0, 2]
    assert C.holding_counts(train, carts, max_basket=3).tolist() == [2, 3, 3, 0, 1]


def test_sampled_carts_are_hide_one_cases_of_two_items_or_more(groceries: pd.DataFrame) -> None:
    sample = C.sample_carts(groceries, cases=23, seed=0)
    assert len(sample) == 25 and (sample.groupby("fold").size() == 5).all()  # ceil(23 / 5)
    assert (sample["cart"].map(len) >= 2).all()
    baskets = groceries.groupby("order_id")["product_id"].agg(lambda s: sorted(map(str, s)))
    for row in sample.itertuples():
        assert sorted([*row.cart, row.hidden]) == baskets[row.order_id]
    assert C.sample_carts(groceries, cases=23, seed=0).equals(sample)
    common = C.sample_carts(groceries, cases=10, seed=0, min_holding=20)
    assert len(common) == 10 and (common["holding"] >= 20).all()
    line_fold, _ = E.line_folds(groceries)
    for fold, carts in common.groupby("fold"):
        train = groceries[line_fold != fold]
        assert C.holding_counts(train, list(carts["cart"])).tolist() == carts.holding.tolist()
    with pytest.raises(ConfigError, match="'cases' and 'min_cart'"):
        C.sample_carts(groceries, cases=0)


def test_complete_basket_uses_exact_rules_where_the_cart_is_common(
    groceries: pd.DataFrame,
) -> None:
    """20 groceries carts: complete_basket takes the exact rule exactly where 20 or more
    training baskets hold the whole cart (its own decision, read from its notes), and
    elsewhere ranks from the pairs: there it finds the hidden item where rank_from_pairs
    finds it, at the same rank."""
    decided: dict[tuple[str, ...], bool] = {}

    def complete(lines: ir.Table, cart: list[str], top: int) -> pd.DataFrame:
        frame = rules.complete_basket(lines, cart, top=top, unknown="ignore")
        decided[tuple(cart)] = not any("hold the whole cart" in n for n in frame.attrs["notes"])
        return frame

    r = C.groceries_cart_rules(groceries, cases=20, complete=complete, method="normal")
    per = r.per_cart
    assert r.cases == len(per) == 20 and 0 < r.exact < 20
    assert [decided[tuple(c)] for c in per["cart"]] == per["exact"].tolist()
    assert (per["exact"] == (per["holding"] >= 20)).all()
    fallback = per[~per["exact"]]
    assert (fallback["complete"] == fallback["pairs"]).all()
    assert r.complete.hit_rate.popularity.value == r.pairs.hit_rate.popularity.value
    assert r.versus.mrr.recommender.value == pytest.approx(per["complete"].mean())
    assert r.exact_versus.cases == r.exact
    table = C.cart_rules_table(r).splitlines()
    assert len(table) == 6 and table[2].startswith("| all 20 | hit rate@10 |")
    assert table[4].startswith(f"| {r.exact} with 20+ baskets holding the whole cart | hit rate")


def test_the_cart_evaluation_is_documented_with_its_command() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert "python bench/eval_recommendations.py" in doc
    assert C.HEADER in doc and "--cart-cases" in doc

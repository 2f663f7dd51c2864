"""Pairs, association rules and cart completion, pinned to the groceries reference figures
(Hahsler, Hornik & Reutterer 2006; tests/fixtures/groceries/README.md) and to a brute-force
count on small random baskets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import combinations

import ibis.expr.types as ir
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.errors import ConfigError, NotFoundError
from tenure.recommend.baskets import basket_summary, baskets_table, read_basket_file
from tenure.recommend.rules import (
    CART_COLUMNS,
    PAIR_COLUMNS,
    RULE_COLUMNS,
    association_rules,
    complete_basket,
    counted_baskets,
    pair_reason,
    product_pairs,
    rank_from_pairs,
)
from tests.conftest import FIXTURES, examples

GROCERIES = FIXTURES / "groceries" / "groceries.csv"


@pytest.fixture(scope="module")
def memory() -> Iterator[Store]:
    with Store("duckdb://:memory:") as store:
        yield store


@pytest.fixture(scope="module")
def groceries(memory: Store) -> ir.Table:
    return memory.upload("groceries_lines", read_basket_file(GROCERIES))


@pytest.fixture(scope="module")
def groceries_pairs(groceries: ir.Table) -> pd.DataFrame:
    return product_pairs(groceries).to_pandas()


def test_groceries_item_support(groceries: ir.Table, groceries_pairs: pd.DataFrame) -> None:
    """'whole milk' is in 2,513 of the 9,835 baskets (support 0.2555)."""
    summary = basket_summary(groceries)
    assert (summary.baskets, summary.lines, summary.products) == (9835, 43367, 169)
    assert summary.warnings == []
    milk = groceries_pairs[groceries_pairs.product_id == "whole milk"].iloc[0]
    assert (milk.product_orders, milk.baskets) == (2513, 9835)
    assert round(milk.product_orders / milk.baskets, 4) == 0.2555


def test_groceries_most_frequent_pair(groceries_pairs: pd.DataFrame) -> None:
    """The most frequent pair is {other vegetables, whole milk}, in 736 baskets, in both
    directions with the same support and lift."""
    assert list(groceries_pairs.columns) == list(PAIR_COLUMNS)
    top = groceries_pairs.sort_values(["together", "product_id"], ascending=[False, True])
    first, second = top.iloc[0], top.iloc[1]
    assert (first.product_id, first.other_id, first.together) == (
        "other vegetables",
        "whole milk",
        736,
    )
    assert (second.product_id, second.other_id, second.together) == (
        "whole milk",
        "other vegetables",
        736,
    )
    assert round(first.support, 4) == 0.0748
    assert round(first.confidence, 4) == 0.3868  # 736 / 1,903 baskets with other vegetables
    assert round(second.confidence, 4) == 0.2929  # 736 / 2,513 with whole milk
    assert first.lift == pytest.approx(second.lift, rel=1e-12)
    assert (groceries_pairs.together >= 2).all()


def test_groceries_rule(groceries: ir.Table) -> None:
    """{other vegetables, yogurt} -> {whole milk}: support 0.0223, confidence 0.513, lift
    2.007; and arules' ``apriori(Groceries, parameter = list(supp = 0.01, conf = 0.5))``
    finds 15 rules, all of three items."""
    rules = association_rules(groceries, min_support=0.01, min_confidence=0.5).to_pandas()
    assert list(rules.columns) == list(RULE_COLUMNS)
    assert len(rules) == 15 and set(rules["size"]) == {3}
    assert set(rules.consequent) == {"whole milk", "other vegetables"}
    rule = rules[rules.rule == "{other vegetables, yogurt} -> {whole milk}"].iloc[0]
    assert list(rule.antecedent) == ["other vegetables", "yogurt"]
    assert (rule.together, rule.antecedent_orders, rule.consequent_orders) == (219, 427, 2513)
    assert round(rule.support, 4) == 0.0223
    assert round(rule.confidence, 3) == 0.513
    assert round(rule.lift, 3) == 2.007


def test_groceries_pair_rules(groceries: ir.Table) -> None:
    """Rules of two items: every frequent pair's both directions above the confidence."""
    rules = association_rules(groceries, min_support=0.02, min_confidence=0.3, max_len=2)
    frame = rules.to_pandas()
    assert set(frame["size"]) == {2}
    milk = frame[frame.rule == "{other vegetables} -> {whole milk}"].iloc[0]
    assert (milk.together, milk.antecedent_orders, milk.consequent_orders) == (736, 1903, 2513)
    assert (frame.support >= 0.02).all() and (frame.confidence >= 0.3).all()
    # the rules are the pairs' rows that pass both thresholds
    pairs = product_pairs(groceries).to_pandas()
    kept = pairs[(pairs.together >= 0.02 * 9835) & (pairs.confidence >= 0.3)]
    assert len(kept) == len(frame)


def sorted_rows(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows in one order, array cells as tuples (comparable with ``assert_frame_equal``)."""
    frame = frame.copy()
    if "antecedent" in frame:
        frame["antecedent"] = frame["antecedent"].map(tuple)
    return frame.sort_values(keys).reset_index(drop=True)


def test_counted_baskets_give_the_same_rows(
    groceries: ir.Table, groceries_pairs: pd.DataFrame
) -> None:
    """Pairs and rules from the baskets counted once are row for row those from the lines
    (the same floats too: the same counts divided the same way)."""
    alone = association_rules(groceries, min_support=0.005, min_confidence=0.3).to_pandas()
    with counted_baskets(groceries) as counted:
        pairs = product_pairs(counted).to_pandas()
        rules = association_rules(counted, min_support=0.005, min_confidence=0.3).to_pandas()
        pairs_2 = product_pairs(counted, min_together=50, max_basket=50).count().execute()
    assert list(pairs.columns) == list(PAIR_COLUMNS) and list(rules.columns) == list(RULE_COLUMNS)
    keys = ["product_id", "other_id"]
    pd.testing.assert_frame_equal(sorted_rows(pairs, keys), sorted_rows(groceries_pairs, keys))
    assert len(rules) == len(alone) > 100
    pd.testing.assert_frame_equal(sorted_rows(rules, ["rule"]), sorted_rows(alone, ["rule"]))
    assert pairs_2 == product_pairs(groceries, min_together=50).count().execute()


def test_counted_baskets_cap(memory: Store) -> None:
    """Counted baskets keep the cap they were counted with: huge baskets out of N and the
    pairs, single-product baskets in N; another max_basket is an error, not ignored."""
    baskets = [["a", "b"], ["a", "b", "c"], ["c"], [f"x{i}" for i in range(10)] + ["a", "b"]]
    lines = memory.upload("capped_counted", baskets_table(baskets))
    with counted_baskets(lines, max_basket=5) as counted:
        pairs = product_pairs(counted, min_together=1).to_pandas()
        rules = association_rules(counted, min_support=0.5, min_confidence=0).to_pandas()
        with pytest.raises(ConfigError, match="cap the baskets were counted with"):
            product_pairs(counted, max_basket=50)
    want = product_pairs(lines, min_together=1, max_basket=5).to_pandas()
    keys = ["product_id", "other_id"]
    pd.testing.assert_frame_equal(sorted_rows(pairs, keys), sorted_rows(want, keys))
    assert set(pairs.baskets) == {3}
    assert sorted(rules.rule) == ["{a} -> {b}", "{b} -> {a}"]


def test_groceries_complete_basket(groceries: ir.Table) -> None:
    """The exact rule {cart} -> {x} from the 427 baskets holding the whole cart."""
    out = complete_basket(groceries, ["yogurt", "other vegetables"], top=3)
    assert list(out.columns) == list(CART_COLUMNS)
    assert out.attrs["notes"] == []
    first = out.iloc[0]
    assert (first["rank"], first.product_id, first.together) == (1, "whole milk", 219)
    assert round(first.support, 4) == 0.0223
    assert round(first.confidence, 3) == 0.513
    assert round(first.lift, 3) == 2.007
    assert first.rule == "{other vegetables, yogurt} -> {whole milk}"
    assert first.reason == "bought together in 219 orders, lift 2.0"
    assert list(out.product_id) == ["whole milk", "root vegetables", "tropical fruit"]


def test_complete_basket_falls_back_to_pairs(groceries: ir.Table) -> None:
    """Too few baskets hold the whole cart: a ranking from each cart item's pair rules,
    scored by the sum of their confidences, each shown with its strongest rule."""
    out = complete_basket(groceries, ["yogurt", "rum"], top=3)
    assert out.attrs["notes"] == [
        "4 basket(s) hold the whole cart (fewer than 20): ranked from the pair rules of each "
        "cart item."
    ]
    assert list(out.product_id) == ["whole milk", "other vegetables", "rolls/buns"]
    milk = out.iloc[0]
    assert milk.rule == "{yogurt} -> {whole milk}"
    assert milk.reason == "bought together in 551 orders, lift 1.6"
    assert milk.score == pytest.approx(551 / 1372 + 17 / 44)
    pairs = product_pairs(groceries).to_pandas()
    same = rank_from_pairs(pairs, ["rum", "yogurt"], top=3)
    pd.testing.assert_frame_equal(same, out)


def test_complete_basket_unknown_product(groceries: ir.Table) -> None:
    """A cart product no basket holds: an error naming it and close matches, or (asked
    for) an answer from the known products with a note."""
    with pytest.raises(NotFoundError) as caught:
        complete_basket(groceries, ["whole milk", "yoghurt"])
    assert "'yoghurt' (close: 'yogurt'" in caught.value.message
    out = complete_basket(groceries, ["yogurt", "yoghurt"], unknown="ignore", top=1)
    assert out.attrs["notes"] == ["No basket holds yoghurt: left out of the cart."]
    assert out.product_id.tolist() == ["whole milk"]
    empty = complete_basket(groceries, ["caviar"], unknown="ignore")
    assert empty.empty and list(empty.columns) == list(CART_COLUMNS)
    with pytest.raises(ConfigError, match="The cart is empty"):
        complete_basket(groceries, [" "])
    with pytest.raises(ConfigError, match="'unknown' parameter"):
        complete_basket(groceries, ["yogurt"], unknown="skip")


def test_pair_reason() -> None:
    assert pair_reason(212, 3.14159) == "bought together in 212 orders, lift 3.1"
    assert pair_reason(1, 0.5) == "bought together in 1 order, lift 0.5"
    assert pair_reason(12345, None) == "bought together in 12,345 orders"
    assert pair_reason(3, float("nan")) == "bought together in 3 orders"


def test_bad_parameters(groceries: ir.Table) -> None:
    with pytest.raises(ConfigError, match="'min_support' parameter"):
        association_rules(groceries, min_support=0)
    with pytest.raises(ConfigError, match="'min_confidence' parameter"):
        association_rules(groceries, min_support=0.1, min_confidence=1.5)
    with pytest.raises(ConfigError, match="'max_len' parameter must be 2 or 3"):
        association_rules(groceries, min_support=0.1, max_len=4)
    with pytest.raises(ConfigError, match="'max_basket' parameter"):
        product_pairs(groceries, max_basket=1)
    with pytest.raises(ConfigError, match="'min_together' parameter"):
        product_pairs(groceries, min_together=0)


def test_max_basket_leaves_huge_baskets_out(memory: Store) -> None:
    """A basket larger than the cap counts nowhere: not in the pairs, not in the products'
    orders, not in N; the summary says how many were left out."""
    baskets = [["a", "b"], ["a", "b"], ["a", "c"], [f"x{i}" for i in range(10)] + ["a", "b"]]
    lines = memory.upload("capped", baskets_table(baskets))
    pairs = product_pairs(lines, min_together=1, max_basket=5).to_pandas()
    ab = pairs[(pairs.product_id == "a") & (pairs.other_id == "b")].iloc[0]
    assert (ab.together, ab.product_orders, ab.other_orders, ab.baskets) == (2, 3, 2, 3)
    assert set(pairs.product_id) == {"a", "b", "c"}
    summary = basket_summary(lines, max_basket=5)
    assert (summary.capped, summary.largest) == (1, 12)
    assert summary.warnings == [
        "1 basket(s) of more than 5 products (the largest has 12) are left out of pairs and "
        "rules, so that a few huge orders do not dominate them (raise max_basket to count them)."
    ]
    uncapped = product_pairs(lines, min_together=1).to_pandas()
    assert uncapped.baskets.iloc[0] == 4


def test_no_multi_item_basket(memory: Store) -> None:
    """Only single-product baskets: empty pairs and rules, a message, no error; the cart
    completion of a known product is empty with a note."""
    lines = memory.upload("singles", baskets_table([["a"], ["b"], ["a"]]))
    assert product_pairs(lines).count().execute() == 0
    assert association_rules(lines, min_support=0.1, min_confidence=0).count().execute() == 0
    summary = basket_summary(lines)
    assert summary.multi_item == 0
    assert summary.warnings[0].startswith("None of the 3 baskets holds two or more")
    out = complete_basket(lines, ["a"])
    assert out.empty
    assert out.attrs["notes"] == [
        "2 basket(s) hold the whole cart (fewer than 20): ranked from the pair rules of each "
        "cart item.",
        "No pair holds a.",
    ]


def brute_force(baskets: list[list[str]]) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    items: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for basket in baskets:
        distinct = sorted(set(basket))
        items.update(distinct)
        pairs.update(combinations(distinct, 2))
    return items, pairs


BASKETS = st.lists(
    st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=6), min_size=1, max_size=25
)


@examples(60)
def test_pairs_match_a_brute_force_count(memory: Store, examples: int) -> None:
    """On random small baskets: the counts are a brute-force Python count's; confidence is
    in [0, 1]; support and lift are symmetric; support(A, B) <= min(support A, support B);
    rules of two items are the pairs' rows."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(baskets=BASKETS)
    def check(baskets: list[list[str]]) -> None:
        lines = memory.upload("random_baskets", baskets_table(baskets))
        frame = product_pairs(lines, min_together=1).to_pandas()
        items, pairs = brute_force(baskets)
        got = {(r.product_id, r.other_id): r.together for r in frame.itertuples()}
        want = {**pairs, **{(b, a): n for (a, b), n in pairs.items()}}
        assert got == want
        n = len(baskets)
        for r in frame.itertuples():
            assert (r.product_orders, r.other_orders, r.baskets) == (
                items[r.product_id],
                items[r.other_id],
                n,
            )
            assert 0 <= r.confidence <= 1
            assert r.support <= min(items[r.product_id], items[r.other_id]) / n
            back = frame[(frame.product_id == r.other_id) & (frame.other_id == r.product_id)]
            assert back.lift.iloc[0] == pytest.approx(r.lift, rel=1e-12)
            assert back.support.iloc[0] == r.support
        rules = association_rules(lines, min_support=1 / n, min_confidence=0, max_len=3)
        rules_frame = rules.to_pandas()
        assert len(rules_frame[rules_frame["size"] == 2]) == len(frame)
        triples: Counter[tuple[str, ...]] = Counter()
        for basket in baskets:
            triples.update(combinations(sorted(set(basket)), 3))
        three = rules_frame[rules_frame["size"] == 3]
        assert len(three) == 3 * len(triples)
        for r in three.itertuples():
            assert r.together == triples[tuple(sorted([*r.antecedent, r.consequent]))]
        assert (rules_frame.confidence.between(0, 1)).all()

    check()


def test_support_threshold_is_the_float_given(memory: Store) -> None:
    """An itemset whose support equals min_support is kept: 1 basket in 11 at 1/11 (read as
    a DECIMAL literal, the threshold came out a hair above and the rule was lost)."""
    lines = memory.upload("eleven", baskets_table([["a"]] * 10 + [["a", "b"]]))
    rules = association_rules(lines, min_support=1 / 11, min_confidence=1 / 11).to_pandas()
    assert sorted(rules.rule) == ["{a} -> {b}", "{b} -> {a}"]

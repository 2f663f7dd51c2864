"""The evaluation's metrics, intervals and case making, on hand-made cases (exact values)."""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.demo import params as P
from tenure.demo.catalog import make_catalog
from tenure.demo.truth import catalog_rows
from tenure.errors import ConfigError
from tenure.recommend import evaluate as E

GROCERIES = Path(__file__).parents[1] / "fixtures" / "groceries" / "groceries.csv"


def test_reciprocal_ranks_hit_rate_and_mrr_on_hand_made_cases() -> None:
    ranked = [["a", "b", "c"], ["x", "y"], ["p"], [], ["m", "n", "o"]]
    targets = [{"b"}, {"z"}, {"p", "q"}, {"a"}, {"o", "n"}]
    rr = E.reciprocal_ranks(ranked, targets, k=10)
    assert rr.tolist() == [0.5, 0.0, 1.0, 0.0, 0.5]  # the first target found counts
    assert (rr > 0).mean() == 0.6 and rr.mean() == 0.4
    assert E.reciprocal_ranks(ranked, targets, k=1).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    e = E.evaluation("hand", rr, E.reciprocal_ranks(ranked, targets, k=1), k=10, method="normal")
    assert e.cases == 5 and e.hit_rate.recommender.value == 0.6 and e.mrr.recommender.value == 0.4
    assert e.hit_rate.popularity.value == 0.2
    assert e.hit_rate.difference.value == pytest.approx(0.4)
    with pytest.raises(ConfigError, match="2 rankings for 1 target"):
        E.reciprocal_ranks([[], []], [set()])


def test_normal_interval_is_mean_plus_minus_z_standard_error() -> None:
    a = np.array([1.0, 0.0, 1.0, 1.0])
    b = np.array([0.0, 0.0, 1.0, 0.0])
    ia, ib, diff = E.paired_intervals(a, b, method="normal")
    assert ia.value == 0.75 and ib.value == 0.25 and diff.value == 0.5
    half = 1.959964 * np.std(a, ddof=1) / 2
    assert (ia.low, ia.high) == pytest.approx((0.75 - half, 0.75 + half), abs=1e-6)
    half = 1.959964 * np.std(a - b, ddof=1) / 2  # paired: the sd of the differences
    assert (diff.low, diff.high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-6)


def test_bootstrap_is_seeded_and_paired() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(size=300)
    one = E.paired_intervals(a, a * 0.5, seed=3, resamples=500)
    assert one == E.paired_intervals(a, a * 0.5, seed=3, resamples=500)
    assert one != E.paired_intervals(a, a * 0.5, seed=4, resamples=500)
    same = E.paired_intervals(a, a, seed=3, resamples=500)[2]
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)  # same draws for both
    assert one[0].low < a.mean() < one[0].high
    empty = E.paired_intervals(np.array([]), np.array([]))[0]
    assert np.isnan(empty.value)
    with pytest.raises(ConfigError, match="'method' parameter"):
        E.paired_intervals(a, a, method="exact")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "trials", "resamples"), [("normal", 400, 0), ("bootstrap", 150, 400)]
)
def test_intervals_cover_the_true_rate_about_95_percent_of_the_time(
    method: E.Method, trials: int, resamples: int
) -> None:
    """Hits of rate 0.3 against 0.2 (independent), 300 cases a trial: the hit rate's and the
    difference's intervals hold the truth in about 95% of the trials (binomial sd of the
    coverage ~1.1-1.8 points)."""
    rng = np.random.default_rng(11)
    covered = np.zeros(2)
    for trial in range(trials):
        a = (rng.uniform(size=300) < 0.3).astype(float)
        b = (rng.uniform(size=300) < 0.2).astype(float)
        kw = {"resamples": resamples, "seed": trial} if resamples else {}
        ia, _, diff = E.paired_intervals(a, b, method=method, **kw)
        covered += [ia.covers(0.3), diff.covers(0.1)]
    coverage = covered / trials
    assert ((coverage > 0.90) & (coverage < 0.99)).all(), coverage


def test_popularity_ranks_best_sellers_not_seen() -> None:
    lines = pd.DataFrame(
        {
            "order_id": ["1", "1", "2", "2", "2", "3", "3"],
            "product_id": ["a", "b", "a", "c", "c", "b", "a"],
        }
    )
    ranking = E.best_sellers(lines)
    assert ranking == ["a", "b", "c"]  # c twice in one order counts once
    assert E.popular_unseen(ranking, {"a"}, 1) == ["b"]
    assert E.popular_unseen(ranking, set(), 10) == ["a", "b", "c"]


def test_hide_one_keeps_multi_item_baskets_and_is_seeded() -> None:
    lines = pd.DataFrame(
        {
            "order_id": ["1", "1", "1", "2", "3", "3", "3"],
            "product_id": ["c", "a", "b", "a", "x", "x", None],
        }
    )
    cases = E.hide_one(lines, seed=5)
    assert cases["order_id"].tolist() == ["1"]  # 2: one item; 3: one distinct known item
    row = cases.iloc[0]
    assert sorted([*row["cart"], row["hidden"]]) == ["a", "b", "c"]
    assert row["cart"] == sorted(row["cart"])
    assert E.hide_one(lines, seed=5).equals(cases)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5), max_size=30))
def test_hide_one_hides_exactly_one_item_of_each_basket(baskets: list[list[str]]) -> None:
    rows = [(str(i), p) for i, items in enumerate(baskets) for p in items]
    lines = pd.DataFrame(rows, columns=["order_id", "product_id"])
    cases = E.hide_one(lines, seed=0)
    expected = {
        str(i): sorted(set(items)) for i, items in enumerate(baskets) if len(set(items)) > 1
    }
    assert set(cases["order_id"]) == set(expected)
    for row in cases.itertuples():
        assert sorted([*row.cart, row.hidden]) == expected[row.order_id]


def test_read_baskets_reads_the_groceries_file() -> None:
    lines = E.read_baskets(GROCERIES)
    assert lines["order_id"].nunique() == 9_835 and len(lines) == 43_367
    milk = lines[lines["product_id"] == "whole milk"]
    assert len(milk) == 2_513
    assert list(lines.columns) == ["order_id", "product_id", "person_id", "ordered_at"]
    assert lines["person_id"].isna().all() and lines["ordered_at"].isna().all()


def test_the_demo_truth_records_every_companion_and_bundle() -> None:
    """The truth rows come from the catalogue as generated (seed 7's draw)."""
    cat = make_catalog(np.random.default_rng([7, 0]))
    rows = catalog_rows(cat)
    companions = {scope: value for name, scope, value, _ in rows if name == "companion"}
    assert len(companions) == len(cat) == 320
    assert companions["P0000"] == cat.companion[0]
    assert all(companions[f"P{k:04d}"] == cat.companion[k] for k in range(len(cat)))
    first = next(doc for name, scope, _, doc in rows if name == "companion" and scope == "P0000")
    assert first == f"companion of P0000 (Coffee): P{cat.companion[0]:04d} (Mugs)"
    bundles = [(scope, value) for name, scope, value, _ in rows if name == "bundle"]
    assert len(bundles) == 3 * len(P.BUNDLES)
    assert {s for s, v in bundles if v == 0} == {"P0000", "P0120", "P0280"}  # pour-over


def _standin_pairs(lines: ir.Table) -> pd.DataFrame:
    """A stand-in pair learner for the protocol tests: co-occurrence counts in pandas."""
    df = lines.to_pandas()[["order_id", "product_id"]].drop_duplicates()
    m = df.merge(df, on="order_id", suffixes=("", "_o"))
    m = m[m["product_id"] != m["product_id_o"]]
    out = m.groupby(["product_id", "product_id_o"]).size().rename("together").reset_index()
    return out.rename(columns={"product_id_o": "other_id"}).query("together >= 2")


def _standin_rank(pairs: pd.DataFrame, cart: list[str], top: int) -> pd.DataFrame:
    """A stand-in cart ranker: products by orders together with the cart's."""
    near = pairs[pairs["product_id"].isin(cart) & ~pairs["other_id"].isin(cart)]
    score = near.groupby("other_id")["together"].sum().sort_values(ascending=False)
    return pd.DataFrame({"product_id": score.index[:top]})


def test_hide_one_protocol_on_hand_made_baskets() -> None:
    """20 baskets {a, b} and 60 {c, d}: the pair recommender finds every hidden item at rank
    1; popularity (c, d, then a, b) finds a hidden a or b at rank 3 (the cart's item is out),
    a hidden c or d at rank 1."""
    rows = [(f"o{i:02d}", p) for i in range(20) for p in "ab"]
    rows += [(f"o{i:02d}", p) for i in range(20, 80) for p in "cd"]
    lines = pd.DataFrame(rows, columns=["order_id", "product_id"])
    e = E.groceries_hide_one(lines, pairs=_standin_pairs, rank=_standin_rank, method="normal")
    assert e.cases == 80
    assert e.hit_rate.recommender.value == 1.0 and e.mrr.recommender.value == 1.0
    assert e.hit_rate.popularity.value == 1.0
    assert e.mrr.popularity.value == pytest.approx((20 / 3 + 60) / 80)
    assert e.mrr.difference.value == pytest.approx(1 - (20 / 3 + 60) / 80)
    assert e.beats_popularity is False  # no difference in hit rate
    table = E.markdown_table([e])
    assert "| groceries: hide one item | 80 | MRR | 1.000 [1.000, 1.000] |" in table
    with pytest.raises(ConfigError, match="'folds' parameter"):
        E.groceries_hide_one(lines, folds=1, pairs=_standin_pairs, rank=_standin_rank)

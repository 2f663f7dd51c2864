"""The evaluation's metrics, intervals and case making, on hand-made cases (exact values)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.demo import params as P
from tenure.demo.catalog import make_catalog
from tenure.demo.truth import catalog_rows, truth_table
from tenure.errors import ConfigError, StoreError
from tenure.recommend import evaluate as E
from tenure.recommend import rules
from tenure.store.tables import memtable

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


def _pair_rows(rows: list[tuple[str, str, int, float]], orders: int = 100) -> pd.DataFrame:
    """Pairs (both directions given explicitly): product, other, together, lift."""
    frame = pd.DataFrame(rows, columns=["product_id", "other_id", "together", "lift"])
    frame["product_orders"] = orders
    return frame


def test_companion_recovery_on_hand_made_pairs() -> None:
    """Truth: P0000's companion is P0001, P0001's is P0000's... (below); bundle 0 is P0000,
    P0002, P0003. P0000: top partner by lift its companion (rank 1). P0002: the companion
    P0003 comes fourth, after a chance pair (P0009, too few orders together: left out), its
    bundle partner P0000 (linked), P0001 and P0005. P0004: top partner P0009 is not linked,
    companion absent."""
    rows = [
        ("companion", "P0000", 1.0, ""),
        ("companion", "P0001", 0.0, ""),
        ("companion", "P0002", 3.0, ""),
        ("companion", "P0003", 0.0, ""),
        ("companion", "P0004", 5.0, ""),
        *[("bundle", p, 0.0, "") for p in ("P0000", "P0002", "P0003")],
    ]
    pairs = _pair_rows(
        [
            ("P0000", "P0001", 30, 4.0),
            ("P0000", "P0002", 10, 3.0),
            ("P0000", "P0003", 10, 2.0),
            ("P0002", "P0009", 2, 50.0),  # a chance pair: fewer than min_together
            ("P0002", "P0000", 10, 3.0),
            ("P0002", "P0001", 8, 2.5),
            ("P0002", "P0005", 8, 2.2),
            ("P0002", "P0003", 9, 2.0),
            ("P0004", "P0009", 6, 2.0),
        ]
    )
    with Store("duckdb://:memory:") as store:
        store.insert("generator_truth", truth_table(rows))
        r = E.companion_recovery(store, pairs=pairs, min_orders=50, min_together=5)
        assert (r.products, r.top1, r.top3) == (3, 1 / 3, 1 / 3)
        assert r.linked == 2 / 3  # P0000 (companion), P0002 (bundle partner P0000)
        assert r.bundles == 0.5  # P0000: P0002 and P0003 in its top 3; P0002: P0003 4th
        table = E.recovery_table({"hand": r})
        assert "| hand | 3 (>= 50 orders) | 33.3% | 33.3% | 66.7% | 50.0% |" in table
        with pytest.raises(StoreError, match="records no companions"):
            store.truncate("generator_truth")
            E.companion_recovery(store, pairs=pairs)


def test_split_lines_at_the_end_of_the_cutoff_day() -> None:
    at = pd.to_datetime(["2024-03-01 23:59", "2024-03-02 00:00", "2024-03-05 10:00", None])
    lines = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4"],
            "product_id": ["a", "b", "c", "d"],
            "person_id": ["x", "x", "y", "y"],
            "ordered_at": at,
        }
    )
    split = E.split_lines(lines, date(2024, 3, 1))
    assert split.train_frame["order_id"].tolist() == ["1"]
    assert split.test["order_id"].tolist() == ["2", "3"]  # a line without a time is in neither
    assert split.end == date(2024, 3, 5)
    assert split.train.to_pandas()["order_id"].tolist() == ["1"]
    assert E.split_lines(lines, date(2024, 3, 1), end=date(2024, 3, 2)).test[
        "order_id"
    ].tolist() == ["2"]


def test_a_time_split_needs_lines_on_both_sides(tmp_path: Path) -> None:
    with Store("duckdb://:memory:") as store:
        store.set_meta("as_of", "2024-06-30", by="test")
        empty = pd.DataFrame(columns=["order_id", "product_id", "person_id", "ordered_at"])

        def lines_of(s: Store, as_of: date | None) -> ir.Table:
            return memtable(empty.astype({"ordered_at": "datetime64[us]"}))

        with pytest.raises(StoreError, match=r"0 purchase lines up to 2024-04-01 and 0 after"):
            E.time_split(store, holdout_days=90, lines_of=lines_of)
        with pytest.raises(ConfigError, match="'holdout_days'"):
            E.time_split(store, holdout_days=0, lines_of=lines_of)


def test_split_lines_up_to_an_end_day_leaves_later_lines_out_of_both_sides() -> None:
    at = pd.to_datetime(["2024-03-01 10:00", "2024-03-02 10:00", "2024-03-09 10:00"])
    lines = pd.DataFrame({"order_id": ["1", "2", "3"], "product_id": "a", "ordered_at": at})
    split = E.split_lines(lines, date(2024, 3, 1), end=date(2024, 3, 5))
    assert split.train_frame["order_id"].tolist() == ["1"]
    assert split.test["order_id"].tolist() == ["2"]


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")).filter(
            lambda t: t[0] != t[1]
        ),
        st.tuples(st.sampled_from([0.1, 0.2, 0.25, 0.5]), st.sampled_from([1.0, 2.0, 3.0])),
        max_size=30,
    ),
    st.lists(st.lists(st.sampled_from("abcdefg"), max_size=4), min_size=1, max_size=8),
    st.integers(1, 5),
)
def test_pair_rankings_are_rank_from_pairs_for_every_cart(
    pairs: dict[tuple[str, str], tuple[float, float]], carts: list[list[str]], k: int
) -> None:
    """All carts at once give what one rank_from_pairs per cart gives: the same products in
    the same order, ties (few distinct confidences and lifts) broken the same way; a cart item
    absent from the pairs ("g") adds nothing, an empty cart gets nothing."""
    frame = pd.DataFrame(
        [(a, z, conf, lift) for (a, z), (conf, lift) in pairs.items()],
        columns=["product_id", "other_id", "confidence", "lift"],
    )
    frame["together"], frame["support"] = 3, 0.1
    want = [
        list(rules.rank_from_pairs(frame, cart, top=k)["product_id"]) if cart else []
        for cart in carts
    ]
    assert E.pair_rankings(frame, carts, k) == want
    assert E.rank_carts(frame, carts, None, k) == want

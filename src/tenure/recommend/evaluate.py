"""Offline evaluation of the recommendations against a popularity baseline
(docs/recommendations.md, "Evaluation").

Every protocol hides what a person or a basket really bought next, asks a recommender for its
top ``k`` and scores where the hidden products come: the **hit rate@k** (share of cases with a
hidden product in the top k) and the **MRR** (mean of 1 / rank of the first hidden product in
the top k, 0 when none is). The popularity baseline ranks the best sellers of the training
data that are not in the cart (not yet bought by the person). Each metric comes with a 95%
interval, and so does the paired difference recommender - popularity (the same cases, the
same resamples), so "beats popularity" means the difference's interval lies above 0.

- :func:`groceries_hide_one`: baskets without times (groceries), K folds; pairs learnt on
  the other folds, one item of each test basket hidden, the rest is the cart.
- :func:`time_split` (a store) or :func:`split_lines` (a frame): lines up to a cutoff day
  and after it. On a split, :func:`next_product` (does the next-product list of a person
  learnt before the cutoff hold what they bought after it?), :func:`basket_hide_one`
  (frequently bought together: one item of each held-out multi-item order hidden, ranked from
  the pairs learnt before the cutoff) and :func:`next_category` (cross-category candidates);
  :func:`demo_next_product` and :func:`demo_hide_one` run the first two on a store.
- :func:`companion_recovery`: on the demo store, is each product's recorded companion (and
  bundle partners) among its top partners by lift?

The recommenders are parameters (default: the ones the pipeline uses), so any ranking can be
run through the same protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.analytics.base import store_end
from tenure.demo.truth import product_id
from tenure.errors import ConfigError, StoreError
from tenure.recommend import baskets, cross, rules, similar
from tenure.store import Store
from tenure.store.tables import memtable

#: Cases (baskets, persons) resampled with replacement for the bootstrap intervals.
RESAMPLES = 2000
Method = Literal["bootstrap", "normal"]
#: ``pairs(lines) -> frame``: the product pairs learnt from purchase lines.
PairsFn = Callable[[ir.Table], pd.DataFrame]
#: ``rank(pairs, cart, top) -> frame`` with a ``product_id`` column, best first.
RankFn = Callable[[pd.DataFrame, list[str], int], pd.DataFrame]


# -- metrics --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """An estimate and its confidence interval."""

    value: float
    low: float
    high: float

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class Score:
    """One metric of a recommender and of the baseline on the same cases, and the paired
    difference recommender - baseline."""

    metric: str
    recommender: Interval
    popularity: Interval
    difference: Interval


@dataclass(frozen=True)
class Evaluation:
    """A recommender against popularity on ``cases`` cases: hit rate@k and MRR."""

    name: str
    cases: int
    k: int
    hit_rate: Score
    mrr: Score
    note: str = ""

    @property
    def beats_popularity(self) -> bool:
        """Both paired differences' intervals lie above 0."""
        return self.hit_rate.difference.low > 0 and self.mrr.difference.low > 0


def reciprocal_ranks(
    ranked: Sequence[Sequence[Hashable]], targets: Sequence[Collection[Hashable]], *, k: int = 10
) -> np.ndarray:
    """Per case, 1 / the rank (from 1) of the first target among the top ``k`` of ``ranked``,
    0.0 when none is there. A hit is a case with a value > 0."""
    if len(ranked) != len(targets):
        raise ConfigError(
            f"reciprocal_ranks: {len(ranked)} rankings for {len(targets)} target sets.",
            hint="Pass one ranking and one set of targets per case.",
        )
    out = np.zeros(len(ranked))
    for i, (items, wanted) in enumerate(zip(ranked, targets, strict=True)):
        for rank, item in enumerate(list(items)[:k], start=1):
            if item in wanted:
                out[i] = 1.0 / rank
                break
    return out


def paired_intervals(
    a: np.ndarray,
    b: np.ndarray,
    *,
    level: float = 0.95,
    method: Method = "bootstrap",
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[Interval, Interval, Interval]:
    """Mean of ``a``, of ``b`` and of ``a - b`` over the same cases, each with its ``level``
    interval: percentile bootstrap over cases (``resamples`` draws from a generator seeded with
    ``seed``; the difference from the same draws) or the normal approximation
    (mean +- z sd / sqrt(n))."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b):
        raise ConfigError(f"paired_intervals: {len(a)} values against {len(b)}.")
    if not 0 < level < 1:
        raise ConfigError(f"The 'level' parameter must be in (0, 1). Got {level}.")
    columns = np.stack([a, b, a - b], axis=1)
    n = len(a)
    if n == 0:
        nan = Interval(float("nan"), float("nan"), float("nan"))
        return nan, nan, nan
    means = columns.mean(axis=0)
    if method == "normal":
        z = NormalDist().inv_cdf(0.5 + level / 2)
        sd = columns.std(axis=0, ddof=1) if n > 1 else np.zeros(3)
        half = z * sd / np.sqrt(n)
        lows, highs = means - half, means + half
    elif method == "bootstrap":
        draws = _bootstrap_means(columns, resamples, seed)
        tail = (1 - level) / 2
        lows, highs = np.quantile(draws, [tail, 1 - tail], axis=0)
    else:
        raise ConfigError(
            f"The 'method' parameter must be 'bootstrap' or 'normal'. Got {method!r}."
        )
    out = [
        Interval(float(m), float(lo), float(hi))
        for m, lo, hi in zip(means, lows, highs, strict=True)
    ]
    return out[0], out[1], out[2]


def _bootstrap_means(columns: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Column means of ``resamples`` resamples of the rows (drawn in chunks: flat memory)."""
    rng = np.random.default_rng(seed)
    n = len(columns)
    chunk = max(1, 2_000_000 // n)
    out = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        out.append(columns[idx].mean(axis=1))
    return np.concatenate(out)


def evaluation(
    name: str,
    recommender: np.ndarray,
    popularity: np.ndarray,
    *,
    k: int = 10,
    note: str = "",
    **interval: Any,
) -> Evaluation:
    """An :class:`Evaluation` from the per-case reciprocal ranks of a recommender and of the
    baseline (the same cases, in the same order); ``interval``: :func:`paired_intervals`'
    options."""
    hits = paired_intervals(recommender > 0, popularity > 0, **interval)
    mrr = paired_intervals(recommender, popularity, **interval)
    return Evaluation(
        name=name,
        cases=len(recommender),
        k=k,
        hit_rate=Score(f"hit rate@{k}", *hits),
        mrr=Score("MRR", *mrr),
        note=note,
    )


# -- the popularity baseline ----------------------------------------------------------------
def best_sellers(lines: pd.DataFrame) -> list[str]:
    """Products by number of orders holding them, most first (ties by product id)."""
    counts = lines.drop_duplicates(["order_id", "product_id"]).groupby("product_id").size()
    frame = (
        counts.rename("orders")
        .reset_index()
        .sort_values(["orders", "product_id"], ascending=[False, True])
    )
    return [str(p) for p in frame["product_id"]]


def popular_unseen(ranking: Sequence[str], seen: Collection[str], k: int = 10) -> list[str]:
    """The first ``k`` products of ``ranking`` not in ``seen``."""
    out: list[str] = []
    for product in ranking:
        if product not in seen:
            out.append(product)
            if len(out) == k:
                break
    return out


# -- hiding one item ------------------------------------------------------------------------
def hide_one(lines: pd.DataFrame, *, seed: int = 0, max_cases: int | None = None) -> pd.DataFrame:
    """One case per order of ``lines`` with two or more distinct products: ``order_id``,
    ``cart`` (the other products, sorted) and ``hidden`` (one product drawn with a generator
    seeded with ``seed``, orders taken by id). ``max_cases``: keep that many cases at most,
    drawn at random with the same generator (for quick runs)."""
    baskets = (
        lines.dropna(subset=["product_id"])
        .drop_duplicates(["order_id", "product_id"])
        .sort_values(["order_id", "product_id"])
        .groupby("order_id", sort=True)["product_id"]
        .agg(list)
    )
    baskets = baskets[baskets.map(len) >= 2]
    rng = np.random.default_rng(seed)
    pick = (rng.uniform(size=len(baskets)) * baskets.map(len).to_numpy()).astype(int)
    hidden = [items[i] for items, i in zip(baskets, pick, strict=True)]
    carts = [items[:i] + items[i + 1 :] for items, i in zip(baskets, pick, strict=True)]
    cases = pd.DataFrame({"order_id": baskets.index, "cart": carts, "hidden": hidden})
    if max_cases is not None and len(cases) > max_cases:
        keep = np.sort(rng.choice(len(cases), size=max_cases, replace=False))
        cases = cases.iloc[keep].reset_index(drop=True)
    return cases


def rank_carts(
    pairs: pd.DataFrame, carts: Iterable[Sequence[str]], rank: RankFn | None, k: int
) -> list[list[str]]:
    """``rank(pairs, cart, k)``'s products for each cart (a cart seen before is not ranked
    again); ``rank`` None: :func:`tenure.recommend.rules.rank_from_pairs`'s products, ranked
    for every cart at once (:func:`pair_rankings`)."""
    if rank is None:
        return pair_rankings(pairs, carts, k)
    done: dict[tuple[str, ...], list[str]] = {}
    out = []
    for cart in carts:
        key = tuple(sorted(cart))
        if key not in done:
            done[key] = [str(p) for p in rank(pairs, list(key), k)["product_id"]]
        out.append(done[key])
    return out


def pair_rankings(
    pairs: pd.DataFrame, carts: Iterable[Sequence[str]], k: int = 10
) -> list[list[str]]:
    """The top ``k`` products of :func:`tenure.recommend.rules.rank_from_pairs` for each cart
    (the same products in the same order: the score, the sum of the confidences of the cart's
    rules to a product, is added in the same order, and ties are broken the same way),
    computed for all carts in one pass of frame operations instead of one ranking per cart
    (7,676 groceries carts: ~40 s one at a time). Products are numbered in sorted order, so
    the numbers break ties as the ids do."""
    carts = [sorted({str(c).strip() for c in cart} - {""}) for cart in carts]
    names = np.unique(np.concatenate([pairs["product_id"], pairs["other_id"]]).astype(str))
    index = pd.Index(names)
    held = pd.DataFrame(
        {
            "case": np.repeat(np.arange(len(carts)), [len(c) for c in carts]),
            "product": index.get_indexer([item for cart in carts for item in cart]),
        }
    )
    rows = pd.DataFrame(
        {
            "product": index.get_indexer(pairs["product_id"].astype(str)),
            "other": index.get_indexer(pairs["other_id"].astype(str)),
            "confidence": pairs["confidence"].to_numpy(dtype=float),
            "lift": pairs["lift"].to_numpy(dtype=float),
            "row": np.arange(len(pairs)),
        }
    )
    sub = held[held["product"] >= 0].merge(rows, on="product")
    inside = (held["case"].to_numpy() * len(names) + held["product"].to_numpy())[
        held["product"].to_numpy() >= 0
    ]
    sub = sub[~np.isin(sub["case"].to_numpy() * len(names) + sub["other"].to_numpy(), inside)]
    sub = sub.sort_values(["case", "row"], kind="stable")
    score = sub.groupby(["case", "other"], sort=False)["confidence"].sum().rename("score")
    best = sub.sort_values(
        ["case", "other", "confidence", "lift", "product"],
        ascending=[True, True, False, False, True],
        kind="stable",
    ).drop_duplicates(["case", "other"])
    best = best.join(score, on=["case", "other"]).sort_values(
        ["case", "score", "confidence", "lift", "other"],
        ascending=[True, False, False, False, True],
        kind="stable",
    )
    top = best.groupby("case", sort=False).head(k)
    ids = names[top["other"].to_numpy()]
    cases = top["case"].to_numpy()
    out: list[list[str]] = [[] for _ in carts]
    for case, product in zip(cases.tolist(), ids.tolist(), strict=True):
        out[case].append(product)
    return out


def _score_hide_one(
    cases: pd.DataFrame, pairs: pd.DataFrame, ranking: list[str], rank: RankFn | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal ranks of the hidden items: the pair recommender's (``rank`` None:
    :func:`pair_rankings`), popularity's."""
    targets = [{h} for h in cases["hidden"]]
    recommended = rank_carts(pairs, cases["cart"], rank, k)
    popular = [popular_unseen(ranking, set(cart), k) for cart in cases["cart"]]
    return reciprocal_ranks(recommended, targets, k=k), reciprocal_ranks(popular, targets, k=k)


# -- groceries: K folds, hide one -----------------------------------------------------------
def read_baskets(path: str | Path) -> pd.DataFrame:
    """Baskets of a file with one basket per line, items comma-separated, no header (the
    groceries format) as purchase lines: ``order_id`` (``B00001``... by line), ``product_id``
    (the item), ``person_id`` (unknown: null), ``ordered_at`` (unknown: null)."""
    orders, products = [], []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            items = {item.strip() for item in line.split(",")} - {""}
            orders += [f"B{number:05d}"] * len(items)
            products += sorted(items)
    return pd.DataFrame(
        {
            "order_id": orders,
            "product_id": products,
            "person_id": pd.Series([None] * len(orders), dtype="string"),
            "ordered_at": pd.Series([pd.NaT] * len(orders), dtype="datetime64[us]"),
        }
    ).astype({"order_id": "string", "product_id": "string"})


def line_folds(lines: pd.DataFrame, *, folds: int = 5, seed: int = 0) -> tuple[np.ndarray, int]:
    """The fold (0 to ``folds`` - 1) of each line of ``lines``: its order's, the orders (by
    id) dealt into folds by a permutation seeded with ``seed``; and the number of orders."""
    if folds < 2:
        raise ConfigError(f"The 'folds' parameter must be an int >= 2. Got {folds}.")
    orders = np.sort(lines["order_id"].dropna().unique())
    fold_of = pd.Series(np.random.default_rng(seed).permutation(len(orders)) % folds, orders)
    return lines["order_id"].map(fold_of).to_numpy(), len(orders)


def groceries_hide_one(
    lines: pd.DataFrame,
    *,
    folds: int = 5,
    seed: int = 0,
    k: int = 10,
    max_cases: int | None = None,
    pairs: PairsFn | None = None,
    rank: RankFn | None = None,
    name: str = "groceries: hide one item",
    **interval: Any,
) -> Evaluation:
    """Hide-one evaluation on baskets without times: the orders are split into ``folds``
    folds (seeded); for each fold the pairs are learnt on the others with ``pairs`` (default
    :func:`tenure.recommend.rules.product_pairs`) and every test basket with two or more items
    has one hidden (seeded), the rest ranked by ``rank`` (default
    :func:`tenure.recommend.rules.rank_from_pairs`) against the best sellers of the training
    folds not in the cart. ``max_cases``: score that many test baskets at most (a seeded
    sample, the same share of each fold), for quick runs."""
    pairs = pairs or _learn_pairs
    line_fold, orders = line_folds(lines, folds=folds, seed=seed)
    rec, pop = [], []
    for fold in range(folds):
        train = lines[line_fold != fold]
        most = None if max_cases is None else -(-max_cases // folds)
        cases = hide_one(lines[line_fold == fold], seed=seed + 1 + fold, max_cases=most)
        learnt = pairs(memtable(train))
        r, p = _score_hide_one(cases, learnt, best_sellers(train), rank, k)
        rec.append(r)
        pop.append(p)
    note = f"{orders:,} baskets, {folds} folds"
    return evaluation(
        name,
        np.concatenate(rec),
        np.concatenate(pop),
        k=k,
        note=note,
        seed=seed,
        **interval,
    )


def _learn_pairs(lines: ir.Table) -> pd.DataFrame:
    return rules.product_pairs(lines).to_pandas()


def _store_lines(store: Store, as_of: date | None) -> ir.Table:
    return baskets.purchase_lines(store, as_of=as_of)


# -- a store's time split -------------------------------------------------------------------
LinesFn = Callable[[Store, date | None], ir.Table]
NextFn = Callable[[ir.Table, date, ir.Table, int], pd.DataFrame]


@dataclass(frozen=True)
class TimeSplit:
    """A store's purchase lines split at ``cutoff``: ``train`` up to the end of that day (as
    an Ibis table for the recommenders and as a frame), ``test`` the lines after it, up to
    ``end``."""

    cutoff: date
    end: date
    train: ir.Table
    train_frame: pd.DataFrame
    test: pd.DataFrame


def time_split(
    store: Store, *, holdout_days: int = 90, lines_of: LinesFn | None = None
) -> TimeSplit:
    """The store's purchase lines (``lines_of``, default
    :func:`tenure.recommend.baskets.purchase_lines`) split ``holdout_days`` before its as-of
    day (:func:`tenure.analytics.base.store_end`)."""
    if holdout_days < 1:
        raise ConfigError(f"The 'holdout_days' parameter must be an int >= 1. Got {holdout_days}.")
    lines_of = lines_of or _store_lines
    end = store_end(store)
    cutoff = end - timedelta(days=holdout_days)
    split = split_lines(lines_of(store, end).to_pandas(), cutoff, end=end)
    if split.train_frame.empty or split.test.empty:
        raise StoreError(
            f"The store {store.location} has {len(split.train_frame):,} purchase lines up to "
            f"{cutoff.isoformat()} and {len(split.test):,} after it, up to {end.isoformat()}: "
            "a time split needs both.",
            hint="Hold out fewer days (holdout_days), or evaluate a store with a longer history.",
        )
    return TimeSplit(cutoff, end, lines_of(store, cutoff), split.train_frame, split.test)


def split_lines(lines: pd.DataFrame, cutoff: date, *, end: date | None = None) -> TimeSplit:
    """Purchase lines (a frame) split at the end of ``cutoff``: the training lines (as an
    in-memory Ibis table too) and the lines after it (up to the end of ``end``, default all)."""
    at = pd.to_datetime(lines["ordered_at"])
    boundary = datetime.combine(cutoff + timedelta(days=1), datetime.min.time())
    after = at >= boundary  # a line without a time is on neither side
    if end is not None:
        after &= at < datetime.combine(end + timedelta(days=1), datetime.min.time())
    train = lines[at < boundary]
    last = end if end is not None else (at.max().date() if at.notna().any() else cutoff)
    return TimeSplit(cutoff, last, memtable(train), train, lines[after])


def next_product(
    split: TimeSplit,
    *,
    k: int = 10,
    products: ir.Table | None = None,
    recommend: NextFn | None = None,
    name: str = "next product per person",
    **interval: Any,
) -> Evaluation:
    """Next product per person on a time split: the cases are the persons who bought both
    before the cutoff and after it; the targets the products they bought after it. The
    recommender (default :func:`tenure.recommend.similar.next_products`, with the catalogue
    ``products``) learns from the lines up to the cutoff; popularity ranks the best sellers up
    to the cutoff the person has not bought. A person the recommender has no list for counts
    as a miss."""
    recommend = recommend or _next_products
    recs = recommend(split.train, split.cutoff, products, k)
    before = _products_by_person(split.train_frame)
    after = _products_by_person(split.test)
    persons = sorted(set(after.index) & set(before.index))
    lists = recs.sort_values(["person_id", "rank"]).groupby("person_id")["product_id"].agg(list)
    ranking = best_sellers(split.train_frame)
    targets = [after[p] for p in persons]
    rec = reciprocal_ranks([lists.get(p, []) for p in persons], targets, k=k)
    pop = reciprocal_ranks([popular_unseen(ranking, before[p], k) for p in persons], targets, k=k)
    new = len(set(after.index) - set(before.index))
    note = (
        f"learnt up to {split.cutoff.isoformat()}, {(split.end - split.cutoff).days} days held "
        f"out; {new:,} persons whose first purchase is after the cutoff are not cases"
    )
    return evaluation(name, rec, pop, k=k, note=note, **interval)


def demo_next_product(
    store: Store,
    *,
    holdout_days: int = 90,
    k: int = 10,
    split: TimeSplit | None = None,
    recommend: NextFn | None = None,
    **interval: Any,
) -> Evaluation:
    """:func:`next_product` on the store's :func:`time_split` (``holdout_days`` held out),
    with its catalogue."""
    split = split or time_split(store, holdout_days=holdout_days)
    return next_product(
        split,
        k=k,
        products=store.table("products"),
        recommend=recommend,
        name="demo: next product per person",
        **interval,
    )


def _products_by_person(lines: pd.DataFrame) -> pd.Series:
    known = lines.dropna(subset=["person_id", "product_id"])
    return known.groupby("person_id")["product_id"].agg(lambda s: set(map(str, s)))


def _next_products(lines: ir.Table, as_of: date, products: ir.Table, top: int) -> pd.DataFrame:
    return similar.next_products(lines, as_of=as_of, products=products, top=top).to_pandas()


def basket_hide_one(
    split: TimeSplit,
    *,
    k: int = 10,
    seed: int = 0,
    max_cases: int | None = None,
    pairs: PairsFn | None = None,
    rank: RankFn | None = None,
    name: str = "frequently bought together, hide one item",
    **interval: Any,
) -> Evaluation:
    """Frequently bought together on a time split: one product of each order after the
    cutoff with two or more products is hidden (seeded), the rest ranked from the pairs
    learnt up to the cutoff, against the best sellers up to the cutoff not in the cart.
    ``max_cases``: score that many orders at most (a seeded sample)."""
    pairs = pairs or _learn_pairs
    cases = hide_one(split.test, seed=seed, max_cases=max_cases)
    r, p = _score_hide_one(cases, pairs(split.train), best_sellers(split.train_frame), rank, k)
    note = f"learnt up to {split.cutoff.isoformat()}, orders after it up to {split.end}"
    return evaluation(name, r, p, k=k, note=note, seed=seed, **interval)


def demo_hide_one(
    store: Store,
    *,
    holdout_days: int = 90,
    split: TimeSplit | None = None,
    **options: Any,
) -> Evaluation:
    """:func:`basket_hide_one` on the store's :func:`time_split` (``holdout_days`` held out)."""
    split = split or time_split(store, holdout_days=holdout_days)
    options.setdefault("name", "demo: frequently bought together, hide one item")
    return basket_hide_one(split, **options)


def next_category(
    store: Store,
    split: TimeSplit,
    *,
    k: int = 3,
    name: str = "cross-category candidates",
    **interval: Any,
) -> Evaluation:
    """Cross-category candidates on a time split: the cases are the persons who bought before
    the cutoff and bought a category new to them after it (the targets).
    :func:`tenure.recommend.cross.cross_category` learns as of the cutoff from the lines up to
    it; popularity ranks the categories with the most buyers up to the cutoff that the person
    has not bought. Categories are :func:`tenure.recommend.cross.product_categories`."""
    result = cross.cross_category(store, as_of=split.cutoff, lines=split.train, top=k)
    category = cross.product_categories(store).to_pandas().set_index("product_id")["category"]
    before = _categories_by_person(split.train_frame, category)
    after = _categories_by_person(split.test, category)
    persons = [p for p in sorted(set(after.index) & set(before.index)) if after[p] - before[p]]
    cand = result.candidates.sort_values(["person_id", "rank"])
    lists = cand.groupby("person_id")["category"].agg(list)
    buyers = split.train_frame.assign(category=split.train_frame["product_id"].map(category))
    counts = buyers.dropna(subset=["category"]).groupby("category")["person_id"].nunique()
    ranking = [str(c) for c in counts.sort_values(ascending=False, kind="stable").index]
    targets = [after[p] - before[p] for p in persons]
    rec = reciprocal_ranks([lists.get(p, []) for p in persons], targets, k=k)
    pop = reciprocal_ranks([popular_unseen(ranking, before[p], k) for p in persons], targets, k=k)
    note = f"learnt up to {split.cutoff.isoformat()}, new categories bought after it"
    return evaluation(name, rec, pop, k=k, note=note, **interval)


def _categories_by_person(lines: pd.DataFrame, category: pd.Series) -> pd.Series:
    known = lines.assign(category=lines["product_id"].map(category))
    known = known.dropna(subset=["person_id", "category"])
    return known.groupby("person_id")["category"].agg(lambda s: set(map(str, s)))


# -- the demo's companions ------------------------------------------------------------------
@dataclass(frozen=True)
class Recovery:
    """The generator's structure among each product's partners by lift, over ``products``
    (at least ``min_orders`` orders and a partner bought with it in at least ``min_together``
    orders): ``top1`` share whose top partner is its recorded companion, ``top3`` share with the
    companion in the top 3, ``linked`` share whose top partner is linked to it by the generator
    (its companion, a product whose companion it is, or a bundle partner), ``bundles`` share of
    the bundle products (with enough orders) whose two bundle partners are both in their top 3."""

    products: int
    min_orders: int
    min_together: int
    top1: float
    top3: float
    linked: float
    bundles: float


def companion_recovery(
    store: Store,
    *,
    pairs: pd.DataFrame | None = None,
    min_orders: int = 50,
    min_together: int = 5,
) -> Recovery:
    """The generator's companions and bundles (``generator_truth``) against the product pairs
    learnt on the store's purchase lines (``pairs``, default
    :func:`tenure.recommend.rules.product_pairs` of every purchase line). Pairs bought together
    in fewer than ``min_together`` orders are left out: with a handful of orders a chance pair
    has the highest lift."""
    companion, bundle_of = _generator_links(store)
    if pairs is None:
        pairs = rules.product_pairs(
            baskets.purchase_lines(store), min_together=min_together
        ).to_pandas()
    enough = set(pairs.loc[pairs["product_orders"] >= min_orders, "product_id"].astype(str))
    strong = _partners_by_lift(pairs[pairs["together"] >= min_together], min_orders)
    # a product without a partner bought with it often enough is a miss
    partners: dict[str, list[str]] = {p: strong.get(p, []) for p in sorted(enough)}
    found = [p for p in partners if p in companion]
    linked = {p: {c} | bundle_of.get(p, set()) for p, c in companion.items()}
    for p, c in companion.items():
        linked.setdefault(c, set()).add(p)
    ranks = np.array([_rank_of(partners[p], companion[p]) for p in found])
    top_linked = [bool(partners[p]) and partners[p][0] in linked[p] for p in found]
    both = [set(partners[p][:3]) >= bundle_of[p] for p in bundle_of if p in partners]

    def share(flags: Sequence[bool] | np.ndarray) -> float:
        return float(np.mean(flags)) if len(flags) else float("nan")

    return Recovery(
        products=len(found),
        min_orders=min_orders,
        min_together=min_together,
        top1=share(ranks == 1),
        top3=share((ranks >= 1) & (ranks <= 3)),
        linked=share(top_linked),
        bundles=share(both),
    )


def _generator_links(store: Store) -> tuple[dict[str, str], dict[str, set[str]]]:
    """From ``generator_truth``: each product's companion, and each bundle product's two
    bundle partners."""
    truth = (
        store.table("generator_truth")
        .filter(lambda t: t.name.isin(["companion", "bundle"]))
        .select("name", "scope", "value")
        .to_pandas()
    )
    companion = {
        r.scope: product_id(int(r.value)) for r in truth.itertuples() if r.name == "companion"
    }
    if not companion:
        raise StoreError(
            f"The store {store.location} records no companions in generator_truth: it is not "
            "a demo store, or one made before companions were recorded.",
            hint="Run `tenure demo` (it rewrites the demo store with its truth).",
        )
    bundle = truth[truth["name"] == "bundle"]
    members = bundle.groupby("value")["scope"].agg(set)
    return companion, {r.scope: members[r.value] - {r.scope} for r in bundle.itertuples()}


def _partners_by_lift(pairs: pd.DataFrame, min_orders: int) -> pd.Series:
    """Per product with ``product_orders >= min_orders``: its partners, highest lift first
    (ties: more orders together first, then by id)."""
    enough = pairs[pairs["product_orders"] >= min_orders]
    ordered = enough.sort_values(
        ["product_id", "lift", "together", "other_id"], ascending=[True, False, False, True]
    )
    return ordered.groupby("product_id")["other_id"].agg(lambda s: [str(x) for x in s])


def _rank_of(items: list[str], item: str) -> int:
    """The rank (from 1) of ``item`` in ``items``, 0 when absent."""
    return items.index(item) + 1 if item in items else 0


# -- report ---------------------------------------------------------------------------------
def markdown_table(evaluations: Sequence[Evaluation]) -> str:
    """The evaluations as a markdown table: one row per evaluation and metric, values with
    their 95% intervals."""
    rows = [
        "| evaluation | cases | metric | recommender | popularity | difference |",
        "|---|---|---|---|---|---|",
    ]
    for e in evaluations:
        for s in (e.hit_rate, e.mrr):
            rows.append(
                f"| {e.name} | {e.cases:,} | {s.metric} | {s.recommender} | {s.popularity} "
                f"| {s.difference} |"
            )
    return "\n".join(rows)


def recovery_table(recoveries: Mapping[str, Recovery]) -> str:
    """Companion recoveries (by the name of the store) as a markdown table."""
    rows = [
        "| store | products | companion is the top partner by lift | companion in the top 3 "
        "| top partner linked by the generator | bundle partners both in the top 3 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in recoveries.items():
        rows.append(
            f"| {name} | {r.products:,} (>= {r.min_orders} orders) | {r.top1:.1%} | "
            f"{r.top3:.1%} | {r.linked:.1%} | {r.bundles:.1%} |"
        )
    return "\n".join(rows)

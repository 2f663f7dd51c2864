"""Completing a cart, evaluated as it answers (docs/recommendations.md, "Completing a cart,
measured"): :func:`tenure.recommend.rules.complete_basket` (the exact rule {cart} -> {x} when
at least ``min_baskets`` baskets hold the whole cart, else the pair ranking) against
:func:`tenure.recommend.rules.rank_from_pairs` (the pair ranking alone, what
:func:`tenure.recommend.evaluate.groceries_hide_one` measures) and against popularity, on the
same carts.

``complete_basket`` runs a few queries per cart (~0.1 s on the groceries baskets), so the
protocol scores a seeded sample of the hide-one carts: the groceries folds and hidden items of
:func:`tenure.recommend.evaluate.groceries_hide_one` (the same seeds, so the same hidden item
of each basket), restricted to carts of at least ``min_cart`` items (a one-item cart's exact
rule is its pair rule) and sampled with the same share of each fold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse

from tenure.errors import ConfigError
from tenure.recommend import rules
from tenure.recommend.baskets import MAX_BASKET
from tenure.recommend.evaluate import (
    Evaluation,
    best_sellers,
    evaluation,
    hide_one,
    line_folds,
    pair_rankings,
    popular_unseen,
    reciprocal_ranks,
)
from tenure.store.tables import memtable

#: The header of :func:`cart_rules_table`.
HEADER = (
    "| carts | metric | popularity | rank_from_pairs | complete_basket "
    "| complete_basket - popularity | complete_basket - rank_from_pairs "
    "| rank_from_pairs - popularity |"
)
#: ``complete(lines, cart, top) -> frame`` with a ``product_id`` column, best first.
CompleteFn = Callable[[ir.Table, list[str], int], pd.DataFrame]


@dataclass(frozen=True)
class CartRules:
    """``complete_basket`` and ``rank_from_pairs`` on the same ``cases`` carts, ``exact`` of
    them answered by exact cart rules (at least ``min_baskets`` training baskets hold the
    whole cart). Each :class:`Evaluation` compares a ranking (``recommender``) with a baseline
    (``popularity``, whatever it is): ``complete`` and ``pairs`` against popularity,
    ``versus`` complete_basket against rank_from_pairs; ``exact_*`` the same on the exact
    carts only. ``per_cart``: the sampled carts (``fold, order_id, cart, hidden``), the
    training baskets ``holding`` the whole cart, ``exact``, and the reciprocal rank of the
    hidden item in each ranking (``complete``, ``pairs``, ``popularity``)."""

    name: str
    cases: int
    exact: int
    min_baskets: int
    k: int
    complete: Evaluation
    pairs: Evaluation
    versus: Evaluation
    exact_complete: Evaluation
    exact_pairs: Evaluation
    exact_versus: Evaluation
    note: str
    per_cart: pd.DataFrame


def _complete(lines: ir.Table, cart: list[str], top: int) -> pd.DataFrame:
    return rules.complete_basket(lines, cart, top=top, unknown="ignore")


def sample_carts(
    lines: pd.DataFrame,
    *,
    cases: int,
    folds: int = 5,
    seed: int = 0,
    min_cart: int = 2,
    min_holding: int = 0,
) -> pd.DataFrame:
    """Hide-one cases of :func:`tenure.recommend.evaluate.groceries_hide_one` (its folds and
    hidden items for ``folds`` and ``seed``) whose cart holds ``min_cart`` items or more and
    is held whole by ``min_holding`` training baskets or more (:func:`holding_counts`; the
    other folds' lines): up to ``ceil(cases / folds)`` of each fold, drawn with a generator
    seeded with ``[seed, fold]``. Columns ``fold, order_id, cart, hidden, holding``."""
    if cases < 1 or min_cart < 1:
        raise ConfigError(
            "The 'cases' and 'min_cart' parameters must be ints >= 1. "
            f"Got cases={cases!r}, min_cart={min_cart!r} instead."
        )
    line_fold, _ = line_folds(lines, folds=folds, seed=seed)
    out = []
    for fold in range(folds):
        held = hide_one(lines[line_fold == fold], seed=seed + 1 + fold)
        held = held[held["cart"].map(len) >= min_cart].reset_index(drop=True)
        train = lines[line_fold != fold]
        if min_holding > 0:
            held["holding"] = holding_counts(train, list(held["cart"]))
            held = held[held["holding"] >= min_holding].reset_index(drop=True)
        size = min(len(held), -(-cases // folds))
        keep = np.sort(np.random.default_rng([seed, fold]).choice(len(held), size, replace=False))
        held = held.iloc[keep]
        out.append(held.assign(fold=fold, holding=holding_counts(train, list(held["cart"]))))
    return pd.concat(out, ignore_index=True)[["fold", "order_id", "cart", "hidden", "holding"]]


def holding_counts(
    train: pd.DataFrame, carts: Sequence[Sequence[str]], *, max_basket: int = MAX_BASKET
) -> np.ndarray:
    """For each cart, the counted baskets of ``train`` (at most ``max_basket`` products)
    holding every one of its products that some basket holds (0 when none does): the count
    ``complete_basket`` compares with ``min_baskets``. One sparse product baskets x carts."""
    b = train.dropna(subset=["order_id", "product_id"]).drop_duplicates(["order_id", "product_id"])
    b = b[b.groupby("order_id")["product_id"].transform("size") <= max_basket]
    rows, _ = pd.factorize(b["order_id"])
    products = pd.Index(pd.unique(b["product_id"].astype(str)))
    cols = products.get_indexer(pd.Index(b["product_id"].astype(str)))
    shape = (rows.max() + 1 if len(rows) else 0, len(products))
    baskets = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
    known = [[j for j in products.get_indexer(pd.Index(list(cart))) if j >= 0] for cart in carts]
    size = np.array([len(k) for k in known])
    cart_rows = np.repeat(np.arange(len(known)), size)
    cart_cols = np.array([j for k in known for j in k], dtype=int)
    wanted = sparse.csr_matrix(
        (np.ones(len(cart_cols)), (cart_rows, cart_cols)), shape=(len(known), len(products))
    )
    shared = (baskets @ wanted.T).toarray()  # products of each cart in each basket
    return np.where(size > 0, (shared == size).sum(axis=0), 0).astype(int)


def groceries_cart_rules(
    lines: pd.DataFrame,
    *,
    cases: int = 500,
    folds: int = 5,
    seed: int = 0,
    k: int = 10,
    min_cart: int = 2,
    min_holding: int = 0,
    complete: CompleteFn | None = None,
    name: str = "groceries: complete the cart",
    **interval: Any,
) -> CartRules:
    """Hide-one carts (:func:`sample_carts`: ``cases`` of ``min_cart`` items or more, held
    whole by ``min_holding`` training baskets or more) ranked by ``complete`` (default
    :func:`tenure.recommend.rules.complete_basket` on the training folds' lines, one call per
    cart), by :func:`tenure.recommend.rules.rank_from_pairs` on the training folds' pairs and
    by popularity (the training folds' best sellers not in the cart); ``interval``:
    :func:`tenure.recommend.evaluate.paired_intervals`' options (the same resamples for
    every comparison on the same carts)."""
    sample = sample_carts(
        lines, cases=cases, folds=folds, seed=seed, min_cart=min_cart, min_holding=min_holding
    )
    line_fold, orders = line_folds(lines, folds=folds, seed=seed)
    ranked: dict[str, list[list[str]]] = {"complete": [], "pairs": [], "popular": []}
    for fold in range(folds):
        carts = [list(c) for c in sample.loc[sample["fold"] == fold, "cart"]]
        for key, lists in _rank_fold(lines[line_fold != fold], carts, complete, k).items():
            ranked[key] += lists
    targets = [{h} for h in sample["hidden"]]
    rr = {key: reciprocal_ranks(value, targets, k=k) for key, value in ranked.items()}
    exact = sample["holding"].to_numpy() >= rules.MIN_CART_BASKETS
    options = {"k": k, "seed": seed, **interval}
    every = _compare(rr, np.ones(len(exact), dtype=bool), options)
    only = _compare(rr, exact, options)
    return CartRules(
        name=name,
        cases=len(sample),
        exact=int(exact.sum()),
        min_baskets=rules.MIN_CART_BASKETS,
        k=k,
        complete=every[0],
        pairs=every[1],
        versus=every[2],
        exact_complete=only[0],
        exact_pairs=only[1],
        exact_versus=only[2],
        note=f"{len(sample):,} carts of {min_cart}+ items ({exact.sum():,} answered by exact "
        f"cart rules), {orders:,} baskets, {folds} folds",
        per_cart=sample.assign(
            exact=exact, complete=rr["complete"], pairs=rr["pairs"], popularity=rr["popular"]
        ),
    )


def _rank_fold(
    train: pd.DataFrame, carts: list[list[str]], complete: CompleteFn | None, k: int
) -> dict[str, list[list[str]]]:
    """The top ``k`` of each cart by complete_basket (``complete``), the pair ranking and
    popularity, all learnt from the ``train`` lines."""
    complete = complete or _complete
    table = memtable(train)
    pairs = rules.product_pairs(table).to_pandas()
    ranking = best_sellers(train)
    return {
        "complete": [[str(p) for p in complete(table, c, k)["product_id"]] for c in carts],
        "pairs": pair_rankings(pairs, carts, k),
        "popular": [popular_unseen(ranking, set(c), k) for c in carts],
    }


def _compare(
    rr: dict[str, np.ndarray], rows: np.ndarray, options: dict[str, Any]
) -> tuple[Evaluation, Evaluation, Evaluation]:
    """On the carts ``rows``: complete_basket and the pair ranking against popularity, and
    complete_basket against the pair ranking."""
    c, p, pop = rr["complete"][rows], rr["pairs"][rows], rr["popular"][rows]
    return (
        evaluation("complete_basket", c, pop, **options),
        evaluation("rank_from_pairs", p, pop, **options),
        evaluation("complete_basket", c, p, **options),
    )


def cart_rules_table(result: CartRules) -> str:
    """``result`` as a markdown table: per set of carts (all, those answered by exact cart
    rules) and metric, popularity, the pair ranking and complete_basket with their 95%
    intervals, and the paired differences with popularity and with the pair ranking."""
    rows = [HEADER, "|---|---|---|---|---|---|---|---|"]
    sets = [
        (f"all {result.cases:,}", result.complete, result.pairs, result.versus),
        (
            f"{result.exact:,} with {result.min_baskets}+ baskets holding the whole cart",
            result.exact_complete,
            result.exact_pairs,
            result.exact_versus,
        ),
    ]
    if result.exact == result.cases:  # the second set is the first
        sets = sets[:1]
    for label, *evaluations in sets:
        for metric in ("hit_rate", "mrr"):
            c, p, v = (getattr(e, metric) for e in evaluations)
            rows.append(
                f"| {label} | {c.metric} | {c.popularity} | {p.recommender} | {c.recommender} "
                f"| {c.difference} | {v.difference} | {p.difference} |"
            )
    return "\n".join(rows)

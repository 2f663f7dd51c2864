"""Cross-category candidates: buyers of a category A who never bought a category B, ranked by
a propensity to make that move learnt from the buyers who did.

The set-up is time-honest: a ``cutoff`` lies ``horizon_days`` before ``as_of``. For each
target category B, the model learns from every buyer who had bought something, but not B, by
the cutoff: features as of the cutoff (the numeric ``customer_facts`` columns computed as of
that day, :func:`buyer_features`, and per category whether the buyer bought it by then and
its share of the buyer's lines: a favourite shows), label = bought B after
the cutoff, up to ``as_of``. A stratified 30% of them is held out to measure the model (ROC
AUC, with the Hanley & McNeil 1982 standard error); the model (a logistic regression, C =
0.01, on standardised features: the strongest of 0.003, 0.01, 0.1 and 1 on the demo's
time split, docs/recommendations.md) is then fitted on all of them and scores the buyers who have
not bought B by ``as_of``, with features as of ``as_of``: the propensity is an estimate of the
chance to buy B in the next ``horizon_days``. A category with fewer than ``min_movers`` movers
(or non-movers) is not modelled, with a note: its propensity is then the training buyers'
move rate, the same for every candidate (none when nobody moved). Each candidate's reason
cites the category the person bought whose buyers moved to B most often in the training
window ("buyers like you who bought Shoes moved to Bags: 18% of 420").

The categories of products come from ``products.category``, else from the order lines'
``category`` (the greatest one, when lines disagree); lines of uncategorised products are
left out and counted in the result's notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from tenure.analytics.base import orders_base
from tenure.analytics.facts import btyd_summary, daily_purchases
from tenure.errors import ConfigError
from tenure.recommend.similar import up_to
from tenure.store import Store

CANDIDATE_COLUMNS = ["person_id", "category", "rank", "propensity", "reason"]
QUALITY_COLUMNS = [
    "category",
    "buyers",
    "movers",
    "held_out",
    "auc",
    "auc_low",
    "auc_high",
    "auc_orders",
    "note",
]


@dataclass(frozen=True)
class CrossCategory:
    """Cross-category candidates and how well each target category's model ranks.

    ``candidates``: ``person_id, category, rank, propensity, reason`` (rank from 1 per person).
    ``quality``: one row per category: the training buyers (had not bought it by the cutoff),
    the movers among them, the held-out buyers, the held-out ROC AUC with a 95% interval, the
    held-out AUC of ranking by the number of orders alone (the baseline the model must beat),
    and a note (why a category was skipped)."""

    as_of: date
    cutoff: date
    candidates: pd.DataFrame
    quality: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def product_categories(store: Store) -> ir.Table:
    """``product_id, category``: the catalogue's category, else the order lines' (the
    greatest, when lines of one product disagree; a line's product is its sku when it has no
    product id)."""
    p = store.table("products")
    p = p.filter(p.product_id.notnull() & p.category.notnull())
    p = p.group_by("product_id").agg(category=p.category.max())
    i = store.table("order_items")
    i = i.mutate(product_id=ibis.coalesce(i.product_id, i.sku)).filter(
        lambda t: t.product_id.notnull() & t.category.notnull()
    )
    i = i.group_by("product_id").agg(category=i.category.max())
    i = i.anti_join(p, i.product_id == p.product_id)
    return ibis.union(p, i)


def _category_days(lines: ir.Table, cats: ir.Table) -> tuple[pd.DataFrame, int]:
    """Per person, category and day the lines bought (``person_id, category, day, lines``);
    and the number of lines of no category."""
    t = lines.filter(lines.person_id.notnull() & lines.product_id.notnull())
    c = cats.select(c_id="product_id", category="category")
    j = t.left_join(c, t.product_id == c.c_id)
    uncategorised = int(j.filter(j.category.isnull()).count().execute())
    j = j.filter(j.category.notnull()).mutate(day=j.ordered_at.date())
    days = j.group_by("person_id", "category", "day").agg(lines=j.count())
    frame = days.to_pandas()
    frame["day"] = pd.to_datetime(frame.day)
    return frame, uncategorised


#: Columns of the summary left out of the features: exact rescalings of others.
_REDUNDANT = ("recency_weeks", "T_weeks")


def buyer_features(store: Store, day: date) -> pd.DataFrame:
    """The buyers' numeric facts as of ``day``, indexed by person: orders, revenue, margin,
    aov and the BTYD summary (frequency, recency, T, monetary, days since the last order,
    gaps), computed as ``customer_facts`` computes them (:func:`daily_purchases`,
    :func:`btyd_summary`) but without its first and last touch (the events: ~10x the time)."""
    daily = daily_purchases(orders_base(store, as_of=day))
    per = btyd_summary(daily, day)
    tot = daily.group_by(t_person="person_id").agg(
        orders=daily.n_orders.sum(), revenue=daily.value.sum(), margin=daily.day_margin.sum()
    )
    j = per.join(tot, per.person_id == tot.t_person)
    numeric = [c for c, t in per.schema().items() if t.is_numeric() and c not in _REDUNDANT]
    j = j.select(
        "person_id",
        *numeric,
        orders=j.orders.cast("float64"),
        revenue=j.revenue.cast("float64"),
        margin=j.margin.cast("float64"),
        aov=j.revenue.cast("float64") / j.orders.cast("float64").nullif(0),
    )
    return j.to_pandas().set_index("person_id").astype("float64")


def _mix(days: pd.DataFrame, day: date, categories: list[str]) -> pd.DataFrame:
    """Persons x categories: the lines bought in each category by ``day``."""
    seen = days[(days.day <= pd.Timestamp(day)) & days.category.isin(categories)]
    rows, persons = pd.factorize(seen.person_id)
    cols = pd.Categorical(seen.category, categories=categories).codes
    m = np.zeros((len(persons), len(categories)))
    np.add.at(m, (rows, cols), seen.lines.to_numpy(dtype="float64"))
    frame = pd.DataFrame(m, index=pd.Index(persons, name="person_id"), columns=categories)
    return frame.sort_index()  # the engine's row order varies: the split must not


def _category_features(mix: pd.DataFrame) -> pd.DataFrame:
    """Per person, each category bought (1.0 / 0.0) and its share of the person's lines."""
    bought = (mix > 0).astype("float64").add_prefix("bought_")
    share = mix.div(mix.sum(axis=1), axis=0).add_prefix("share_")
    return bought.join(share)


def _model(random_state: int) -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(
            C=0.01, solver="newton-cholesky", max_iter=200, random_state=random_state
        ),
    )


def auc_interval(auc: float, positives: int, negatives: int) -> tuple[float, float]:
    """95% interval of a ROC AUC (Hanley & McNeil 1982, the standard error of eq. 2)."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    se = math.sqrt(max(var, 0.0))
    return max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)


@dataclass(frozen=True)
class _Window:
    """The frames one run reads, at the cutoff and as of: the buyers' features (the facts
    and :func:`_category_features`) and the categories bought (1.0 / 0.0)."""

    categories: list[str]
    x_cut: pd.DataFrame
    x_now: pd.DataFrame
    bought_cut: pd.DataFrame
    bought_now: pd.DataFrame

    @classmethod
    def of(
        cls, facts: tuple[pd.DataFrame, pd.DataFrame], mix: tuple[pd.DataFrame, pd.DataFrame]
    ) -> _Window:
        """From the facts and the category mixes (:func:`_mix`) at the cutoff and as of."""
        x = [f.join(_category_features(m), how="inner") for f, m in zip(facts, mix, strict=True)]
        bought = [(m > 0).astype("float64") for m in mix]
        return cls(list(mix[0].columns), x[0], x[1], bought[0], bought[1])


def _pair_rates(w: _Window, y: pd.Series) -> pd.DataFrame:
    """Per category A: training buyers of A (without ``target``) and the share who moved."""
    held = w.bought_cut.loc[y.index]
    n = held.sum()
    moved = held.mul(y, axis=0).sum()
    return pd.DataFrame({"n": n, "moved": moved, "rate": moved / n.where(n > 0)})


#: A category is cited in a reason only when at least this many of its buyers were followed.
MIN_CITED = 5


def _reasons(bought: pd.DataFrame, rates: pd.DataFrame, target: str, y: pd.Series) -> pd.Series:
    """For each person (rows of ``bought``), the reason naming their category with the best
    move rate to ``target`` (ties: more buyers, then the name); a category is cited when at
    least :data:`MIN_CITED` of its buyers were followed and some moved, otherwise the reason
    gives the move rate of all the training buyers."""
    order = rates[(rates.n >= MIN_CITED) & (rates.moved > 0)]
    order = order.sort_values(["rate", "n"], ascending=[False, False], kind="stable")
    order = order[order.index != target]
    out = pd.Series("", index=bought.index, dtype="object")
    left = pd.Series(True, index=bought.index)
    for cat, r in order.iterrows():
        hit = left & (bought[cat] > 0)
        text = f"buyers like you who bought {cat} moved to {target}: {r.rate:.0%} of {int(r.n):,}"
        out[hit] = text
        left &= ~hit
    out[left] = f"buyers like you moved to {target}: {y.mean():.0%} of {len(y):,}"
    return out


def _one_target(
    w: _Window, target: str, *, min_movers: int, random_state: int
) -> tuple[dict[str, object], pd.DataFrame | None]:
    """The quality row of ``target`` and its scored candidates (None when no buyer moved).

    With too few movers (or non-movers) to learn from, the category is not modelled: every
    candidate's propensity is the training buyers' move rate, and the note says so."""
    train = w.bought_cut.index[w.bought_cut[target] == 0].intersection(w.x_cut.index)
    later = w.bought_now[target].reindex(train, fill_value=0.0)
    y = (later > 0).astype(int)
    movers, stay = int(y.sum()), int(len(y) - y.sum())
    row: dict[str, object] = {"category": target, "buyers": len(y), "movers": movers}
    least = max(min_movers, 4)  # a stratified 30% needs both classes on both sides
    who = w.bought_now.index[w.bought_now[target] == 0].intersection(w.x_now.index)
    if min(movers, stay) < least:
        row["note"] = f"skipped: {movers} movers and {stay} non-movers (fewer than {least})"
        if movers == 0:
            return row, None
        row["note"] = f"{row['note']}; ranked by the move rate, {movers / len(y):.1%}"
        return row, _scored(w, target, who, np.full(len(who), movers / len(y)), y)
    features = w.x_cut.loc[train]
    fit_x, test_x, fit_y, test_y = train_test_split(
        features, y, test_size=0.3, stratify=y, random_state=random_state
    )
    auc = float(
        roc_auc_score(test_y, _model(random_state).fit(fit_x, fit_y).predict_proba(test_x)[:, 1])
    )
    low, high = auc_interval(auc, int(test_y.sum()), int(len(test_y) - test_y.sum()))
    baseline = float(roc_auc_score(test_y, test_x["orders"]))
    row.update(
        held_out=len(test_y), auc=auc, auc_low=low, auc_high=high, auc_orders=baseline, note=""
    )
    model = _model(random_state).fit(features, y)
    now = w.x_now.loc[who, features.columns]
    propensity = model.predict_proba(now)[:, 1] if len(who) else np.empty(0)
    return row, _scored(w, target, who, propensity, y)


def _scored(
    w: _Window, target: str, who: pd.Index, propensity: np.ndarray, y: pd.Series
) -> pd.DataFrame:
    """The candidates of ``target``: persons ``who``, their propensity and reason."""
    return pd.DataFrame(
        {
            "person_id": who,
            "category": target,
            "propensity": propensity,
            "reason": _reasons(w.bought_now.loc[who], _pair_rates(w, y), target, y).values,
        }
    )


def cross_category(
    store: Store,
    *,
    as_of: date,
    lines: ir.Table | None = None,
    top: int = 3,
    horizon_days: int = 90,
    min_movers: int = 20,
    max_categories: int = 50,
    random_state: int = 0,
) -> CrossCategory:
    """Up to ``top`` categories per buyer that they never bought, ranked by the propensity to
    move to each (module docstring). ``lines``: the purchase lines
    (:func:`tenure.recommend.baskets.purchase_lines`, read from ``store`` when None);
    ``max_categories``: the categories with the most buyers are modelled, the others noted."""
    if top < 1 or horizon_days < 1:
        raise ConfigError(
            "The 'top' and 'horizon_days' parameters of cross_category must be ints in the "
            f"range [1, inf). Got top={top!r}, horizon_days={horizon_days!r} instead."
        )
    if lines is None:
        from tenure.recommend.baskets import purchase_lines

        lines = purchase_lines(store, as_of=as_of)
    cutoff = as_of - timedelta(days=horizon_days)
    days, uncategorised = _category_days(up_to(lines, as_of), product_categories(store))
    notes = []
    if uncategorised:
        notes.append(f"{uncategorised:,} purchase lines of products with no category left out")
    buyers = days.groupby("category").person_id.nunique().sort_values(ascending=False)
    categories = sorted(buyers.index[:max_categories])
    if len(buyers) > max_categories:
        notes.append(f"{len(buyers) - max_categories} categories with fewer buyers not modelled")
    if len(categories) < 2:
        notes.append(f"{len(categories)} categories bought: no move between categories to learn")
        return CrossCategory(as_of, cutoff, _ranked([], top), _ranked_quality([]), tuple(notes))
    w = _Window.of(
        (buyer_features(store, cutoff), buyer_features(store, as_of)),
        (_mix(days, cutoff, categories), _mix(days, as_of, categories)),
    )
    rows, scored = [], []
    # one BLAS thread: the fits are small, and threads fighting over 2 cores made them 15x slower
    with threadpool_limits(limits=1, user_api="blas"):
        for target in categories:
            row, cand = _one_target(w, target, min_movers=min_movers, random_state=random_state)
            rows.append(row)
            if cand is not None:
                scored.append(cand)
    return CrossCategory(as_of, cutoff, _ranked(scored, top), _ranked_quality(rows), tuple(notes))


def _ranked_quality(rows: list[dict[str, object]]) -> pd.DataFrame:
    q = pd.DataFrame(rows, columns=QUALITY_COLUMNS)
    return q.astype({"buyers": "int64", "movers": "int64", "held_out": "Int64"}).astype(
        {c: "float64" for c in ("auc", "auc_low", "auc_high", "auc_orders")}
    )


def _ranked(scored: list[pd.DataFrame], top: int) -> pd.DataFrame:
    if not scored:
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "rank" else "object") for c in CANDIDATE_COLUMNS}
        ).astype({"propensity": "float64"})
    c = pd.concat(scored, ignore_index=True)
    c = c.sort_values(["person_id", "propensity", "category"], ascending=[True, False, True])
    c["rank"] = c.groupby("person_id").cumcount().astype("int64") + 1
    c = c[c["rank"] <= top]
    return c[CANDIDATE_COLUMNS].reset_index(drop=True)

"""Per-buyer features for the gradient-boosted CLV model, built in Ibis (DuckDB or PySpark).

The features of a buyer as of a day ``D`` are their ``customer_facts`` row as of ``D``
(:func:`tenure.analytics.customer_facts`: RFM numbers, orders, revenue, margin, tenure,
recency, gap statistics, first order value, acquisition channel, first category) plus the
margin and orders of the trailing 90 and 365 days. The target of a training row is the
buyer's margin in ``(D, D + horizon]`` (refunds included, so it can be negative; 0 without
orders). :func:`training_frame` takes ``D = cutoff - horizon``, so the target window ends at
the cutoff: a model trained on it is applied to the features as of the cutoff
(:func:`scoring_frame`) to predict the ``horizon`` days after it.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from tenure.analytics.base import F64, orders_base
from tenure.analytics.facts import customer_facts
from tenure.models.ml import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from tenure.store import Store

#: Trailing windows (days) of margin and purchase counts.
WINDOWS = (90, 365)


def window_totals(orders: ir.Table, start: date, end: date, suffix: str = "") -> ir.Table:
    """w_person, margin{suffix}, orders{suffix}: margin of every order (refunds included)
    and number of purchases with a day in ``(start, end]``."""
    inside = orders.filter((orders.day > ibis.literal(start)) & (orders.day <= ibis.literal(end)))
    return inside.group_by(w_person=inside.person_id).agg(
        **{
            f"margin{suffix}": inside.margin.sum(),
            f"orders{suffix}": inside.is_purchase.cast("int64").sum(),
        }
    )


def _with_window(left: ir.Table, totals: ir.Table) -> ir.Table:
    j = left.left_join(totals, left.person_id == totals.w_person)
    added = [c for c in totals.columns if c != "w_person"]
    zero = {c: ibis.coalesce(j[c].cast(F64), ibis.literal(0.0)) for c in added}
    return j.select(*left.columns, **zero)


def feature_table(store: Store, as_of: date) -> ir.Table:
    """One row per buyer as of ``as_of``: person_id and every feature column."""
    orders = orders_base(store, as_of=as_of)
    facts = customer_facts(store, as_of=as_of, orders=orders)
    buyers = facts.filter(facts.is_buyer)
    numeric = {c: buyers[c].cast(F64) for c in NUMERIC_FEATURES if c in buyers.columns}
    table = buyers.select("person_id", *CATEGORICAL_FEATURES, **numeric)
    for days in WINDOWS:
        totals = window_totals(orders, as_of - timedelta(days=days), as_of, f"_{days}d")
        table = _with_window(table, totals)
    return table.select("person_id", *NUMERIC_FEATURES, *CATEGORICAL_FEATURES)


def training_frame(store: Store, cutoff: date, horizon_days: int) -> ir.Table:
    """Buyers as of ``cutoff - horizon_days`` with their features then and ``target``: their
    margin in ``(cutoff - horizon_days, cutoff]``."""
    start = cutoff - timedelta(days=horizon_days)
    features = feature_table(store, start)
    target = window_totals(orders_base(store, as_of=cutoff), start, cutoff, "_target")
    j = features.left_join(target, features.person_id == target.w_person)
    return j.select(
        *features.columns, target=ibis.coalesce(j.margin_target.cast(F64), ibis.literal(0.0))
    )


def scoring_frame(store: Store, as_of: date) -> ir.Table:
    """The features as of ``as_of`` (the rows a model trained up to ``as_of`` scores)."""
    return feature_table(store, as_of)

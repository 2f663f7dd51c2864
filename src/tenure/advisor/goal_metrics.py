"""The goals' metrics measured over any span of days, overall or for one acquisition channel
or engage segment (docs/advisor.md, "Goals and their forecast").

The definitions are those of docs/metrics.md, "KPIs per period", over a span of days instead
of a calendar period. The engine groups the orders base per person and day (an Ibis
expression); the small per-day result is combined in pandas.

* **additive** metrics (revenue, margin, orders, new_customers) are sums of daily values;
* **aov** is the ratio of two daily sums (purchase revenue / purchases);
* **span** metrics (customers, purchase_frequency, repeat_rate) count distinct buyers of the
  span, so they are measured on the span itself, never summed from days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.analytics.base import orders_base
from tenure.errors import ConfigError
from tenure.store import Store

#: The metrics of a goal and how each is measured over a span.
ADDITIVE = ("revenue", "margin", "orders", "new_customers")
RATIO = ("aov",)
SPAN = ("customers", "purchase_frequency", "repeat_rate")
METRICS = ADDITIVE + RATIO + SPAN
#: Metrics that are shares (a target in points: +2pt is +0.02).
RATES = ("repeat_rate",)
#: Money metrics (in the reporting currency).
MONEY = ("revenue", "margin", "aov")
SCOPES = ("overall", "channel", "segment")


@dataclass(frozen=True)
class Scope:
    """Whose orders count: everyone (``overall``), the buyers acquired by channel ``value``
    (``customer_facts.acquisition_channel``), or the members of engage segment ``value`` as
    of the as-of day (their orders over all history)."""

    kind: str = "overall"
    value: str | None = None

    def label(self) -> str:
        return "overall" if self.kind == "overall" else f"{self.kind} {self.value}"


def _persons(store: Store, scope: Scope, as_of: date) -> ir.Table | None:
    if scope.kind == "overall":
        return None
    if scope.kind == "channel":
        from tenure.analytics.facts import customer_facts

        facts = customer_facts(store, as_of=as_of)
        hit = facts.filter(facts.is_buyer & (facts.acquisition_channel == scope.value))
        return hit.select("person_id")
    if scope.kind == "segment":
        from tenure.engage.segments import clock, context, get_segment, members

        segment = get_segment(store, str(scope.value))
        return members(context(store, clock(store, None, as_of)), segment)
    raise ConfigError(f"Unknown goal scope {scope.kind!r}.", hint=f"Scopes: {', '.join(SCOPES)}.")


def person_days(store: Store, scope: Scope, as_of: date) -> pd.DataFrame:
    """One row per person and day with orders, up to ``as_of``: ``person_id``, ``day``,
    ``purchases``, ``revenue``, ``margin``, ``purchase_revenue``, and ``first_day`` (the
    person's first purchase day over all history up to ``as_of``)."""
    persons = _persons(store, scope, as_of)
    o = orders_base(store, as_of=as_of, persons=persons)
    bought = o.is_purchase.cast("int64")
    per = o.group_by(["person_id", "day"]).agg(
        purchases=bought.sum(),
        revenue=o.revenue.sum(),
        margin=o.margin.sum(),
        purchase_revenue=ibis.ifelse(o.is_purchase, o.revenue, ibis.null("float64")).sum(),
    )
    frame = per.to_pandas()
    money = ["revenue", "margin", "purchase_revenue"]
    frame[money] = frame[money].round(6)  # the engine's float sums vary in their last bits
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    firsts = frame[frame["purchases"] > 0].groupby("person_id")["day"].min()
    frame["first_day"] = frame["person_id"].map(firsts)
    return frame


def daily(frame: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Daily sums from ``first`` to ``last`` (every day, 0 without orders): revenue, margin,
    orders, new_customers, purchase_revenue."""
    index = pd.Index([first + timedelta(days=i) for i in range((last - first).days + 1)])
    f = frame.assign(new=(frame["day"] == frame["first_day"]).astype("int64"))
    sums = f.groupby("day").agg(
        revenue=("revenue", "sum"),
        margin=("margin", "sum"),
        orders=("purchases", "sum"),
        new_customers=("new", "sum"),
        purchase_revenue=("purchase_revenue", "sum"),
    )
    # rounded like every money sum (docs/metrics.md): the same series, so the same fit and
    # forecast, whatever order the rows came in
    return sums.reindex(index, fill_value=0).astype("float64").round(6)


def components(metric: str) -> tuple[str, ...]:
    """The daily series a metric is made of: one for an additive metric, numerator and
    denominator for a ratio; none for a span metric."""
    if metric in ADDITIVE:
        return (metric,)
    if metric == "aov":
        return ("purchase_revenue", "orders")
    return ()


def combine(metric: str, sums: Sequence[np.ndarray | float]) -> np.ndarray | float:
    """The metric from the sums of its components (a ratio: null where the denominator is 0)."""
    if metric in ADDITIVE:
        return sums[0]
    top, bottom = np.asarray(sums[0], dtype="float64"), np.asarray(sums[1], dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def span_value(frame: pd.DataFrame, metric: str, start: date, end: date) -> float | None:
    """The metric over the days ``start`` .. ``end`` (None when unknown: a ratio with no
    denominator, money of orders that could not be converted)."""
    f = frame[(frame["day"] >= start) & (frame["day"] <= end)]
    if metric in ADDITIVE or metric in RATIO:
        sums = daily(f, start, end).sum()
        value = combine(metric, [float(sums[c]) for c in components(metric)])
        return None if not np.isfinite(value) else float(value)
    buyers = (
        f[f["purchases"] > 0]
        .groupby("person_id")
        .agg(n=("purchases", "sum"), first=("first_day", "min"))
    )
    customers = len(buyers)
    if metric == "customers":
        return float(customers)
    if customers == 0:
        return None
    if metric == "purchase_frequency":
        return float(buyers["n"].sum()) / customers
    repeat = ((buyers["first"] < start) | (buyers["n"] > 1)).sum()
    return float(repeat) / customers


def check_metric(metric: str) -> str:
    """``metric`` normalised (``repeat rate`` -> ``repeat_rate``); a ConfigError naming the
    metrics otherwise."""
    name = metric.strip().lower().replace(" ", "_").replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in METRICS:
        raise ConfigError(
            f"Unknown goal metric {metric!r}.",
            hint=f"Metrics: {', '.join(METRICS)} (docs/advisor.md, 'Goals and their forecast').",
        )
    return name


#: Other names of the metrics.
ALIASES = {
    "sales": "revenue",
    "repeat_purchase_rate": "repeat_rate",
    "new": "new_customers",
    "buyers": "customers",
    "frequency": "purchase_frequency",
    "average_order_value": "aov",
}

__all__ = [
    "ADDITIVE",
    "METRICS",
    "MONEY",
    "RATES",
    "RATIO",
    "SCOPES",
    "SPAN",
    "Scope",
    "check_metric",
    "combine",
    "components",
    "daily",
    "person_days",
    "span_value",
]

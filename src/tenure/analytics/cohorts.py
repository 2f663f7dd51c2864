"""Acquisition cohorts followed over time: retention, orders, revenue and the CLV curve.

A buyer's cohort is the calendar period (week, month or quarter) of their first purchase,
optionally split by acquisition channel or first category. Every order of the buyer (refunds
and return rows included, on the order's own day) falls in the period since acquisition of its
day, counted in calendar periods of the same grain:

* month: ``(year * 12 + month)`` of the order day minus that of the cohort (never
  ``delta(unit="month")``, which DuckDB and Spark count differently);
* quarter: ``(year * 4 + quarter)`` likewise;
* week: weeks since the Monday that starts the cohort week, ``floor(days / 7)``.

The engine does the heavy part (:func:`cohort_cells`, one Ibis expression: each buyer's
cohort, then per cohort and period the buyers active, orders, revenue and margin), so it runs
the same on DuckDB and PySpark. The result is small (cohorts x periods), so pandas fills the
empty cells with 0, divides by the cohort size, accumulates the CLV curve and pivots
(:func:`cohorts`, :func:`cohort_matrix`). docs/metrics.md ("Cohorts") gives every formula.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.analytics.base import as_date, orders_base, store_end
from tenure.analytics.money import money_warnings
from tenure.errors import ConfigError
from tenure.store import Store, reporting_currency

PERIODS = ("week", "month", "quarter")
BY = ("acquisition", "channel", "first_category")
#: Matrix metric name -> column of the tidy table.
METRICS = {
    "retention": "retention",
    "active": "active",
    "orders": "orders",
    "revenue": "revenue_per_customer",
    "margin": "margin_per_customer",
    "cumulative_revenue": "cumulative_revenue_per_customer",
    "cumulative_margin": "cumulative_margin_per_customer",
}
#: The money columns of :func:`cohorts` (reporting currency); in :func:`cohort_matrix` every
#: period column is money when the metric is one of :data:`MONEY_METRICS`.
MONEY_COLUMNS = (
    "revenue",
    "margin",
    "revenue_per_customer",
    "margin_per_customer",
    "cumulative_revenue_per_customer",
    "cumulative_margin_per_customer",
)
MONEY_METRICS = ("revenue", "margin", "cumulative_revenue", "cumulative_margin")
#: The group column of a split cohort (``by`` other than acquisition).
GROUP_COLUMNS = {"channel": "channel", "first_category": "first_category"}
#: Monday 1 January 1900: week numbers count from it, so they are never negative.
WEEK_EPOCH = date(1900, 1, 1)
_NO_CATEGORY = "(none)"


def _check(name: str, value: str, choices: tuple[str, ...] | list[str]) -> None:
    if value not in choices:
        raise ConfigError(
            f"The '{name}' parameter of cohorts must be one of {', '.join(choices)}. "
            f"Got {value!r} instead."
        )


def period_number(day: ir.DateValue, period: str) -> ir.IntegerValue:
    """An integer that grows by one per calendar period (the same on every engine)."""
    if period == "month":
        return day.year().cast("int64") * 12 + day.month().cast("int64") - 1
    if period == "quarter":
        return day.year().cast("int64") * 4 + day.quarter().cast("int64") - 1
    days = day.delta(ibis.literal(WEEK_EPOCH), unit="day").cast("int64")
    return days // 7


def period_number_of(day: date, period: str) -> int:
    """:func:`period_number` in Python, for ``as_of``."""
    if period == "month":
        return day.year * 12 + day.month - 1
    if period == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    return (day - WEEK_EPOCH).days // 7


def period_start(number: int, period: str) -> date:
    """The first day of the calendar period ``number``."""
    if period == "month":
        return date(number // 12, number % 12 + 1, 1)
    if period == "quarter":
        return date(number // 4, (number % 4) * 3 + 1, 1)
    return WEEK_EPOCH + timedelta(weeks=number)


def period_label(number: int, period: str) -> str:
    """A cohort's name: ``1997-01``, ``1997-Q1``, or the Monday of the week ``1997-01-06``."""
    if period == "month":
        return f"{number // 12:04d}-{number % 12 + 1:02d}"
    if period == "quarter":
        return f"{number // 4:04d}-Q{number % 4 + 1}"
    return period_start(number, period).isoformat()


def _members(
    store: Store, orders: ir.Table, by: str, end: date, period: str, facts: ir.Table | None
) -> ir.Table:
    """m_person, grp, cohort_num: every buyer's cohort (persons without a purchase have none)."""
    p = orders.filter(orders.is_purchase)
    first = p.group_by(m_person=p.person_id).agg(first_day=p.day.min())
    if by == "acquisition":
        first = first.mutate(grp=ibis.literal("all"))
    else:
        from tenure.analytics.facts import customer_facts

        if facts is None:
            facts = customer_facts(store, as_of=end)
        column = "acquisition_channel" if by == "channel" else "first_category"
        facts = facts.select(f_person=facts.person_id, grp=facts[column])
        j = first.left_join(facts, first.m_person == facts.f_person)
        grp = ibis.coalesce(j.grp.cast("string"), ibis.literal(_NO_CATEGORY))
        first = j.select(m_person=j.m_person, first_day=j.first_day, grp=grp)
    return first.select("m_person", "grp", cohort_num=period_number(first.first_day, period))


def cohort_cells(
    store: Store,
    *,
    period: str = "month",
    by: str = "acquisition",
    as_of: date | datetime | None = None,
    facts: ir.Table | None = None,
) -> ir.Table:
    """The engine part, one Ibis expression: per cohort (``grp``, ``cohort_num``) and period
    since acquisition (``period``): ``customers`` (cohort size), ``active`` (buyers with a
    purchase in the period), ``orders`` (purchases), ``revenue`` and ``margin`` (every non-void
    order, refunds included). Sparse: a period where nothing happened has no row. An order
    dated before its buyer's first purchase (a fully refunded order, a return row) counts in
    period 0. ``facts``: the :func:`~tenure.analytics.facts.customer_facts` rows as of that
    day when the caller has them (the split by channel or first category reads them)."""
    _check("period", period, PERIODS)
    _check("by", by, BY)
    end = as_date(as_of) if as_of is not None else store_end(store)
    orders = orders_base(store, as_of=end)
    members = _members(store, orders, by, end, period, facts)
    sizes = members.group_by(["grp", "cohort_num"]).agg(customers=members.count())
    j = orders.join(members, orders.person_id == members.m_person)
    since = period_number(j.day, period) - j.cohort_num
    j = j.mutate(period=ibis.greatest(since, ibis.literal(0, "int64")))
    per_person = j.group_by(["grp", "cohort_num", "period", "person_id"]).agg(
        orders=j.is_purchase.cast("int64").sum(), revenue=j.revenue.sum(), margin=j.margin.sum()
    )
    cells = per_person.group_by(["grp", "cohort_num", "period"]).agg(
        active=(per_person.orders > 0).cast("int64").sum(),
        orders=per_person.orders.sum(),
        revenue=per_person.revenue.sum(),
        margin=per_person.margin.sum(),
    )
    joined = cells.join(sizes, [cells.grp == sizes.grp, cells.cohort_num == sizes.cohort_num])
    return joined.select(
        grp=cells.grp,
        cohort_num=cells.cohort_num,
        period=cells.period,
        customers=sizes.customers,
        active=cells.active,
        orders=cells.orders,
        revenue=cells.revenue,
        margin=cells.margin,
    )


_LONG_COLUMNS = [
    "cohort",
    "cohort_start",
    "period",
    "period_start",
    "partial",
    "customers",
    "active",
    "retention",
    "orders",
    *MONEY_COLUMNS,
]


def _dense(cells: pd.DataFrame, end: date, period: str) -> pd.DataFrame:
    """Every cell from period 0 to the period holding ``end``, empty ones as 0."""
    last = period_number_of(end, period)
    cohorts = cells[["grp", "cohort_num", "customers"]].drop_duplicates(["grp", "cohort_num"])
    spans = (last - cohorts["cohort_num"] + 1).clip(lower=1).to_numpy()
    grid = cohorts.loc[cohorts.index.repeat(spans)].reset_index(drop=True)
    grid["period"] = np.concatenate([np.arange(n) for n in spans]).astype("int64")
    values = cells.drop(columns="customers")
    out = grid.merge(values, on=["grp", "cohort_num", "period"], how="left")
    # a cell without orders has 0 revenue; one whose orders could not be converted, null
    empty = out["orders"].isna()
    for column in ("active", "orders"):
        out[column] = out[column].fillna(0).astype("int64")
    for column in ("revenue", "margin"):
        out[column] = out[column].astype("float64").mask(empty, 0.0)
    return out


def _finish(frame: pd.DataFrame, end: date, period: str, by: str) -> pd.DataFrame:
    size = frame["customers"].astype("float64")
    frame["retention"] = frame["active"] / size
    frame["revenue_per_customer"] = frame["revenue"] / size
    frame["margin_per_customer"] = frame["margin"] / size
    keys = ["grp", "cohort_num"]
    g = frame.groupby(keys, sort=False)
    frame["cumulative_revenue_per_customer"] = g["revenue"].cumsum() / size
    frame["cumulative_margin_per_customer"] = g["margin"].cumsum() / size
    number = frame["cohort_num"] + frame["period"]
    last = period_number_of(end, period)
    complete = period_start(last + 1, period) - timedelta(days=1) <= end
    frame["partial"] = (number == last) & (not complete)
    frame["cohort"] = [period_label(int(n), period) for n in frame["cohort_num"]]
    frame["cohort_start"] = [period_start(int(n), period) for n in frame["cohort_num"]]
    frame["period_start"] = [period_start(int(n), period) for n in number]
    columns = list(_LONG_COLUMNS)
    if by != "acquisition":
        frame = frame.rename(columns={"grp": GROUP_COLUMNS[by]})
        columns.insert(0, GROUP_COLUMNS[by])
    return frame[columns].reset_index(drop=True)


def cohorts(
    store: Store,
    *,
    period: str = "month",
    by: str = "acquisition",
    as_of: date | datetime | None = None,
    facts: ir.Table | None = None,
) -> pd.DataFrame:
    """The tidy cohort table: one row per cohort and period since acquisition (0, 1, ...,
    up to the period holding ``as_of``; the last one is ``partial`` unless ``as_of`` ends it).

    ``period``: week, month or quarter. ``by``: acquisition (cohort = acquisition period),
    channel or first_category (cohort = that value x acquisition period; a leading column
    names it). ``as_of`` defaults to :func:`store_end`. Columns: cohort, cohort_start,
    period, period_start, partial, customers, active, retention, orders, revenue, margin,
    revenue_per_customer, margin_per_customer, cumulative_revenue_per_customer,
    cumulative_margin_per_customer. Empty cells are 0, never missing; money is null where
    the orders could not be converted. ``attrs``: ``as_of`` (the observation end used),
    ``money`` (:data:`MONEY_COLUMNS`), ``currency``, ``warnings`` (the money warnings).
    ``facts``: as :func:`cohort_cells`'.
    """
    end = as_date(as_of) if as_of is not None else store_end(store)
    cells = cohort_cells(store, period=period, by=by, as_of=end, facts=facts).to_pandas()
    if cells.empty:
        columns = ([GROUP_COLUMNS[by]] if by != "acquisition" else []) + _LONG_COLUMNS
        out = pd.DataFrame(columns=columns)
    else:
        dense = _dense(cells, end, period)
        dense = dense.sort_values(["grp", "cohort_num", "period"], kind="stable")
        out = _finish(dense.reset_index(drop=True), end, period, by)
    out.attrs.update(
        as_of=end,
        money=MONEY_COLUMNS,
        currency=reporting_currency(store),
        warnings=money_warnings(store, as_of=end),
    )
    return out


def cohort_matrix(
    store: Store,
    *,
    period: str = "month",
    by: str = "acquisition",
    as_of: date | datetime | None = None,
    metric: str = "retention",
) -> pd.DataFrame:
    """The pivoted matrix: one row per cohort (its group column when split, ``cohort``,
    ``customers``), one column per period since acquisition (0 .. N, integer names).

    ``metric``: retention (share active), active, orders, revenue, margin (per customer),
    cumulative_revenue, cumulative_margin (per customer: the CLV curve). A cell a cohort has not
    reached yet is missing (NaN); a reached cell where nothing happened is 0. Pivoted in pandas
    after the engine aggregates (the table is small). ``attrs``: ``as_of``, ``partial``
    (true when the last cell of each row is a partial period), ``money`` (the period columns
    for a money metric), ``currency`` and ``warnings``.
    """
    _check("metric", metric, list(METRICS))
    long = cohorts(store, period=period, by=by, as_of=as_of)
    index = ([GROUP_COLUMNS[by]] if by != "acquisition" else []) + ["cohort", "customers"]
    if long.empty:
        wide = pd.DataFrame(columns=index)
    else:
        wide = long.pivot(index=index, columns="period", values=METRICS[metric])
        wide = wide.reindex(columns=range(int(long["period"].max()) + 1))
        wide.columns.name = None
        wide = wide.reset_index()
    periods = [c for c in wide.columns if isinstance(c, int)]
    wide.attrs.update(
        as_of=long.attrs["as_of"],
        partial=bool(long["partial"].any()),
        money=periods if metric in MONEY_METRICS else [],
        currency=long.attrs["currency"],
        warnings=long.attrs["warnings"],
    )
    return wide

"""Channel economics: new customers, spend, CAC, historical CLV, CLV:CAC, health, payback.

Definitions (docs/metrics.md, "KPIs"): a customer's channel is ``acquisition_channel`` of
``customer_facts``; spend is ``marketing_spend.cost`` converted to the reporting currency at
the latest ``fx_rates`` rate on or before its day (spend with no rate is left out and
counted in ``unconverted_spend_rows``); CAC = spend / new customers; historical CLV = mean
margin of the customer's orders within ``horizon_days`` of the first purchase, over customers
acquired at least ``horizon_days`` before ``as_of`` (so every one had the full horizon).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.facts import customer_facts
from tenure.analytics.money import money_warnings
from tenure.store import Store, reporting_currency

HEALTHY, WATCH = 3.0, 1.0
#: The money columns of :func:`channels` (reporting currency).
MONEY_COLUMNS = ("spend", "cac", "clv")


def spend_rows(store: Store, end: date) -> ir.Table:
    """day, channel, campaign, cost: every ``marketing_spend`` row up to ``end``, its cost
    converted to the reporting currency at the latest ``fx_rates`` rate on or before its day
    (null when there is none: such rows are left out of sums and counted apart)."""
    s = store.table("marketing_spend")
    s = s.filter(s.date <= end)
    reporting = reporting_currency(store)
    fx = store.table("fx_rates")
    fx = fx.select(fx_cur=fx.currency.upper(), fx_day=fx.date, rate=fx.rate.cast(F64))
    keyed = s.mutate(row=ibis.row_number().over(order_by=[s.date, s.channel, s.campaign]))
    foreign = keyed.filter(keyed.currency.upper() != reporting)
    pairs = foreign.join(fx, [foreign.currency.upper() == fx.fx_cur, fx.fx_day <= foreign.date])
    rates = pairs.group_by(r_row=pairs.row).agg(rate=pairs.rate.argmax(pairs.fx_day))
    j = keyed.left_join(rates, keyed.row == rates.r_row)
    rate = ibis.ifelse(j.currency.upper() == reporting, ibis.literal(1.0), j.rate)
    return j.select(
        day=j.date, channel=j.channel, campaign=j.campaign, cost=j.cost.cast(F64) * rate
    )


def _spend(store: Store, end: date) -> ir.Table:
    rows = spend_rows(store, end)
    return rows.group_by("channel").agg(
        spend=rows.cost.sum(), unconverted_spend_rows=rows.cost.isnull().cast("int64").sum()
    )


def historic_clv(
    store: Store,
    groups: ir.Table,
    end: date,
    horizon_days: int,
    *,
    person: str = "person_id",
    group: str = "group",
    value: str = "margin",
    orders: ir.Table | None = None,
) -> ir.Table:
    """``group``, clv, mature_customers: per group of ``groups`` (a ``person`` and a
    ``group`` column, one row per person) the historical CLV: the mean ``value`` (margin,
    or revenue) of a member's orders (refunds subtracted) within ``horizon_days`` of their
    first purchase, over the members whose first purchase day is at least ``horizon_days``
    before ``end`` (so each had the whole horizon; ``mature_customers`` counts them). A
    member without an order in the horizon counts 0; orders whose money is unknown stay
    unknown. Groups without a mature member have no row. ``orders``: the
    :func:`orders_base` as of ``end``, when the caller has it already."""
    o = orders if orders is not None else orders_base(store, as_of=end)
    bought = o.filter(o.is_purchase)
    first = bought.group_by(_h_person=bought.person_id).agg(_h_first=bought.day.min())
    first = first.filter(first._h_first <= ibis.literal(end - timedelta(days=horizon_days)))
    members = groups.select(_h_member=groups[person], _h_group=groups[group])
    mature = members.join(first, members._h_member == first._h_person).select(
        "_h_member", "_h_group", "_h_first"
    )
    j = o.join(mature, o.person_id == mature._h_member)
    within = j.filter(j.day.delta(j._h_first, unit="day") < horizon_days)
    per = within.group_by(_h_who=within._h_member).agg(_h_m=within[value].sum())
    people = mature.left_join(per, mature._h_member == per._h_who).select(
        # no order within the horizon is 0; orders whose money is unknown stay unknown
        _h_group=mature._h_group,
        _h_m=ibis.ifelse(per._h_who.isnull(), ibis.literal(0.0), per._h_m),
    )
    return people.group_by(**{group: people._h_group}).agg(
        clv=people._h_m.mean(), mature_customers=people.count()
    )


def channels(
    store: Store,
    *,
    as_of: date | None = None,
    horizon_days: int = 365,
    facts: ir.Table | None = None,
) -> pd.DataFrame:
    """One row per acquisition channel (or spend channel): new customers, spend, CAC, CLV,
    CLV:CAC, its health flag and the CAC payback in months (blank without spend). The
    per-channel aggregates run in the engine; the few channel rows are combined in pandas.
    ``attrs``: ``as_of``, ``money`` (:data:`MONEY_COLUMNS`), ``currency``, ``warnings`` (the
    money warnings). ``facts``: the :func:`customer_facts` rows as of that day when the
    caller has them (the stored table of a current pipeline)."""
    end = as_of if as_of is not None else store_end(store)
    if facts is None:
        facts = customer_facts(store, as_of=end)
    buyers = facts.filter(facts.is_buyer)
    new = buyers.group_by(channel=buyers.acquisition_channel).agg(new_customers=buyers.count())
    spend = _spend(store, end).to_pandas()
    members = buyers.select("person_id", channel=buyers.acquisition_channel)
    clv = historic_clv(store, members, end, horizon_days, group="channel").to_pandas()
    out = (
        new.to_pandas().merge(spend, on="channel", how="outer").merge(clv, on="channel", how="left")
    )
    # a channel without spend rows has unknown spend (null), so no CAC, CLV:CAC or payback
    out = out.fillna({"new_customers": 0, "unconverted_spend_rows": 0, "mature_customers": 0})
    out = out.astype(
        {"new_customers": "int64", "unconverted_spend_rows": "int64", "mature_customers": "int64"}
    )
    out = economics(out, horizon_days)
    columns = [
        "channel",
        "new_customers",
        "spend",
        "unconverted_spend_rows",
        "cac",
        "clv",
        "mature_customers",
        "clv_cac",
        "health",
        "payback_months",
    ]
    result = out[columns].sort_values("channel").reset_index(drop=True)
    result.attrs.update(
        as_of=end,
        money=MONEY_COLUMNS,
        currency=reporting_currency(store),
        warnings=money_warnings(store, as_of=end, spend=True),
    )
    return result


def economics(frame: pd.DataFrame, horizon_days: int = 365) -> pd.DataFrame:
    """``frame`` (``new_customers``, ``spend``, ``clv`` per group: a channel, a campaign)
    with ``cac``, ``clv_cac``, ``health`` and ``payback_months`` as :func:`channels`
    defines them."""
    out = frame.copy()
    out["cac"] = out["spend"] / out["new_customers"].where(out["new_customers"] > 0)
    out["clv_cac"] = out["clv"] / out["cac"].where(out["cac"] > 0)
    out["health"] = [
        _health(ratio, spend, clv)
        for ratio, spend, clv in zip(out["clv_cac"], out["spend"], out["clv"], strict=True)
    ]
    monthly = out["clv"] / (horizon_days / 30.4375)
    out["payback_months"] = out["cac"] / monthly.where(monthly > 0)
    return out


def _health(ratio: float, spend: float, clv: float) -> str:
    """The health flag of a channel's CLV:CAC; without a ratio, why there is none."""
    if pd.isna(ratio):
        if pd.isna(spend) or spend <= 0:
            return "no spend"
        if pd.isna(clv):
            return "too early"  # no customer has had the whole horizon yet
        return "no new customers"
    if ratio >= HEALTHY:
        return "healthy"
    return "watch" if ratio > WATCH else "losing money"

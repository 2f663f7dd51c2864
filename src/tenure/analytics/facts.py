"""``customer_facts``: one row per person, the summary every other analytic reads.

Buyers (at least one purchase) and prospects (a known person without a purchase: a customer
record or an identified visitor) each get a row. The buy-till-you-die summary follows the CLV
literature (Fader, Hardie & Lee 2005; lifetimes' ``summary_data_from_transaction_data``):
purchases on the same day are merged into one, ``frequency`` = purchase days - 1 (repeat
purchase periods), ``recency`` = last - first purchase day, ``T`` = observation end - first
purchase day, in days and in weeks (days / 7); ``monetary`` = average revenue of the repeat
purchase days (0 without repeats). See docs/metrics.md for every column.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from tenure.analytics.base import F64, orders_base
from tenure.analytics.touch import (
    attributed_events,
    earliest,
    first_touch,
    last_touch_before,
    utm_channel,
)
from tenure.store import Store


def daily_purchases(orders: ir.Table) -> ir.Table:
    """person_id, day -> purchases that day merged: revenue, margin, orders."""
    p = orders.filter(orders.is_purchase)
    return p.group_by(["person_id", "day"]).agg(
        value=p.revenue.sum(), day_margin=p.margin.sum(), n_orders=p.count()
    )


def _btyd(daily: ir.Table, end: date) -> ir.Table:
    """The per-person summary from merged purchase days, with gap statistics."""
    w = ibis.window(group_by=daily.person_id, order_by=daily.day)
    with_gap = daily.mutate(
        first_day=daily.day.min().over(group_by=daily.person_id),
        prev=daily.day.lag().over(w),
    )
    gap = with_gap.day.delta(with_gap.prev, unit="day").cast(F64)
    repeat_value = ibis.ifelse(with_gap.day > with_gap.first_day, with_gap.value, ibis.null(F64))
    g = with_gap.mutate(gap=gap, repeat_value=repeat_value)
    end_lit = ibis.literal(end)
    per = g.group_by("person_id").agg(
        first_day=g.day.min(),
        last_day=g.day.max(),
        purchase_days=g.count(),
        repeat_value_sum=g.repeat_value.sum(),
        gap_mean=g.gap.mean(),
        gap_median=g.gap.median(),
        gap_std=g.gap.std(),
    )
    frequency = per.purchase_days - 1
    recency = per.last_day.delta(per.first_day, unit="day")
    age = end_lit.delta(per.first_day, unit="day")
    return per.select(
        "person_id",
        "first_day",
        "last_day",
        "gap_mean",
        "gap_median",
        "gap_std",
        frequency=frequency,
        recency_days=recency,
        T_days=age,
        recency_weeks=recency.cast(F64) / ibis.literal(7.0),
        T_weeks=age.cast(F64) / ibis.literal(7.0),
        monetary=ibis.ifelse(
            frequency > 0,
            per.repeat_value_sum / frequency.cast(F64).nullif(0.0),
            ibis.literal(0.0),
        ),
        days_since_last_order=end_lit.delta(per.last_day, unit="day"),
    )


def _order_totals(orders: ir.Table) -> ir.Table:
    p = orders.filter(orders.is_purchase)
    money = orders.group_by("person_id").agg(
        revenue=orders.revenue.sum(), margin=orders.margin.sum()
    )
    counts = p.group_by(c_person=p.person_id).agg(
        orders=p.count(),
        purchase_revenue=p.revenue.sum(),
        first_order_at=p.ordered_at.min(),
        last_order_at=p.ordered_at.max(),
    )
    joined = counts.left_join(money, counts.c_person == money.person_id)
    return joined.select(
        person_id=joined.c_person,
        orders=joined.orders,
        repeat_orders=joined.orders - 1,
        revenue=joined.revenue,
        margin=joined.margin,
        aov=joined.purchase_revenue / joined.orders.cast(F64),
        first_order_at=joined.first_order_at,
        last_order_at=joined.last_order_at,
    )


def _first_order(store: Store, orders: ir.Table) -> ir.Table:
    """The first purchase of each person: its id, value, touch, product and category."""
    p = orders.filter(orders.is_purchase)
    first = earliest(p, "person_id", "ordered_at", "order_id")
    items = store.table("order_items")
    items = items.semi_join(first, items.order_id == first.order_id)  # before ranking lines
    line1 = earliest(items, "order_id", "line")
    j = first.left_join(line1, first.order_id == line1.order_id)
    return j.select(
        f_person=j.person_id,
        f_at=j.ordered_at,
        first_order_id=first.order_id,
        first_order_value=j.revenue,
        o_channel=j.channel,
        o_source=j.utm_source,
        o_medium=j.utm_medium,
        o_campaign=j.utm_campaign,
        first_product=j.product_id,
        first_category=j.category,
    )


def buyer_facts(store: Store, end: date, orders: ir.Table | None = None) -> ir.Table:
    """One row per buyer (``orders`` >= 1) with every fact column; ``orders``: the
    :func:`orders_base` as of ``end`` when the caller has it already (refresh writes it once)."""
    if orders is None:
        orders = orders_base(store, as_of=end)
    btyd = _btyd(daily_purchases(orders), end)
    totals = _order_totals(orders)
    first = _first_order(store, orders)
    events = attributed_events(store)
    events = events.filter(events.timestamp.date() <= ibis.literal(end))
    ft = first_touch(events)
    lt = last_touch_before(events, first.select("f_person", "f_at"))
    j = _left(_left(_inner(_inner(totals, btyd), first, "f_person"), ft), lt)
    order_touch = ibis.ifelse(
        j.o_source.notnull() | j.o_medium.notnull(),
        utm_channel(j.o_medium, j.o_source),
        ibis.null("string"),
    )
    channel = ibis.coalesce(j.o_channel, order_touch, j.lt_channel, j.ft_channel, "direct")
    has_order_utm = j.o_source.notnull() | j.o_medium.notnull() | j.o_campaign.notnull()
    campaign = ibis.ifelse(has_order_utm | j.o_channel.notnull(), j.o_campaign, j.lt_campaign)
    return j.select(
        person_id=j.person_id,
        is_buyer=ibis.literal(True),
        **{c: j[c] for c in _BUYER_COLUMNS},
        acquisition_channel=channel,
        acquisition_campaign=campaign,
        first_touch_channel=ibis.coalesce(j.ft_channel, channel),
        first_touch_source=j.ft_source,
        first_touch_medium=j.ft_medium,
        first_touch_campaign=j.ft_campaign,
        as_of=ibis.literal(end),
    )


_BUYER_COLUMNS = (
    "first_order_at",
    "last_order_at",
    "orders",
    "repeat_orders",
    "revenue",
    "margin",
    "aov",
    "frequency",
    "recency_days",
    "T_days",
    "recency_weeks",
    "T_weeks",
    "monetary",
    "first_order_id",
    "first_order_value",
    "first_product",
    "first_category",
    "days_since_last_order",
    "gap_mean",
    "gap_median",
    "gap_std",
)


def known_persons(store: Store, end: date) -> ir.Table:
    """k_person, known_since: everyone the store can reach, from customer records (person of
    the customer id, else the id itself) and identified e-mails in ``identities``."""
    c = store.table("customers")
    ids = store.table("identities")
    cust_ids = ids.filter(ids.kind == "customer_id").select(cid="value", pid="person_id")
    rec = c.left_join(cust_ids, c.customer_id == cust_ids.cid)
    from_records = rec.select(
        k_person=ibis.coalesce(rec.pid, rec.customer_id.strip().nullif("")),
        at=rec.created_at,
    )
    mails = ids.filter((ids.kind == "email") & ids.person_id.notnull())
    from_ids = mails.select(k_person=mails.person_id, at=mails.first_seen)
    both = ibis.union(from_records, from_ids)
    both = both.filter(both.k_person.notnull() & (both.at.isnull() | (both.at.date() <= end)))
    return both.group_by("k_person").agg(known_since=both.at.min())


def customer_facts(
    store: Store, *, as_of: date | None = None, orders: ir.Table | None = None
) -> ir.Table:
    """The ``customer_facts`` expression: buyers and prospects, as of ``as_of`` (default:
    the day of the latest order). ``orders``: ``orders_base(store, as_of=as_of)`` already
    materialised, if the caller has it."""
    from tenure.analytics.base import store_end

    end = as_of if as_of is not None else store_end(store)
    buyers = buyer_facts(store, end, orders)
    known = known_persons(store, end)
    j = buyers.outer_join(known, buyers.person_id == known.k_person)
    zero = ibis.literal(0, "int64")
    out = {c: j[c] for c in buyers.columns}
    out.update(
        person_id=ibis.coalesce(j.person_id, j.k_person),
        is_buyer=ibis.coalesce(j.is_buyer, False),
        orders=ibis.coalesce(j.orders, zero),
        repeat_orders=ibis.coalesce(j.repeat_orders, zero),
        revenue=ibis.coalesce(j.revenue, 0.0),
        margin=ibis.coalesce(j.margin, 0.0),
        as_of=ibis.literal(end),
    )
    since = ibis.coalesce(j.known_since, j.first_order_at)
    out["known_since"] = ibis.ifelse(since > j.first_order_at, j.first_order_at, since)
    return j.select(**out)


def _rekey(t: ir.Table, key: str) -> tuple[ir.Table, str]:
    if key == "person_id":
        t = t.rename(_k="person_id")
        key = "_k"
    return t, key


def _inner(left: ir.Table, right: ir.Table, key: str = "person_id") -> ir.Table:
    right, key = _rekey(right, key)
    j = left.join(right, left.person_id == right[key])
    return j.select(*left.columns, *[c for c in right.columns if c != key])


def _left(left: ir.Table, right: ir.Table, key: str = "person_id") -> ir.Table:
    right, key = _rekey(right, key)
    j = left.left_join(right, left.person_id == right[key])
    return j.select(*left.columns, *[c for c in right.columns if c != key])

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

from tenure.analytics.base import F64, money_sum, orders_base
from tenure.analytics.touch import (
    attributed_events,
    first_touch,
    last_touch_before,
    utm_channel,
)
from tenure.store import Store


def daily_purchases(orders: ir.Table) -> ir.Table:
    """person_id, day -> purchases that day merged: revenue, margin, orders."""
    p = orders.filter(orders.is_purchase)
    return p.group_by(["person_id", "day"]).agg(
        value=money_sum(p.revenue), day_margin=money_sum(p.margin), n_orders=p.count()
    )


def btyd_summary(daily: ir.Table, end: date) -> ir.Table:
    """The per-person summary from merged purchase days (:func:`daily_purchases`), with gap
    statistics."""
    w = ibis.window(group_by=daily.person_id, order_by=daily.day)
    g = daily.mutate(prev=daily.day.lag().over(w))
    gap = g.day.delta(g.prev, unit="day").cast(F64)
    # a person's days are distinct: only the first purchase day has no previous one
    repeat_value = ibis.ifelse(g.prev.notnull(), g.value, ibis.null(F64))
    per = g.group_by("person_id").agg(
        first_day=g.day.min(),
        last_day=g.day.max(),
        purchase_days=g.count(),
        repeat_value_sum=money_sum(repeat_value),
        **_gap_stats(gap),
    )
    return per.select("person_id", "first_day", "last_day", *_GAPS, **_summary(per, end))


_GAPS = ("gap_mean", "gap_median", "gap_std")


def _gap_stats(gap: ir.FloatingValue) -> dict[str, ir.Value]:
    return {"gap_mean": gap.mean(), "gap_median": gap.median(), "gap_std": gap.std()}


def _summary(per: ir.Table, end: date) -> dict[str, ir.Value]:
    """The BTYD columns from first_day, last_day, purchase_days and repeat_value_sum."""
    frequency = per.purchase_days - 1
    recency = per.last_day.delta(per.first_day, unit="day")
    end_lit = ibis.literal(end)
    age = end_lit.delta(per.first_day, unit="day")
    return {
        "frequency": frequency,
        "recency_days": recency,
        "T_days": age,
        "recency_weeks": recency.cast(F64) / ibis.literal(7.0),
        "T_weeks": age.cast(F64) / ibis.literal(7.0),
        "monetary": ibis.ifelse(
            frequency > 0,
            per.repeat_value_sum / frequency.cast(F64).nullif(0.0),
            ibis.literal(0.0),
        ),
        "days_since_last_order": end_lit.delta(per.last_day, unit="day"),
    }


def _buyers(orders: ir.Table, end: date) -> ir.Table:
    """One row per buyer: BTYD summary, gaps, totals and first purchase, from the orders base
    in one sort and one aggregate.

    Each person's orders are ranked purchases first, by time, then order id. A purchase whose
    previous purchase fell on another day starts a purchase day (same-day purchases merge) and
    the days between the two are a gap; rank 0 is the first purchase. This is
    what :func:`btyd_summary` computes from :func:`daily_purchases`, without grouping the orders by
    person and day first: that aggregate (9.6M groups at 10M orders) and a second sort cost about
    half of ``customer_facts``."""
    o = orders.select(
        "person_id", "order_id", "ordered_at", "day", "revenue", "margin", "is_purchase"
    )
    w = ibis.window(
        group_by=o.person_id, order_by=[ibis.desc(o.is_purchase), o.ordered_at, o.order_id]
    )
    r = o.mutate(
        _prev=o.day.lag().over(w),
        _rank=ibis.row_number().over(w),
        _first=ibis.ifelse(o.is_purchase, o.day, ibis.null("date")).min().over(w),
    )
    bought = r.is_purchase
    new_day = bought & (r._prev.isnull() | (r.day != r._prev))
    later_day = bought & r._prev.notnull() & (r.day != r._prev)
    gap = ibis.ifelse(later_day, r.day.delta(r._prev, unit="day").cast(F64), ibis.null(F64))
    first = bought & (r._rank == 0)
    per = r.group_by("person_id").agg(
        orders=r.count(where=bought),
        revenue=money_sum(r.revenue),
        margin=money_sum(r.margin),
        purchase_revenue=money_sum(r.revenue, where=bought),
        first_order_at=r.ordered_at.min(where=bought),
        last_order_at=r.ordered_at.max(where=bought),
        first_day=r.day.min(where=bought),
        last_day=r.day.max(where=bought),
        purchase_days=r.count(where=new_day),
        repeat_value_sum=money_sum(r.revenue, where=bought & (r.day > r._first)),
        first_order_id=r.order_id.max(where=first),
        first_order_value=r.revenue.max(where=first),
        **_gap_stats(gap),
    )
    per = per.filter(per.orders > 0)
    return per.select(
        "person_id",
        "first_order_at",
        "last_order_at",
        "orders",
        "revenue",
        "margin",
        "first_order_id",
        "first_order_value",
        *_GAPS,
        repeat_orders=per.orders - 1,
        aov=per.purchase_revenue / per.orders.cast(F64),
        **_summary(per, end),
    )


def _first_order(store: Store, buyers: ir.Table) -> ir.Table:
    """``buyers`` with their first purchase's touch (channel, UTMs) and first line (product,
    category), read from ``orders`` and ``order_items`` for the first order ids only."""
    o = store.table("orders")
    touch = o.select(
        t_order=o.order_id,
        o_channel=o.channel,
        o_source=o.utm_source,
        o_medium=o.utm_medium,
        o_campaign=o.utm_campaign,
    )
    ids = buyers.select(f_order="first_order_id")
    items = store.table("order_items")
    items = items.semi_join(ids, items.order_id == ids.f_order)
    # the first line (line numbers are part of the key: never null)
    lines = items.group_by(l_order=items.order_id).agg(
        first_product=items.product_id.argmin(items.line),
        first_category=items.category.argmin(items.line),
    )
    j = buyers.left_join(touch, buyers.first_order_id == touch.t_order).drop("t_order")
    j = j.left_join(lines, j.first_order_id == lines.l_order)
    return j.drop("l_order")


def only(table: ir.Table, persons: ir.Table | None, column: str = "person_id") -> ir.Table:
    """``table`` restricted to the persons of ``persons`` (column ``person_id``), or as it is
    when ``persons`` is None."""
    if persons is None:
        return table
    keys = persons.select(_only_person="person_id")
    return table.semi_join(keys, table[column] == keys._only_person)


def buyer_facts(
    store: Store, end: date, orders: ir.Table | None = None, persons: ir.Table | None = None
) -> ir.Table:
    """One row per buyer (``orders`` >= 1) with every fact column; ``orders``: the
    :func:`orders_base` as of ``end`` when the caller has it already (refresh writes it once:
    order_id, person_id, ordered_at, day, revenue, margin and is_purchase are enough).
    ``persons``: only these persons (the incremental run; ``orders`` must hold all of their
    orders)."""
    if orders is None:
        orders = only(orders_base(store, as_of=end), persons)
    buyers = _buyers(orders, end)
    first = _first_order(store, buyers)
    events = only(attributed_events(store), persons)
    events = events.filter(events.timestamp.date() <= ibis.literal(end))
    ft = first_touch(events)
    lt = last_touch_before(events, buyers.select(f_person="person_id", f_at="first_order_at"))
    j = left_join_on_person(left_join_on_person(first, ft), lt)
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


#: The money columns of ``customer_facts`` (reporting currency; null when unconvertible).
MONEY_COLUMNS = ("revenue", "margin", "aov", "monetary", "first_order_value")

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
    store: Store,
    *,
    as_of: date | None = None,
    orders: ir.Table | None = None,
    persons: ir.Table | None = None,
) -> ir.Table:
    """The ``customer_facts`` expression: buyers and prospects, as of ``as_of`` (default:
    the as-of day of :func:`store_end`). ``orders``: ``orders_base(store, as_of=as_of)`` already
    materialised, if the caller has it. ``persons`` (a table with ``person_id``): the rows of
    these persons only, the same as those of the whole table (the incremental run)."""
    from tenure.analytics.base import store_end

    end = as_of if as_of is not None else store_end(store)
    buyers = buyer_facts(store, end, orders, persons)
    known = only(known_persons(store, end), persons, "k_person")
    j = buyers.outer_join(known, buyers.person_id == known.k_person)
    zero = ibis.literal(0, "int64")
    out = {c: j[c] for c in buyers.columns}
    out.update(
        person_id=ibis.coalesce(j.person_id, j.k_person),
        is_buyer=ibis.coalesce(j.is_buyer, False),
        orders=ibis.coalesce(j.orders, zero),
        repeat_orders=ibis.coalesce(j.repeat_orders, zero),
        # a prospect spent 0; a buyer whose orders could not be converted has null money
        revenue=ibis.ifelse(j.is_buyer.isnull(), ibis.literal(0.0), j.revenue),
        margin=ibis.ifelse(j.is_buyer.isnull(), ibis.literal(0.0), j.margin),
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


def join_on_person(left: ir.Table, right: ir.Table, key: str = "person_id") -> ir.Table:
    """``left`` (keyed by ``person_id``) inner-joined with ``right`` on its column ``key``:
    ``left``'s columns, then ``right``'s without the key."""
    right, key = _rekey(right, key)
    j = left.join(right, left.person_id == right[key])
    return j.select(*left.columns, *[c for c in right.columns if c != key])


def left_join_on_person(left: ir.Table, right: ir.Table, key: str = "person_id") -> ir.Table:
    """As :func:`join_on_person`, keeping every row of ``left`` (nulls where ``right`` has
    no row)."""
    right, key = _rekey(right, key)
    j = left.left_join(right, left.person_id == right[key])
    return j.select(*left.columns, *[c for c in right.columns if c != key])

"""Customer statuses: prospect, new, active, at risk, lapsed, VIP.

A person's status as of a day ``end`` is the first that applies (docs/metrics.md,
"Statuses"):

1. ``prospect``: known (a customer record or an identified e-mail), no purchase yet;
2. ``new``: the first purchase is fewer than ``new_customer_days`` days old;
3. ``lapsed``: no purchase for ``lapsed_days`` days or more;
4. ``at_risk``: days since the last purchase exceed ``at_risk_factor`` x the expected gap
   between purchases of the person's *rhythm segment*, measured from the data;
5. ``vip``: in the VIP value tier (top ``vip_share`` of buyers by margin, as in RFM);
6. ``active``: every other buyer.

The rhythm segment (setting ``status_segment_by``) is ``orders`` (default): the number of
purchase days so far, banded 1, 2, 3-4, 5+; the expected gap of a person with *n* purchase
days is the median gap between purchase days *k* and *k + 1* over every buyer, for *k* in the
same band as *n* (a one-time buyer waits for a second purchase: the median time to a second
purchase). ``tier``: the value tier (vip/high/mid/low) and the median of every gap of its
members. ``none``: the median of every gap of the store. A segment without any gap uses the
store's median; a store without repeat purchases has no at-risk customers.
Everything is one Ibis expression (same answer on DuckDB and PySpark).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, limited, money_sum, orders_base, store_end
from tenure.analytics.facts import (
    daily_purchases,
    join_on_person,
    known_persons,
    left_join_on_person,
)
from tenure.analytics.money import money_warnings
from tenure.errors import ConfigError
from tenure.identity.lookup import read_with_labels
from tenure.store import Store

#: Lifecycle statuses, in the order of precedence above.
STATUSES = ("prospect", "new", "lapsed", "at_risk", "vip", "active")
SEGMENT_BY = ("orders", "tier", "none")


def purchase_band(k: ir.IntegerValue) -> ir.StringValue:
    """The purchase-count segment of the status rhythm: ``1``, ``2``, ``3-4`` or ``5+``
    purchase days (predictions read their segment's rhythm by it too)."""
    return ibis.cases((k <= 1, "1"), (k == 2, "2"), (k <= 4, "3-4"), else_="5+")


def value_tier(rank: ir.IntegerValue, n: ir.IntegerValue, share: float) -> ir.StringValue:
    """vip / high / mid / low from a 0-based rank by margin (descending, ties by person id)
    among ``n`` buyers: the RFM tiers (:func:`tenure.analytics.rfm.rfm`) use it too."""
    top = rank.cast(F64) / n.cast(F64)
    return ibis.cases(
        (top < share, "vip"),
        (top < share + 0.20, "high"),
        (top < share + 0.50, "mid"),
        else_="low",
    )


def purchase_day_gaps(orders: ir.Table) -> ir.Table:
    """person_id, day, k (1-based purchase-day number), gap (days to the next purchase)."""
    d = daily_purchases(orders).select("person_id", "day")
    w = ibis.window(group_by=d.person_id, order_by=d.day)
    nxt = d.day.lead().over(w)
    return d.mutate(
        k=(ibis.row_number().over(w) + 1).cast("int64"),
        gap=nxt.delta(d.day, unit="day").cast(F64),
    )


def purchase_gaps(orders: ir.Table) -> ir.Table:
    """person_id, k, gap: every gap between a buyer's purchase days *k* and *k + 1* (the
    per-person input of the rhythm medians; table ``purchase_gaps``, built with
    ``customer_facts``)."""
    days = purchase_day_gaps(orders)
    gaps = days.filter(days.gap.notnull())
    return gaps.select("person_id", k=gaps.k.cast("int64"), gap=gaps.gap)


def _buyers(orders: ir.Table, days: ir.Table) -> ir.Table:
    """One row per buyer: first/last purchase day, purchase days, margin."""
    per = days.group_by("person_id").agg(
        first_day=days.day.min(), last_day=days.day.max(), purchase_days=days.count()
    )
    money = orders.group_by(m_person=orders.person_id).agg(margin=money_sum(orders.margin))
    j = per.left_join(money, per.person_id == money.m_person)
    return j.select(
        "person_id", "first_day", "last_day", "purchase_days", margin=ibis.coalesce(j.margin, 0.0)
    )


def _ranked(b: ir.Table, end: date, share: float) -> ir.Table:
    """Buyers (person_id, first_day, last_day, purchase_days, margin) with their value tier
    and the days since their first and last purchase."""
    rank = ibis.row_number().over(order_by=[ibis.desc(b.margin), b.person_id])
    return b.mutate(
        tier=value_tier(rank, b.count().over(), share),
        days_since_last_order=ibis.literal(end).delta(b.last_day, unit="day"),
        days_since_first_order=ibis.literal(end).delta(b.first_day, unit="day"),
    )


def _expected_gaps(days: ir.Table, buyers: ir.Table, segment_by: str) -> ir.Table:
    """person_id, rhythm_segment, expected_gap_days (``days``: person_id, k, gap)."""
    gaps = days.filter(days.gap.notnull())
    overall = gaps.gap.median().as_scalar()
    if segment_by == "orders":
        seg_of_gap = gaps.mutate(seg=purchase_band(gaps.k))
        person_seg = buyers.select("person_id", seg=purchase_band(buyers.purchase_days))
    elif segment_by == "tier":
        tiers = buyers.select("person_id", "tier")
        seg_of_gap = join_on_person(gaps, tiers).rename(seg="tier")
        person_seg = tiers.rename(seg="tier")
    else:
        seg_of_gap = gaps.mutate(seg=ibis.literal("all"))
        person_seg = buyers.select("person_id", seg=ibis.literal("all"))
    medians = seg_of_gap.group_by(s_seg=seg_of_gap.seg).agg(seg_gap=seg_of_gap.gap.median())
    j = person_seg.left_join(medians, person_seg.seg == medians.s_seg)
    return j.select(
        "person_id",
        rhythm_segment=j.seg,
        expected_gap_days=ibis.coalesce(j.seg_gap, overall),
    )


def _check(store: Store, segment_by: str | None) -> str:
    value = segment_by if segment_by is not None else store.settings.status_segment_by
    if value not in SEGMENT_BY:
        raise ConfigError(
            f"The 'segment_by' parameter of customer_status must be one of "
            f"{', '.join(SEGMENT_BY)}. Got {value!r} instead."
        )
    return value


def customer_status(
    store: Store,
    *,
    as_of: date | None = None,
    orders: ir.Table | None = None,
    segment_by: str | None = None,
) -> ir.Table:
    """One row per known person with their status as of ``as_of`` (default: the as-of
    day). Columns: person_id, status, is_vip, tier, rhythm_segment, expected_gap_days,
    at_risk_after_days, purchase_days, first_order_day, last_order_day,
    days_since_last_order, as_of. ``orders``: :func:`orders_base` if the caller has it."""
    by = _check(store, segment_by)
    end = as_of if as_of is not None else store_end(store)
    if orders is None:
        orders = orders_base(store, as_of=end)
    else:
        orders = orders.filter(orders.day <= ibis.literal(end))
    days = purchase_day_gaps(orders)
    rows = _status_rows(store, _buyers(orders, days), days, end, by)
    return _with_prospects(store, rows, end)


def status_from_facts(
    store: Store, facts: ir.Table, gaps: ir.Table, end: date, *, segment_by: str | None = None
) -> ir.Table:
    """:func:`customer_status` from ``customer_facts`` and ``purchase_gaps`` (the pipeline's
    step: no orders read). The same rows: a buyer's purchase days are ``frequency + 1``, the
    first and last purchase days those of ``first_order_at`` and ``last_order_at``, the
    margin the facts' total margin (0 when unknown); the prospects are the facts' persons
    without a purchase. ``end``: the facts' as-of day."""
    by = _check(store, segment_by)
    f = facts.filter(facts.is_buyer)
    buyers = f.select(
        "person_id",
        first_day=f.first_order_at.date(),
        last_day=f.last_order_at.date(),
        purchase_days=(f.frequency + 1).cast("int64"),
        margin=ibis.coalesce(f.margin.cast(F64), 0.0),
    )
    rows = _status_rows(store, buyers, gaps, end, by)
    p = facts.filter(~facts.is_buyer)
    prospects = p.select(
        person_id=p.person_id, status=ibis.literal("prospect"), **_PROSPECT
    ).select(*rows.columns)
    return ibis.union(rows, prospects).mutate(as_of=ibis.literal(end))


def _status_rows(store: Store, buyers: ir.Table, days: ir.Table, end: date, by: str) -> ir.Table:
    """The buyers' status rows (``buyers``: person_id, first_day, last_day, purchase_days,
    margin; ``days``: person_id, k, gap)."""
    s = store.settings
    ranked = _ranked(buyers, end, s.vip_share)
    b = left_join_on_person(ranked, _expected_gaps(days, ranked, by))
    limit = b.expected_gap_days * ibis.literal(float(s.at_risk_factor))
    since = b.days_since_last_order
    status = ibis.cases(
        (b.days_since_first_order < s.new_customer_days, "new"),
        (since >= s.lapsed_days, "lapsed"),
        (limit.notnull() & (since.cast(F64) > limit), "at_risk"),
        (b.tier == "vip", "vip"),
        else_="active",
    )
    return b.select(
        "person_id",
        status=status,
        is_vip=b.tier == "vip",
        tier=b.tier,
        rhythm_segment=b.rhythm_segment,
        expected_gap_days=b.expected_gap_days,
        at_risk_after_days=limit,
        purchase_days=b.purchase_days.cast("int64"),
        first_order_day=b.first_day,
        last_order_day=b.last_day,
        days_since_last_order=since.cast("int64"),
    )


#: The status columns of a prospect (no purchase).
_PROSPECT = {
    "is_vip": ibis.literal(False),
    "tier": ibis.null("string"),
    "rhythm_segment": ibis.null("string"),
    "expected_gap_days": ibis.null(F64),
    "at_risk_after_days": ibis.null(F64),
    "purchase_days": ibis.literal(0, "int64"),
    "first_order_day": ibis.null("date"),
    "last_order_day": ibis.null("date"),
    "days_since_last_order": ibis.null("int64"),
}


def _with_prospects(store: Store, buyers: ir.Table, end: date) -> ir.Table:
    known = known_persons(store, end)
    prospects = known.anti_join(buyers, known.k_person == buyers.person_id)
    p = prospects.select(person_id=prospects.k_person, status=ibis.literal("prospect"), **_PROSPECT)
    both = ibis.union(buyers, p.select(*buyers.columns))
    return both.mutate(as_of=ibis.literal(end))


def status_counts(
    store: Store, *, as_of: date | None = None, status: ir.Table | None = None
) -> pd.DataFrame:
    """`tenure status`: one row per status (in :data:`STATUSES` order): persons, share of
    known persons, VIPs among them. ``attrs``: ``as_of``, ``warnings`` (the money warnings:
    tiers and VIPs rank by margin). ``status``: the :func:`customer_status` rows as of that
    day when the caller has them (the stored ``customer_status`` of a current pipeline)."""
    end = as_of if as_of is not None else store_end(store)
    t = status if status is not None else customer_status(store, as_of=end)
    per = t.group_by("status").agg(persons=t.count(), vips=t.is_vip.cast("int64").sum())
    total = per.persons.sum().over()
    order = ibis.cases(*((per.status == s, i) for i, s in enumerate(STATUSES)), else_=99)
    counts = (
        per.mutate(share=per.persons.cast(F64) / total.cast(F64), _o=order)
        .order_by("_o")
        .drop("_o")
    )
    return _result(store, counts, end)


def status_customers(
    store: Store,
    *,
    as_of: date | None = None,
    limit: int | None = None,
    stored: bool = False,
    with_identifiers: bool = True,
) -> pd.DataFrame:
    """`tenure status --customers`: every known person's :func:`customer_status` row, by
    ``person_id``, with (unless ``with_identifiers`` is false) their customer id and e-mail
    after it (:func:`tenure.identity.lookup.read_with_labels`); ``attrs`` as
    :func:`status_counts`. With ``limit``, the first ``limit`` rows and ``attrs["rows"]``,
    the count of them all. ``stored``: read the derived ``customer_status`` table instead of
    computing it (the caller checked it is current as of ``as_of``:
    :func:`tenure.pipeline.why_stale`; the same rows, read in a moment)."""
    end = as_of if as_of is not None else store_end(store)
    expr = store.read("customer_status") if stored else customer_status(store, as_of=end)
    return read_with_labels(
        store,
        expr,
        lambda e: _result(store, e.order_by("person_id"), end, limit),
        limited=limit is not None,
        with_identifiers=with_identifiers,
    )


def _result(store: Store, expr: ir.Table, end: date, limit: int | None = None) -> pd.DataFrame:
    frame = limited(expr, limit)
    frame.attrs.update(as_of=end, warnings=money_warnings(store, as_of=end))
    return frame

"""RFM: quintile scores, named segments from a mapping table, and value tiers (docs/metrics.md).

Scores are computed over buyers of ``customer_facts``, from three of its columns under their
own names: ``r_score`` from ``days_since_last_order`` (most recent = 5), ``f_score`` from
``orders`` (purchases), ``m_score`` from ``margin`` (total). A score is the quintile of the
value's lowest rank, ``rank * 5 // n + 1`` (``rank``: how many buyers have a worse value), so
equal values get equal scores on every engine and the quintiles hold about n/5 buyers only
when values are distinct (on CDNOW every one-time buyer has F = 1 and F = 2 is empty). An
unknown value (null) has a null score. The segment comes from ``r_score`` and
``fm_score = (f_score + m_score + 1) // 2`` through :data:`SEGMENTS`, which a store can
replace (``rfm(..., segments=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import store_end
from tenure.analytics.money import money_warnings
from tenure.analytics.status import value_tier
from tenure.errors import ConfigError
from tenure.identity.lookup import read_with_labels
from tenure.store import Store, reporting_currency

#: (segment, r_min, r_max, fm_min, fm_max): every (R, FM) pair of 1..5 falls in exactly one.
SEGMENTS: tuple[tuple[str, int, int, int, int], ...] = (
    ("Champions", 5, 5, 4, 5),
    ("Loyal", 3, 4, 4, 5),
    ("Potential loyalists", 4, 5, 2, 3),
    ("New customers", 5, 5, 1, 1),
    ("Promising", 4, 4, 1, 1),
    ("Need attention", 3, 3, 3, 3),
    ("About to sleep", 3, 3, 1, 2),
    ("At risk", 1, 2, 3, 4),
    ("Can't lose them", 1, 2, 5, 5),
    ("Hibernating", 2, 2, 1, 2),
    ("Lost", 1, 1, 1, 2),
)

Mapping = Sequence[tuple[str, int, int, int, int]]


def check_segments(segments: Mapping) -> None:
    """Every (R, FM) pair of 1..5 must map to exactly one segment."""
    for r in range(1, 6):
        for fm in range(1, 6):
            hits = [s[0] for s in segments if s[1] <= r <= s[2] and s[3] <= fm <= s[4]]
            if len(hits) != 1:
                raise ConfigError(
                    f"The RFM segment mapping must give exactly one segment for R={r}, FM={fm}; "
                    f"it gives {hits or 'none'}.",
                    hint="Each row is (segment, r_min, r_max, fm_min, fm_max) with scores 1-5.",
                )


def _score(value: ir.Value, *, descending: bool = False) -> ir.IntegerValue:
    """The quintile of the value's lowest rank among the known values: ``rank * 5 // n + 1``
    with ``rank`` the number of buyers with a worse value (ties share the lowest rank, so
    equal values get equal scores), null for a null value."""
    order = ibis.desc(value) if descending else ibis.asc(value)
    rank = ibis.rank().over(order_by=order)  # 0-based; nulls sort last on both engines
    known = value.count().over().nullif(0)
    return ibis.ifelse(value.isnull(), ibis.null("int64"), (rank * 5 // known + 1).cast("int64"))


def rfm(
    store: Store,
    *,
    as_of: date | None = None,
    segments: Mapping = SEGMENTS,
    vip_share: float | None = None,
    facts: ir.Table | None = None,
) -> ir.Table:
    """person_id, days_since_last_order, orders, margin (the ``customer_facts`` columns
    scored, same names, same meaning), the three scores, fm_score, segment, tier.
    ``facts``: the ``customer_facts`` table as of ``as_of`` if the caller has it."""
    from tenure.analytics.facts import customer_facts

    check_segments(segments)
    share = store.settings.vip_share if vip_share is None else vip_share
    if not 0 < share <= 1:
        raise ConfigError(f"The 'vip_share' parameter must be in (0, 1]. Got {share!r}.")
    if facts is None:
        facts = customer_facts(store, as_of=as_of)
    b = facts.filter(facts.is_buyer).select(
        "person_id", "days_since_last_order", "orders", "margin"
    )
    scored = b.mutate(
        r_score=_score(b.days_since_last_order, descending=True),
        f_score=_score(b.orders),
        m_score=_score(b.margin),
        value_rank=ibis.row_number().over(
            order_by=[ibis.desc(b.margin, nulls_first=False), b.person_id]
        ),
        n=b.count().over(),
    )
    fm = (scored.f_score + scored.m_score + 1) // 2
    cases = [
        ((scored.r_score.between(r0, r1)) & (fm.between(f0, f1)), ibis.literal(name))
        for name, r0, r1, f0, f1 in segments
    ]
    tier = value_tier(scored.value_rank, scored.n, share)
    return scored.select(
        "person_id",
        "days_since_last_order",
        "orders",
        "margin",
        "r_score",
        "f_score",
        "m_score",
        fm_score=fm.cast("int64"),
        segment=ibis.cases(*cases),
        tier=tier,
    )


def rfm_segments(store: Store, *, as_of: date | None = None) -> pd.DataFrame:
    """`tenure rfm`: one row per segment, largest first: customers, their share, and their
    mean days since the last order, orders and margin. ``attrs``: ``as_of``, ``money``
    (:data:`MONEY_COLUMNS`), ``currency``, ``warnings`` (the money warnings)."""
    end = as_of if as_of is not None else store_end(store)
    t = rfm(store, as_of=end)
    per = t.group_by("segment").agg(
        customers=t.count(),
        mean_days_since_last_order=t.days_since_last_order.cast("float64").mean(),
        mean_orders=t.orders.cast("float64").mean(),
        mean_margin=t.margin.mean(),
    )
    total = per.customers.sum().over()
    shares = per.mutate(share=per.customers.cast("float64") / total.cast("float64"))
    return _result(store, shares.order_by(ibis.desc("customers"), "segment"), end)


def rfm_customers(
    store: Store, *, as_of: date | None = None, with_identifiers: bool = True
) -> pd.DataFrame:
    """`tenure rfm --customers`: every buyer's :func:`rfm` row, by ``person_id``, with (unless
    ``with_identifiers`` is false) their customer id and e-mail after it
    (:func:`tenure.identity.lookup.read_with_labels`); ``attrs`` as :func:`rfm_segments`."""
    end = as_of if as_of is not None else store_end(store)
    return read_with_labels(
        store,
        rfm(store, as_of=end),
        lambda e: _result(store, e.order_by("person_id"), end),
        limited=False,
        with_identifiers=with_identifiers,
    )


def _result(store: Store, expr: ir.Table, end: date) -> pd.DataFrame:
    frame = expr.to_pandas()
    frame.attrs.update(
        as_of=end,
        money=MONEY_COLUMNS,
        currency=reporting_currency(store),
        warnings=money_warnings(store, as_of=end),
    )
    return frame


#: The money columns of :func:`rfm` and :func:`rfm_segments` (reporting currency).
MONEY_COLUMNS = ("margin", "mean_margin")

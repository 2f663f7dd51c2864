"""The signals of the maturity stage, read from the store (docs/advisor.md).

As of the as-of day ``end`` and over the recent window of ``maturity_window_days`` days up
to it (both ends in):

* **age**: days from the first purchase (:func:`tenure.analytics.base.orders_base`) to
  ``end``; unknown without a purchase;
* **sales per day**: the window's purchases / the days of it the store has existed (the whole
  window, or ``age + 1`` days for a store younger than it);
* **share of direct traffic**: the share of the window's purchases whose touch is direct: the
  order's own ``channel`` when given, else its UTMs read as
  :func:`tenure.analytics.touch.utm_channel` does (``direct`` without any). When no order of
  the store carries a channel or a UTM, the share of the window's visits (a user id, else an
  anonymous id, on one day of the events) none of whose events carries a UTM; when no event
  carries one either, unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from tenure.advisor.effort import window_start
from tenure.advisor.stage import Signals
from tenure.analytics.base import orders_base
from tenure.analytics.touch import utm_channel
from tenure.store import Store


@dataclass(frozen=True)
class StoreSignals:
    """The signals of the stage and how they were measured (None: unknown)."""

    first_sale: date | None
    age_days: int | None
    purchases: int
    purchases_window: int
    days_observed: int
    sales_per_day: float | None
    sales_per_week: float | None
    direct_share: float | None
    direct_basis: str | None
    direct_count: int
    touch_count: int

    def signals(self) -> Signals:
        return Signals(self.purchases, self.age_days, self.sales_per_day, self.direct_share)


def _touch(o: ir.Table) -> ir.Value:
    named = o.channel.lower().strip().nullif("")
    return ibis.coalesce(named, utm_channel(o.utm_medium, o.utm_source))


def _visits_direct(store: Store, start: date, end: date) -> tuple[int, int] | None:
    """(direct visits, visits) of the window from the events, None when no event carries a
    UTM (the store's tracking does not record them)."""
    e = store.table("events")
    tagged = e.utm_source.notnull() | e.utm_medium.notnull()
    if not e.aggregate(n=e.count(where=tagged)).to_pyarrow().to_pylist()[0]["n"]:
        return None
    day = e.timestamp.date()
    w = e.filter((day >= ibis.literal(start)) & (day <= ibis.literal(end)))
    who = ibis.coalesce(w.user_id.strip().nullif(""), w.anonymous_id.strip().nullif(""))
    w = w.filter(who.notnull()).mutate(who=who, vday=w.timestamp.date(), tag=tagged.cast("int64"))
    visits = w.group_by(["who", "vday"]).agg(tag=w.tag.max())
    got = visits.aggregate(n=visits.count(), direct=visits.count(where=visits.tag == 0))
    row = got.to_pyarrow().to_pylist()[0]
    return int(row["direct"]), int(row["n"])


def read_signals(store: Store, end: date, window: int) -> StoreSignals:
    """The stage's signals as of ``end`` (module docstring)."""
    start = window_start(end, window)
    o = orders_base(store, as_of=end)
    o = o.filter(o.is_purchase)
    recent = o.day >= ibis.literal(start)
    informed = o.channel.notnull() | o.utm_source.notnull() | o.utm_medium.notnull()
    row = (
        o.aggregate(
            first=o.day.min(),
            n=o.count(),
            recent=o.count(where=recent),
            direct=o.count(where=recent & (_touch(o) == "direct")),
            informed=o.count(where=informed),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    first: date | None = row["first"]
    age = None if first is None else (end - first).days
    observed = 0 if age is None else min(window, age + 1)
    pace = None if age is None else row["recent"] / observed
    direct: tuple[int, int] | None = None
    basis = None
    if row["informed"]:
        direct, basis = (int(row["direct"]), int(row["recent"])), "orders"
    else:
        direct = _visits_direct(store, start, end)
        basis = None if direct is None else "visits"
    share = None if direct is None or direct[1] == 0 else direct[0] / direct[1]
    return StoreSignals(
        first_sale=first,
        age_days=age,
        purchases=int(row["n"]),
        purchases_window=int(row["recent"]),
        days_observed=observed,
        sales_per_day=pace,
        sales_per_week=None if pace is None else pace * 7,
        direct_share=share,
        direct_basis=basis if share is not None else None,
        direct_count=0 if direct is None else direct[0],
        touch_count=0 if direct is None else direct[1],
    )

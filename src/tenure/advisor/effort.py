"""The store's actual split of effort between acquisition and retention, in money and counts.

Over the recent window (``maturity_window_days`` days up to the as-of day, both ends in):

* **acquisition**: the ``marketing_spend`` of the window (every row: the table holds
  acquisition spend, docs/data-model.md), converted to the reporting currency as
  :func:`tenure.analytics.channels.spend_rows` does. Unknown (None, never 0) when the store has
  no spend row in the window, or some rows have no exchange rate.
* **retention**: the messages the flows sent in the window (``messages`` in a sent state,
  by ``sent_at``), counted per channel and costed at ``message_costs`` per message (a channel
  without a cost is unknown), plus the discount of the window's purchases that used a code a
  flow issued (``discount_codes``, or the code in a message's payload) as the order's own
  ``discount`` says (an order without one is unknown).

The retention share is retention / (retention + acquisition), when both are known; when only
the retention side is partly unknown, ``retention_share_at_least`` is the share its known part
gives (a lower bound). Staff time and tool subscriptions are not in the data: not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from tenure.advisor.sentence import N_, Sentence
from tenure.analytics.base import F64, orders_base
from tenure.analytics.channels import spend_rows
from tenure.deliver.measure import CODE, SENT
from tenure.store import Store, reporting_currency


@dataclass(frozen=True)
class MessageLine:
    """Messages a flow sent on one channel in the window and what they cost (None: the
    channel has no ``message_costs`` entry)."""

    channel: str
    sent: int
    cost_per_message: float | None
    cost: float | None


@dataclass(frozen=True)
class EffortSplit:
    """Acquisition spend vs retention cost over ``start``..``end`` (reporting currency)."""

    start: date
    end: date
    currency: str
    acquisition_spend: float | None
    acquisition_spend_known: float
    spend_rows: int
    unconverted_spend_rows: int
    latest_spend_day: date | None
    messages: list[MessageLine]
    messages_sent: int
    message_cost_known: float
    discount_orders: int
    discount_cost_known: float
    discount_unknown_orders: int
    retention_cost: float | None
    retention_cost_known: float
    retention_share: float | None
    retention_share_at_least: float | None
    unknown: list[str] = field(default_factory=list)


def window_start(end: date, days: int) -> date:
    """The first day of a window of ``days`` days ending on ``end`` (both in)."""
    return end - timedelta(days=days - 1)


def _spend(store: Store, start: date, end: date) -> tuple[float, int, int, date | None]:
    """Known spend of the window, its rows, its rows without a rate, the latest spend day."""
    rows = spend_rows(store, end)
    inside = rows.day >= ibis.literal(start)
    agg = rows.aggregate(
        spend=rows.cost.sum(where=inside),
        rows=rows.count(where=inside),
        unconverted=rows.count(where=inside & rows.cost.isnull()),
        latest=rows.day.max(),
    )
    got = agg.to_pyarrow().to_pylist()[0]
    return float(got["spend"] or 0.0), int(got["rows"]), int(got["unconverted"]), got["latest"]


def _sent(store: Store, start: date, end: date) -> ir.Table:
    m = store.table("messages")
    lo = datetime.combine(start, time())
    hi = datetime.combine(end + timedelta(days=1), time())
    return m.filter(
        m.state.isin(list(SENT)) & (m.sent_at >= ibis.literal(lo)) & (m.sent_at < ibis.literal(hi))
    )


def _messages(store: Store, start: date, end: date, costs: dict[str, float]) -> list[MessageLine]:
    sent = _sent(store, start, end)
    channel = ibis.coalesce(sent.channel.lower().strip().nullif(""), ibis.literal("unknown"))
    per = sent.group_by(channel=channel).agg(sent=sent.count()).order_by("channel")
    lines = []
    for row in per.to_pyarrow().to_pylist():
        unit = costs.get(str(row["channel"]))
        cost = None if unit is None else unit * int(row["sent"])
        lines.append(MessageLine(str(row["channel"]), int(row["sent"]), unit, cost))
    return lines


def _flow_codes(store: Store, start: date, end: date) -> ir.Table:
    """``code`` (upper case): every discount code a flow issued, recorded or in a payload."""
    issued = store.table("discount_codes")
    recorded = issued.select(code=issued.code.strip().upper())
    sent = _sent(store, start - timedelta(days=366), end)
    named = sent.select(code=sent.payload.re_extract(CODE, 1).strip().upper())
    both = recorded.union(named, distinct=True)
    return both.filter(both.code.notnull() & (both.code != ""))


def _discounts(store: Store, start: date, end: date) -> tuple[int, float, int]:
    """Purchases of the window that used a flow's code: count, known discount (reporting
    currency), count whose discount is unknown."""
    o = orders_base(store, as_of=end)
    o = o.filter(o.is_purchase & (o.day >= ibis.literal(start)) & o.coupon.notnull())
    o = o.mutate(code=o.coupon.strip().upper())
    codes = _flow_codes(store, start, end)
    hit = o.semi_join(codes, o.code == codes.code)
    raw = store.table("orders").select(r_id="order_id", r_disc="discount", r_total="total")
    j = hit.left_join(raw, hit.order_id == raw.r_id)
    own = j.currency.upper() == reporting_currency(store)
    rate = ibis.ifelse(own, ibis.literal(1.0), j.gross / j.r_total.cast(F64).nullif(0.0))
    discount = j.r_disc.cast(F64) * rate
    agg = j.aggregate(
        orders=j.count(), known=discount.sum(), unknown=j.count(where=discount.isnull())
    )
    got = agg.to_pyarrow().to_pylist()[0]
    return int(got["orders"]), float(got["known"] or 0.0), int(got["unknown"])


def effort_split(store: Store, end: date, days: int, costs: dict[str, float]) -> EffortSplit:
    """The split of the ``days`` days up to ``end`` (module docstring)."""
    start = window_start(end, days)
    spend, rows, unconverted, latest = _spend(store, start, end)
    lines = _messages(store, start, end, costs)
    orders, discount, unknown_discounts = _discounts(store, start, end)
    unknown: list[str] = []
    if rows == 0:
        unknown.append(
            Sentence(N_("acquisition spend: no marketing spend imported"))
            if latest is None
            else Sentence(
                N_("acquisition spend: no spend row in the window (the latest is %(latest)s)"),
                {"latest": latest},
                {"latest": "date"},
            )
        )
    elif unconverted:
        unknown.append(
            Sentence(
                N_("acquisition spend: %(rows)s spend row(s) without an exchange rate"),
                {"rows": unconverted},
                {"rows": "count"},
                formats={"rows": ""},
            )
        )
    for line in lines:
        if line.cost is None:
            unknown.append(
                Sentence(
                    N_("retention: the cost of %(sent)s %(channel)s message(s)"),
                    {"sent": line.sent, "channel": line.channel},
                    {"sent": "count"},
                    formats={"sent": ""},
                )
            )
    if unknown_discounts:
        unknown.append(
            Sentence(
                N_("retention: the discount of %(orders)s flow-coupon order(s)"),
                {"orders": unknown_discounts},
                {"orders": "count"},
                formats={"orders": ""},
            )
        )
    acquisition = spend if rows and not unconverted else None
    message_known = sum((line.cost or 0.0 for line in lines), 0.0)
    retention_known = message_known + discount
    complete = all(line.cost is not None for line in lines) and not unknown_discounts
    retention = retention_known if complete else None
    share = at_least = None
    if acquisition is not None and retention is not None and acquisition + retention > 0:
        share = retention / (acquisition + retention)
    elif acquisition is not None and retention is None and acquisition + retention_known > 0:
        at_least = retention_known / (acquisition + retention_known)
    return EffortSplit(
        start=start,
        end=end,
        currency=reporting_currency(store),
        acquisition_spend=acquisition,
        acquisition_spend_known=spend,
        spend_rows=rows,
        unconverted_spend_rows=unconverted,
        latest_spend_day=latest,
        messages=lines,
        messages_sent=sum(line.sent for line in lines),
        message_cost_known=message_known,
        discount_orders=orders,
        discount_cost_known=discount,
        discount_unknown_orders=unknown_discounts,
        retention_cost=retention,
        retention_cost_known=retention_known,
        retention_share=share,
        retention_share_at_least=at_least,
        unknown=unknown,
    )

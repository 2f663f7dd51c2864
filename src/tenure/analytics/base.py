"""The base every analytic builds on: purchases with their person, value and margin.

Everything here is an Ibis expression, so it runs unchanged on DuckDB and on PySpark.
Definitions (docs/metrics.md):

* **person**: the resolved person of the order (``tenure.identity.attributed``), else the
  store's customer id, else the order's normalised e-mail (guest order before resolution).
* **purchase**: an order whose status is not cancelled/failed/voided/pending, whose total is
  not negative (a free order counts) and that was not refunded in full. Fully refunded
  orders and negative "return" rows still count in revenue (as refunds), not as purchases.
* **revenue** (net): ``total - refunded`` converted to the reporting currency
  (:func:`tenure.store.reporting_currency`) with the latest ``fx_rates`` rate on or before the
  order day (1 for the reporting currency). An order in a currency without a rate, or without
  a total, has a null revenue (and margin): it is never summed unconverted, never taken as 0,
  and :func:`tenure.analytics.money.money_warnings` counts it.
* **margin**: revenue x the order's margin rate: ``1 - cost / price`` over its lines when every
  line's product has a unit cost (or a margin), else the store's ``default_margin``.
* **day**: the UTC calendar day of ``ordered_at``; days since an origin are whole days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.errors import StoreError
from tenure.store import Store, reporting_currency

#: Order statuses that never count (the order did not happen).
VOID_STATUSES = ("cancelled", "canceled", "failed", "voided", "void", "pending", "draft")
F64 = "float64"
#: Decimals kept of a money sum. A float sum's last bits depend on the order the engine adds
#: in (its threads), so two runs could store 368.5079999999999 and 368.508 and break ties in
#: ranks differently; rounded, every run stores the same figure.
MONEY_DIGITS = 6


def money_sum(value: ir.FloatingValue, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """``value.sum(where=where)`` rounded to :data:`MONEY_DIGITS` decimals."""
    return value.sum(where=where).round(MONEY_DIGITS)


def coalesce_lazy(first: ir.Value, *rest: ir.Value) -> ir.Value:
    """``coalesce(first, *rest)``, written so that each later value is computed only for the
    rows where the values before it are null (nested ``ifelse``). DuckDB computes a
    ``coalesce`` argument such as ``x.strip().nullif("")`` for every row (it lifts the repeated
    ``strip`` out of the expression); inside a ``CASE`` branch it does not: on 10M events the
    fallback person id cost 1.2 CPU-seconds as a ``coalesce``, 0.1 as this."""
    if not rest:
        return first
    return ibis.ifelse(first.notnull(), first, coalesce_lazy(*rest))


def _fx_rate(store: Store, orders: ir.Table, reporting: str) -> ir.Table:
    """(fx_cur, fx_on) -> rate into the ``reporting`` currency, for every currency and day
    of the orders in another currency: the latest rate on or before that day.

    The rates are looked up per distinct (currency, day), not per order: a range join of every
    foreign order with every earlier rate of its currency paired 110M rows at 2M orders."""
    foreign = orders.filter(orders.currency.upper() != reporting)
    days = foreign.select(cur=foreign.currency.upper(), day=foreign.ordered_at.date()).distinct()
    fx = store.table("fx_rates")
    fx = fx.select(fx_cur=fx.currency.upper(), fx_day=fx.date, rate=fx.rate.cast(F64))
    pairs = days.join(fx, [days.cur == fx.fx_cur, fx.fx_day <= days.day])
    return pairs.group_by(fx_cur=pairs.cur, fx_on=pairs.day).agg(
        rate=pairs.rate.argmax(pairs.fx_day)
    )


def _margin_rate(store: Store, default: float, orders: ir.Table | None = None) -> ir.Table:
    """order_id -> margin rate from its lines' product costs (orders with full cost data);
    ``orders`` (column ``order_id``): only the lines of these orders."""
    items = store.table("order_items")
    if orders is not None:
        wanted = orders.select(_m_order="order_id")
        items = items.semi_join(wanted, items.order_id == wanted._m_order)
    p = store.table("products")
    # cast once per product, not once per line
    products = p.select(
        p_id=p.product_id, unit_cost=p.unit_cost.cast(F64), p_margin=p.margin.cast(F64)
    )
    lines = items.left_join(products, items.product_id == products.p_id)
    quantity = lines.quantity.cast(F64)
    price = quantity * lines.unit_price.cast(F64)
    cost = ibis.coalesce(quantity * lines.unit_cost, price * (ibis.literal(1.0) - lines.p_margin))
    per = lines.group_by("order_id").agg(
        price=price.sum(), cost=cost.sum(), lines=lines.count(), costed=cost.count()
    )
    rate = ibis.literal(1.0) - per.cost / per.price.nullif(0.0)
    known = per.filter((per.costed == per.lines) & (per.price > 0))
    return known.select(m_order=known.order_id, m_rate=ibis.coalesce(rate, ibis.literal(default)))


def orders_base(
    store: Store, *, as_of: date | datetime | None = None, persons: ir.Table | None = None
) -> ir.Table:
    """Every order that happened (purchases and refunds; void ones left out) with person,
    revenue and margin.

    Columns: order_id, person_id, ordered_at, day, currency, revenue, gross, margin,
    is_purchase, channel, utm_source, utm_medium, utm_campaign, coupon, status.
    ``persons`` (column ``person_id``): only their orders, chosen before the rates and the
    lines are joined (the incremental run reads a few persons' orders, not everyone's).
    """

    settings = store.settings
    # the as_of filter goes last: before the joins, DuckDB estimated 0.4M of 10M orders left
    # and the joins ran ~1.5x slower
    o = _happened(store)
    code = reporting_currency(store)
    if persons is None:
        fx = _fx_rate(store, store.table("orders"), code)  # not ``o``: one pass over the orders
        margin = _margin_rate(store, settings.default_margin)
    else:
        keys = persons.select(_b_person="person_id")
        o = o.semi_join(keys, order_person(o) == keys._b_person).view()
        fx = _fx_rate(store, o, code)
        margin = _margin_rate(store, settings.default_margin, o)
    day = o.ordered_at.date()
    joined = o.left_join(fx, [o.currency.upper() == fx.fx_cur, day == fx.fx_on]).left_join(
        margin, o.order_id == margin.m_order
    )
    reporting = o.currency.upper() == code
    rate = ibis.ifelse(reporting, ibis.literal(1.0), joined.rate)
    # an unknown total is not 0: the revenue stays null (the purchase still counts)
    total = ibis.coalesce(o.total.cast(F64), ibis.literal(0.0))
    refunded = ibis.coalesce(o.refunded.cast(F64), ibis.literal(0.0))
    revenue = (o.total.cast(F64) - refunded) * rate
    purchase = _is_purchase(total, refunded)
    m_rate = ibis.coalesce(joined.m_rate, ibis.literal(settings.default_margin))
    out = joined.select(
        order_id=o.order_id,
        person_id=order_person(o),
        ordered_at=o.ordered_at,
        day=day,
        currency=o.currency,
        revenue=revenue,
        gross=o.total.cast(F64) * rate,
        margin=revenue * m_rate,
        is_purchase=purchase,
        channel=o.channel,
        utm_source=o.utm_source,
        utm_medium=o.utm_medium,
        utm_campaign=o.utm_campaign,
        coupon=o.coupon,
        status=o.status,
    )
    keep = out.person_id.notnull()
    if as_of is not None:
        keep = keep & (out.day <= as_date(as_of))
    return out.filter(keep)


def _happened(store: Store) -> ir.Table:
    """The attributed orders that happened (void ones left out), status lower-cased."""
    from tenure.identity import attributed

    a = attributed(store, "orders")
    status = ibis.coalesce(a.status.lower(), ibis.literal(""))
    # void orders are left out before the joins (DuckDB reads the filter into its scan
    # anyway); kept as a flag instead, the status test ran twice (two hash joins of 10M rows)
    return a.mutate(status=status).filter(~status.isin(VOID_STATUSES)).view()


def _is_purchase(total: ir.FloatingValue, refunded: ir.FloatingValue) -> ir.BooleanValue:
    """A purchase: a total not negative (a free order counts), not refunded in full."""
    return (total >= 0) & ~((refunded > 0) & (refunded >= total))


def purchase_times(store: Store) -> ir.Table:
    """``person_id, ordered_at`` of every purchase of :func:`orders_base`, without its value:
    whether and when someone bought needs neither exchange rates nor order lines (on 2.3M
    orders and 5.8M lines, a fraction of :func:`orders_base`'s time)."""
    o = _happened(store)
    total = ibis.coalesce(o.total.cast(F64), ibis.literal(0.0))
    refunded = ibis.coalesce(o.refunded.cast(F64), ibis.literal(0.0))
    out = o.select(
        person_id=order_person(o), ordered_at=o.ordered_at, purchase=_is_purchase(total, refunded)
    )
    return out.filter(out.purchase & out.person_id.notnull()).drop("purchase")


def order_person(o: ir.Table) -> ir.Value:
    """The person of an attributed order: its resolved person, else its customer id, else its
    normalised e-mail."""
    return coalesce_lazy(
        o.person_id, o.customer_id.strip().nullif(""), o.email.strip().lower().nullif("")
    )


def as_date(value: date | datetime) -> date:
    """The day of ``value`` (a datetime's date; a date as it is)."""
    return value.date() if isinstance(value, datetime) else value


#: Days between the latest order and the as-of day past which :func:`as_of_note` speaks.
STALE_DAYS = 90


def today() -> date:
    """Today's date in UTC: the as-of day when nothing else is said (the one clock every
    default reads, so a test freezes time here)."""
    return datetime.now(UTC).date()


def store_end(store: Store) -> date:
    """The default as-of day of every analytic: the ``as_of`` setting (``TENURE_AS_OF``), else
    the store's frozen clock (store fact ``as_of``, recorded by ``tenure demo``), else today
    (UTC). Never the latest date in the data: one order typed as 2099 must not move the
    present (orders after the as-of day are left out by :func:`orders_base`)."""
    frozen = store.settings.as_of
    if frozen is not None:
        return frozen
    fact = store.meta("as_of")
    if not fact:
        return today()
    try:
        return date.fromisoformat(fact)
    except ValueError:
        raise StoreError(
            f"The store fact `as_of` of {store.location} is {fact!r}, not a date YYYY-MM-DD.",
            hint="Pass --as-of, or set `as_of` (tenure.toml or TENURE_AS_OF) to override it.",
        ) from None


def as_of_note(store: Store, as_of: date | None = None) -> str | None:
    """A warning about the as-of day, or None: the latest order on or before it is more
    than :data:`STALE_DAYS` days older (a historical export analysed as of today: every
    customer looks lapsed), or orders are dated after today (a typo'd date; they are left
    out). ``as_of``: the day the command used (default :func:`store_end`)."""
    end = as_of if as_of is not None else store_end(store)
    o = store.table("orders")
    day = o.ordered_at.date()
    now = today()
    row = (
        o.aggregate(
            latest=o.ordered_at.max(where=day <= ibis.literal(end)),
            future=o.count(where=day > ibis.literal(now)),
            last=o.ordered_at.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    notes = []
    latest = row["latest"]
    if latest is not None and (end - as_date(latest)).days > STALE_DAYS:
        last_day = as_date(latest).isoformat()
        notes.append(
            f"The latest order ({last_day}) is {(end - as_date(latest)).days:,} days before "
            f"the as-of day {end.isoformat()}: customers are judged as of that day, so most "
            f"look lapsed. To analyse the data as of its end, pass --as-of {last_day} (or set "
            "`as_of` in tenure.toml or TENURE_AS_OF)."
        )
    if row["future"]:
        notes.append(
            f"{row['future']:,} order(s) are dated after today ({now.isoformat()}), the latest "
            f"on {as_date(row['last']).isoformat()}: they are not analysed. Fix their dates "
            "and import them again."
        )
    return " ".join(notes) or None


def limited(expr: ir.Table, limit: int | None = None) -> pd.DataFrame:
    """``expr`` as a data frame; with ``limit``, only its first ``limit`` rows (the engine
    stops there: a terminal's screen of a 200k-row result), with ``attrs["rows"]`` the count
    of all its rows."""
    if limit is None:
        return expr.to_pandas()
    frame = expr.limit(limit).to_pandas()
    frame.attrs["rows"] = len(frame) if len(frame) < limit else int(expr.count().execute())
    return frame

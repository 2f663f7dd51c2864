"""``generate_demo``: check the store, then generate and write the demo batch by batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import draw_buyers, draw_purchases
from tenure.demo.catalog import Catalog, Taste, make_catalog, products_table
from tenure.demo.clock import Clock, clock
from tenure.demo.events import EventLog, events_table
from tenure.demo.feedback import FEEDBACK_STREAM, FeedbackTotals, draw_feedback
from tenure.demo.marketing import consents_tables, spend_cents, spend_table
from tenure.demo.orders import items_table, make_orders, orders_table
from tenure.demo.people import (
    DATES_STREAM,
    People,
    customers_table,
    date_traits,
    draw_people,
)
from tenure.demo.sessions import (
    context,
    login_sessions,
    purchase_sessions,
    signup_sessions,
    visit_sessions,
)
from tenure.demo.truth import (
    catalog_rows,
    parameter_rows,
    realised_rows,
    taste_rows,
    truth_table,
)
from tenure.errors import ConfigError, StoreError
from tenure.progress import ProgressCallback, no_progress
from tenure.store import Store, reporting_currency

#: Tables the demo writes.
DEMO_TABLES = (
    "customers",
    "products",
    "orders",
    "order_items",
    "events",
    "marketing_spend",
    "consents",
    "suppressions",
    "feedback",
    "referrals",
    "generator_truth",
)
#: Buyers generated and written at a time (memory stays flat whatever the size).
BATCH = 25_000
_TASK = "Demo: customers"
#: Share of a batch's time spent generating (the rest is writing), for progress reports.
_GENERATE_SHARE = 0.35
#: The random stream of the tastes (``[seed, TASTE_STREAM, batch]``), apart from the others.
TASTE_STREAM = 7001


@dataclass(frozen=True)
class DemoSummary:
    """Headline numbers of the generated store, and where it is.

    ``customers`` are buyers (at least one order); ``prospects`` are newsletter sign-ups
    who never ordered (customer records without orders). ``revenue`` is the sum of order
    totals (refunds not deducted); ``aov`` is revenue / orders; ``repeat_rate`` the share of
    customers with two or more orders; ``spend`` the acquisition spend.
    """

    customers: int
    prospects: int
    orders: int
    revenue: Decimal
    aov: Decimal
    repeat_rate: float
    events: int
    sessions: int
    spend: Decimal
    currency: str
    seed: int
    location: str
    tables: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money as exact decimal strings."""
        out = asdict(self)
        for key in ("revenue", "aov", "spend"):
            out[key] = str(out[key])
        return out


def _prepare(store: Store, replace: bool) -> None:
    """Empty the store for the demo, or refuse when it holds data that is not a demo."""
    counts = store.counts()
    if not replace:
        has_data = any(n for name, n in counts.items() if name != "generator_truth")
        is_demo = counts.get("generator_truth", 0) > 0 and counts.get("imports", 0) == 0
        if has_data and not is_demo:
            held = ", ".join(f"{name} ({n:,} rows)" for name, n in counts.items() if n)
            raise StoreError(
                f"The store {store.location} already holds data that is not a demo store: {held}.",
                hint="Use --replace to overwrite it, or --store to write the demo elsewhere.",
            )
    for name, n in counts.items():
        if n:
            store.truncate(name)


@dataclass
class _Totals:
    people: int = 0
    buyers: int = 0
    orders: int = 0
    revenue_cents: int = 0
    repeaters: int = 0
    events: int = 0
    sessions: int = 0
    feedback: FeedbackTotals = field(default_factory=FeedbackTotals)


@dataclass(frozen=True)
class _Setup:
    store: Store
    cl: Clock
    cat: Catalog
    seed: int
    currency: str
    taste: float = 0.0


def _tastes(su: _Setup, n: int, index: int) -> Taste | None:
    """The batch's buyers' favourite categories, from a stream of their own (None: no taste)."""
    if su.taste <= 0:
        return None
    rng = np.random.default_rng([su.seed, TASTE_STREAM, index])
    return Taste(su.taste, su.cat.draw_categories(rng, n), rng)


def _dates(su: _Setup, pp: People, index: int) -> pa.Array:
    """The batch's date traits (birthday, store credit), from a stream of their own."""
    return date_traits(np.random.default_rng([su.seed, DATES_STREAM, index]), pp, su.cl)


def _batch(
    su: _Setup, n: int, index: int, totals: _Totals, step: Callable[[float], None]
) -> np.ndarray:
    """Generate and write ``n`` buyers and their prospects; return new buyers per touch/day.

    ``step(share)`` reports the share of the batch done: generating counts for
    ``_GENERATE_SHARE``, writing for the rest, in proportion to the rows written.
    """
    rng = np.random.default_rng([su.seed, index + 1])
    cl = su.cl
    b = draw_buyers(rng, n, cl)
    pur = draw_purchases(rng, b, cl)
    pp = draw_people(rng, b, round(n * P.PROSPECT_SHARE), cl, totals.people, su.seed)
    taste = _tastes(su, n, index)
    o = make_orders(rng, pur, b, su.cat, totals.orders, taste)
    cx = context(pp, b, su.cat, cl, su.currency)
    log = EventLog()
    signup_sessions(rng, log, cx)
    purchase_sessions(rng, log, cx, o)
    visit_sessions(rng, log, cx, o)
    login_sessions(rng, log, cx)
    events = events_table(log, pp, rng, np.datetime64(cl.start), f"demo-{su.seed}-{index}-")
    consents, suppressions, subscribed = consents_tables(rng, pp, cl)
    tables = {
        "customers": customers_table(pp, b, cl, subscribed, _dates(su, pp, index)),
        "orders": orders_table(o, pp, cl.start, su.currency),
        "order_items": items_table(o, su.cat, su.currency),
        "events": events,
        "consents": consents,
        "suppressions": suppressions,
    }
    # feedback and referrals last, from a stream of their own: the rows above stay the same
    fb_rng = np.random.default_rng([su.seed, FEEDBACK_STREAM, index])
    fb = draw_feedback(fb_rng, pp, b, o, su.cat, cl, su.currency, totals.feedback)
    tables["feedback"] = fb.feedback
    tables["referrals"] = fb.referrals
    truth = [fb.truth]
    if taste is not None:
        truth.insert(0, truth_table(taste_rows(pp.customer_id, taste.favourite)))
    tables["generator_truth"] = pa.concat_tables(truth)
    step(_GENERATE_SHARE)
    rows, written = sum(t.num_rows for t in tables.values()), 0
    for name, table in tables.items():
        su.store.insert(name, table)
        written += table.num_rows
        step(_GENERATE_SHARE + (1 - _GENERATE_SHARE) * written / max(rows, 1))
    totals.people += len(pp)
    totals.buyers += n
    totals.orders += len(o)
    totals.revenue_cents += int(o.total.sum())
    totals.repeaters += int((np.bincount(o.buyer, minlength=n) >= 2).sum())
    totals.events += events.num_rows
    totals.sessions += log.sessions
    new = np.zeros((len(T.TOUCHES), cl.days), dtype=np.int64)
    np.add.at(new, (b.touch, np.minimum(b.acquired.astype(np.int64), cl.days - 1)), 1)
    return new


def _check(customers: int, days: int, taste: float) -> None:
    if customers < 1:
        raise ConfigError(f"The 'customers' parameter must be an int >= 1. Got {customers}.")
    if days < 30:
        raise ConfigError(f"The 'days' parameter must be an int >= 30. Got {days}.")
    if not 0.0 <= taste <= 1.0:  # also refuses NaN
        raise ConfigError(
            f"The 'taste' parameter must be a number from 0 to 1. Got {taste}.",
            hint=f"0 gives buyers no tastes; {P.TASTE:g} (the default) draws that share of "
            "the products of each order from the buyer's category.",
        )


def generate_demo(
    store: Store,
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    days: int = 730,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    taste: float = P.TASTE,
) -> DemoSummary:
    """Write a synthetic store of ``customers`` buyers over ``days`` days into ``store``.

    Same arguments, same rows. A store holding a previous demo is emptied first; a store
    holding other data is refused unless ``replace`` (then every table is emptied).
    ``taste`` (0 to 1) gives each buyer a favourite category: with that probability an
    order's primary product and each popular filler come from it, or, for a repeat order,
    from the next category of the favourite's journey (docs/demo.md, "Tastes"); 0 gives
    buyers no tastes (products drawn by popularity and budget only). Each batch also gets
    its buyers' satisfaction, NPS answers, product reviews and referrals (docs/demo.md,
    "Feedback and referrals"), drawn from a stream of their own.
    """
    _check(customers, days, taste)
    report = progress or no_progress
    _prepare(store, replace)
    currency = reporting_currency(store)
    rng = np.random.default_rng([seed, 0])
    su = _Setup(store, clock(start, days), make_catalog(rng), seed, currency, taste)
    # the parameters first: an interrupted run is still recognised as a demo
    truth = parameter_rows(customers, days, seed, taste) + catalog_rows(su.cat)
    store.insert("generator_truth", truth_table(truth))
    # the frozen clock: the analytics see the demo as of its last day, not as of today
    store.set_meta("as_of", (start + timedelta(days=days - 1)).isoformat(), by="demo")
    if store.meta("reporting_currency") is None:  # the demo's orders are all in it
        store.set_meta("reporting_currency", currency, by="demo")
    store.insert("products", products_table(su.cat, currency))
    totals = _Totals()
    new = np.zeros((len(T.TOUCHES), days), dtype=np.int64)
    report(_TASK, 0, customers)
    for index, first in enumerate(range(0, customers, BATCH)):
        n = min(BATCH, customers - first)

        def step(share: float, first: int = first, n: int = n) -> None:
            report(_TASK, first + round(share * n), customers)

        new += _batch(su, n, index, totals, step)
    cents = spend_cents(rng, su.cl, customers, new)
    store.insert("marketing_spend", spend_table(cents, su.cl, currency))
    realised = realised_rows(new, cents) + totals.feedback.rows()
    store.insert("generator_truth", truth_table(realised))
    revenue = Decimal(totals.revenue_cents) / 100
    return DemoSummary(
        customers=totals.buyers,
        prospects=totals.people - totals.buyers,
        orders=totals.orders,
        revenue=revenue.quantize(Decimal("0.0001")),
        aov=(revenue / totals.orders).quantize(Decimal("0.01")),
        repeat_rate=totals.repeaters / totals.buyers,
        events=totals.events,
        sessions=totals.sessions,
        spend=(Decimal(sum(int(v.sum()) for v in cents.values())) / 100).quantize(
            Decimal("0.0001")
        ),
        currency=currency,
        seed=seed,
        location=store.location,
        tables={name: store.count(name) for name in DEMO_TABLES},
    )


#: The demo's default taste strength (``params.TASTE``).
DEFAULT_TASTE = P.TASTE

__all__ = ["BATCH", "DEFAULT_TASTE", "DEMO_TABLES", "DemoSummary", "generate_demo"]

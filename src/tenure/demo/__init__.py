"""The demo store: a deterministic synthetic online store with its generating truth.

``generate_demo(store)`` writes customers, products, orders and lines, Segment events,
marketing spend, consents and suppressions into ``store``, and every generating parameter
into ``generator_truth`` (docs/demo.md describes the process). Same seed, same store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tenure.demo import params as P
from tenure.demo.events import EventBatch
from tenure.demo.generator import (
    consents_tables,
    customers_table,
    login_events,
    new_buyers,
    order_sessions,
    orders_tables,
    other_sessions,
    people,
    prospect_sessions,
    spend_table,
)
from tenure.demo.orders import Catalog, catalog, products_table
from tenure.demo.people import Calendar, buyers, calendar, purchases
from tenure.errors import ConfigError, StoreError
from tenure.progress import ProgressCallback, no_progress
from tenure.store import Store

__all__ = ["DEMO_TABLES", "DemoSummary", "generate_demo"]

#: Tables the demo writes (and empties first).
DEMO_TABLES = (
    "customers",
    "products",
    "orders",
    "order_items",
    "events",
    "marketing_spend",
    "consents",
    "suppressions",
    "generator_truth",
)
_OTHER = ("identities", "identity_flags", "identity_merges", "quarantine", "imports", "fx_rates")


@dataclass(frozen=True)
class DemoSummary:
    """Headline numbers of the generated store, and where it is."""

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
        """JSON-ready: money as strings, exact."""
        out = asdict(self)
        for key in ("revenue", "aov", "spend"):
            out[key] = str(out[key])
        return out


def _check_store(store: Store, replace: bool) -> None:
    if replace:
        for name in DEMO_TABLES + _OTHER:
            store.truncate(name)
        return
    has_data = any(store.count(t) for t in DEMO_TABLES + _OTHER if t != "generator_truth")
    if has_data and (store.count("generator_truth") == 0 or store.count("imports") > 0):
        raise StoreError(
            f"The store {store.location} already holds data that is not a demo store.",
            hint="Use --replace to overwrite it, or --store to write the demo elsewhere.",
        )
    for name in DEMO_TABLES + _OTHER:
        if store.count(name):
            store.truncate(name)


BATCH = 50_000


@dataclass
class _Totals:
    buyers: int = 0
    prospects: int = 0
    orders: int = 0
    revenue_cents: int = 0
    repeaters: int = 0
    events: int = 0
    sessions: int = 0


def _batch(
    store: Store,
    cal: Calendar,
    cat: Catalog,
    n: int,
    index: int,
    seed: int,
    totals: _Totals,
    currency: str,
) -> np.ndarray:
    """Generate and write one batch of buyers (and their prospects); return new buyers/day."""
    rng = np.random.default_rng([seed, index])
    b = buyers(rng, n, cal)
    pur = purchases(rng, b, cal)
    offset = totals.buyers + totals.prospects
    pp = people(rng, b, round(n * P.PROSPECT_SHARE), cal, seed, offset)
    orders, items, ln, channel, order_totals, order_ids = orders_tables(
        rng, pp, b, pur, cat, cal.start, currency, totals.orders
    )
    batch = EventBatch()
    n_orders = order_sessions(
        rng, batch, pp, pur, ln, cat, channel, order_totals, order_ids, currency
    )
    carts, browse = other_sessions(rng, batch, pp, b, pur, cat, cal.days, currency)
    n_prospect_sessions = prospect_sessions(rng, batch, pp)
    login_events(rng, batch, pp, b, cal.days)
    events = batch.table(np.datetime64(cal.start), seed, totals.events)
    consents, suppressions = consents_tables(rng, pp, cal.start, cal.days)
    for name, table in (
        ("customers", customers_table(pp, b, cal.start)),
        ("orders", orders),
        ("order_items", items),
        ("events", events),
        ("consents", consents),
        ("suppressions", suppressions),
    ):
        store.insert(name, table)
    totals.buyers += n
    totals.prospects += len(pp.customer_id) - n
    totals.orders += len(order_ids)
    totals.revenue_cents += int(order_totals.sum())
    totals.repeaters += int((np.bincount(pur.buyer, minlength=n) >= 2).sum())
    totals.events += events.num_rows
    totals.sessions += n_orders + carts + browse + n_prospect_sessions
    return new_buyers(b, cal.days)


def generate_demo(
    store: Store,
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    days: int = 730,
    replace: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Write a synthetic store of ``customers`` buyers over ``days`` days into ``store``.

    Buyers are generated and written in batches of 50,000, so memory stays flat.
    """
    if customers < 1:
        raise ConfigError(f"The 'customers' parameter must be an int >= 1. Got {customers}.")
    if days < 30:
        raise ConfigError(f"The 'days' parameter must be an int >= 30. Got {days}.")
    report = progress or no_progress
    _check_store(store, replace)
    currency = store.settings.reporting_currency
    rng = np.random.default_rng(seed)
    cal = calendar(start, days)
    cat = catalog(rng)
    store.insert("products", products_table(cat, currency))
    totals = _Totals()
    new = np.zeros((len(P.CHANNELS), days), dtype=np.int64)
    sizes = [min(BATCH, customers - i) for i in range(0, customers, BATCH)]
    report("demo customers", 0, customers)
    for index, size in enumerate(sizes):
        new += _batch(store, cal, cat, size, index, seed, totals, currency)
        report("demo customers", totals.buyers, customers)
    spend, spend_by, acquired = spend_table(rng, new, start, days, currency)
    store.insert("marketing_spend", spend)
    store.insert("generator_truth", pa.Table.from_pylist(P.truth_rows(acquired, spend_by)))
    revenue = Decimal(totals.revenue_cents) / 100
    tables = {name: store.count(name) for name in DEMO_TABLES}
    return DemoSummary(
        customers=totals.buyers,
        prospects=totals.prospects,
        orders=totals.orders,
        revenue=revenue.quantize(Decimal("0.0001")),
        aov=(revenue / totals.orders).quantize(Decimal("0.01")) if totals.orders else Decimal(0),
        repeat_rate=totals.repeaters / totals.buyers,
        events=totals.events,
        sessions=totals.sessions,
        spend=pc.sum(spend.column("cost")).as_py() or Decimal(0),
        currency=currency,
        seed=seed,
        location=store.location,
        tables=tables,
    )

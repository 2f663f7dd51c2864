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

from tenure.demo import params as P
from tenure.demo.events import EventBatch
from tenure.demo.generator import (
    consents_tables,
    customers_table,
    order_sessions,
    orders_tables,
    other_sessions,
    people,
    prospect_sessions,
    spend_table,
)
from tenure.demo.people import buyers, calendar, purchases
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
_OTHER = ("identities", "quarantine", "imports", "fx_rates")


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
    """Write a synthetic store of about ``customers`` buyers over ``days`` days into ``store``."""
    if customers < 1:
        raise ConfigError(f"The 'customers' parameter must be an int >= 1. Got {customers}.")
    if days < 30:
        raise ConfigError(f"The 'days' parameter must be an int >= 30. Got {days}.")
    report = progress or no_progress
    _check_store(store, replace)
    currency = store.settings.reporting_currency
    rng = np.random.default_rng(seed)
    steps = ["people", "orders", "events", "write"]
    report("demo store", 0, len(steps))
    cal = calendar(start, days)
    b = buyers(rng, customers, cal)
    pur = purchases(rng, b, cal)
    pp = people(rng, b, round(customers * P.PROSPECT_SHARE), cal, seed)
    report("demo store", 1, len(steps))
    orders, items, ln, cat, channel, totals, order_ids = orders_tables(
        rng, pp, b, pur, start, currency
    )
    report("demo store", 2, len(steps))
    batch = EventBatch()
    n_orders = order_sessions(rng, batch, pp, pur, ln, cat, channel, totals, order_ids, currency)
    carts, browse = other_sessions(rng, batch, pp, b, pur, cat, days, currency)
    n_prospects = prospect_sessions(rng, batch, pp)
    events = batch.table(np.datetime64(start), seed)
    report("demo store", 3, len(steps))
    spend, spend_by, acquired = spend_table(rng, b, start, days, currency)
    consents, suppressions = consents_tables(rng, pp, start, days)
    from tenure.demo.orders import products_table

    tables = {
        "customers": customers_table(pp, b, start),
        "products": products_table(cat, currency),
        "orders": orders,
        "order_items": items,
        "events": events,
        "marketing_spend": spend,
        "consents": consents,
        "suppressions": suppressions,
        "generator_truth": pa.Table.from_pylist(P.truth_rows(acquired, spend_by)),
    }
    for name, table in tables.items():
        store.insert(name, table)
    report("demo store", 4, len(steps))
    return _summary(
        store,
        tables,
        pur,
        seed,
        currency,
        n_orders + carts + browse + n_prospects,
        customers,
        len(pp.customer_id) - customers,
    )


def _summary(
    store: Store,
    tables: dict[str, pa.Table],
    pur: Any,
    seed: int,
    currency: str,
    sessions: int,
    n_buyers: int,
    n_prospects: int,
) -> DemoSummary:
    revenue = sum((v for v in tables["orders"].column("total").to_pylist()), Decimal(0))
    n_orders = tables["orders"].num_rows
    per_buyer = np.bincount(pur.buyer, minlength=n_buyers)
    spend = sum((v for v in tables["marketing_spend"].column("cost").to_pylist()), Decimal(0))
    return DemoSummary(
        customers=n_buyers,
        prospects=n_prospects,
        orders=n_orders,
        revenue=revenue,
        aov=(revenue / n_orders).quantize(Decimal("0.01")) if n_orders else Decimal(0),
        repeat_rate=float((per_buyer >= 2).mean()) if n_buyers else 0.0,
        events=tables["events"].num_rows,
        sessions=sessions,
        spend=spend,
        currency=currency,
        seed=seed,
        location=store.location,
        tables={k: v.num_rows for k, v in tables.items()},
    )

"""The benchmark store: the demo generator's own order process, plus what attribution,
currency conversion and margins read (events with UTMs, orders in foreign currencies,
fx_rates, products without a cost), and one appended day for the incremental run.

The orders come from ``tenure.demo`` (BG/NBD purchases, gamma-gamma subtotals, baskets of
catalogue products, coupons, refunds) with bench-only changes made here, not in the
generator:

* every buyer's purchase rate x :data:`RATE` and drop-out probability x :data:`DROPOUT`:
  ~10 orders per buyer (the demo gives ~3);
* :data:`NO_CHANNEL` of the orders carry no ``channel`` and half of those no UTMs either, so
  the acquisition channel comes from the order's UTMs or from the events (last touch before
  the first order, first touch) as often as from the order;
* :data:`FOREIGN` of the orders are in EUR or GBP (converted with daily ``fx_rates`` that skip
  weekends, so "the latest rate on or before the day" matters) and :data:`NO_RATE` in JPY,
  which has no rate (null revenue: the money-warning path);
* :data:`NO_COST` of the products have neither a unit cost nor a margin (their orders take the
  default margin);
* events: a session before every order of 1 + Poisson(:data:`EVENTS_PER_ORDER` - 1) events a
  few minutes apart, from the buyer's first device; the landing event carries the order's
  UTMs in :data:`TAGGED` of the sessions; :data:`LOGGED_IN` of the sessions carry the user id
  (the rest are anonymous: identity stitches them through the device). ~5 events per order,
  as a day of a live store (10k orders, 50k events).

The demo's own event model (70M events at 1M buyers, 6 minutes and 7 GB) is not used.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
#: Bench-only: purchase rate x RATE and drop-out probability x DROPOUT: ~10 orders per buyer.
RATE, DROPOUT = 4.2, 0.2
START, DAYS, SEED = date(2024, 1, 1), 730, 7
NO_CHANNEL, FOREIGN, NO_RATE, NO_COST = 0.7, 0.15, 0.005, 0.05
EVENTS_PER_ORDER, TAGGED, LOGGED_IN = 5, 0.6, 0.5
#: Orders and events of the appended day (:func:`append_day`).
DAY_ORDERS, DAY_EVENTS = 10_000, 50_000
US_PER_MINUTE = 60_000_000
#: The store's reporting currency (recorded in the store), of every order not in EUR/GBP/JPY.
CURRENCY = "USD"


def _orders(o: Any, pp: Any, cl: Any, rng: np.random.Generator, currency: str) -> pa.Table:
    from tenure.demo.orders import orders_table

    t = orders_table(o, pp, cl.start, currency)
    n = t.num_rows
    no_channel = rng.random(n) < NO_CHANNEL
    no_utm = no_channel & (rng.random(n) < 0.5)
    t = t.set_column(
        t.schema.get_field_index("channel"), "channel", _null_where(t["channel"], no_channel)
    )
    for name in ("utm_source", "utm_medium", "utm_campaign"):
        t = t.set_column(t.schema.get_field_index(name), name, _null_where(t[name], no_utm))
    draw = rng.random(n)
    cur = np.full(n, currency, dtype=object)
    cur[draw < FOREIGN * 2 / 3] = "EUR"
    cur[(draw >= FOREIGN * 2 / 3) & (draw < FOREIGN)] = "GBP"
    cur[(draw >= FOREIGN) & (draw < FOREIGN + NO_RATE)] = "JPY"
    return t.set_column(
        t.schema.get_field_index("currency"), "currency", pa.array(cur, pa.string())
    )


def _null_where(column: pa.ChunkedArray, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.nulls(len(mask), column.type), column)


def _events(o: Any, pp: Any, cl: Any, rng: np.random.Generator, prefix: str) -> pa.Table:
    """A session before each order (see the module)."""
    from tenure.demo import arrow as A
    from tenure.demo import touches as T

    sizes = 1 + rng.poisson(EVENTS_PER_ORDER - 1, len(o))
    order = np.repeat(np.arange(len(o)), sizes)
    pos = np.arange(len(order)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    before = np.repeat(sizes, sizes) - pos  # the landing event comes first
    us = o.us[order] - before * rng.integers(1, 5, len(order)) * US_PER_MINUTE
    landing = pos == 0
    tagged = landing & (rng.random(len(o)) < TAGGED)[order]
    logged = (rng.random(len(o)) < LOGGED_IN)[order]
    buyer = o.buyer[order]
    touch = np.where(tagged, o.touch[order], -1)
    n = len(order)
    return pa.table(
        {
            "message_id": A.codes(prefix, np.arange(n), 9),
            "type": A.where(landing, A.constant("page", n), A.constant("track", n)),
            "event": A.where(landing, A.constant("Home", n), A.constant("Product Viewed", n)),
            "anonymous_id": A.take(pp.device_id, pp.first_device[buyer]),
            "user_id": pc.if_else(
                pa.array(logged), A.take(pp.customer_id, buyer), pa.nulls(n, pa.string())
            ),
            "timestamp": A.timestamps(cl.start, us),
            "utm_source": A.take_or_null(T.UTM_SOURCE, touch),
            "utm_medium": A.take_or_null(T.UTM_MEDIUM, touch),
            "utm_campaign": A.take_or_null(T.UTM_CAMPAIGN, touch),
            "source": A.constant("bench", n),
        }
    )


def _write_batch(store: Any, cat: Any, cl: Any, index: int, n: int, offsets: list[int]) -> None:
    from tenure.demo import params as P
    from tenure.demo.buyers import draw_buyers, draw_purchases
    from tenure.demo.orders import items_table, make_orders
    from tenure.demo.people import customers_table, draw_people

    rng = np.random.default_rng([SEED, index + 1])
    b = draw_buyers(rng, n, cl)
    b.lam *= RATE
    b.p *= DROPOUT
    pur = draw_purchases(rng, b, cl)
    pp = draw_people(rng, b, round(n * P.PROSPECT_SHARE), cl, offsets[0], SEED)
    o = make_orders(rng, pur, b, cat, offsets[1])
    currency = CURRENCY
    store.insert("customers", customers_table(pp, b, cl, np.zeros(len(pp), dtype=bool)))
    store.insert("orders", _orders(o, pp, cl, rng, currency))
    store.insert("order_items", items_table(o, cat, currency))
    store.insert("events", _events(o, pp, cl, rng, f"bench-{index}-"))
    offsets[0] += len(pp)
    offsets[1] += len(o)


def _products(cat: Any, currency: str, rng: np.random.Generator) -> pa.Table:
    from tenure.demo.catalog import products_table

    t = products_table(cat, currency)
    none = rng.random(t.num_rows) < NO_COST
    for name in ("unit_cost", "margin"):
        t = t.set_column(t.schema.get_field_index(name), name, _null_where(t[name], none))
    return t


def _fx_rates(rng: np.random.Generator) -> pa.Table:
    """EUR and GBP, every weekday from 30 days before the start to the end."""
    days = [START - timedelta(days=30) + timedelta(days=i) for i in range(DAYS + 60)]
    days = [d for d in days if d.weekday() < 5]
    rows: dict[str, list[Any]] = {"date": [], "currency": [], "rate": []}
    for code, level in (("EUR", 1.08), ("GBP", 1.27)):
        walk = level * np.exp(np.cumsum(rng.normal(0, 0.003, len(days))))
        rows["date"] += days
        rows["currency"] += [code] * len(days)
        rows["rate"] += [round(float(r), 6) for r in walk]
    return pa.table({**rows, "source": ["bench"] * len(rows["date"])})


def generate_store(path: Path) -> dict[str, Any]:
    """Write the bench store at ``path`` (``refresh_<customers>.duckdb``); its facts go to the
    ``.json`` file beside it."""
    from tenure import Store
    from tenure.demo.catalog import make_catalog
    from tenure.demo.clock import clock
    from tenure.demo.generate import BATCH
    from tenure.store.currency import set_reporting_currency

    customers = int(path.stem.rsplit("_", 1)[1])
    DATA.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    url = f"duckdb://{path}"
    with Store(url) as store:
        cl = clock(START, DAYS)
        rng = np.random.default_rng([SEED, 0])
        cat = make_catalog(rng)
        set_reporting_currency(store, CURRENCY, by="bench")
        store.insert("products", _products(cat, CURRENCY, rng))
        store.insert("fx_rates", _fx_rates(rng))
        offsets = [0, 0]
        for index, first in enumerate(range(0, customers, BATCH)):
            _write_batch(store, cat, cl, index, min(BATCH, customers - first), offsets)
        raw = store.con.con
        end = raw.execute("SELECT max(ordered_at)::DATE FROM orders").fetchone()[0]
        raw.execute(f"""COPY (SELECT customer_id, ordered_at, total::DOUBLE AS total,
            refunded::DOUBLE AS refunded, status FROM orders)
            TO '{path.with_suffix(".parquet")}' (FORMAT parquet)""")
        names = ("customers", "orders", "order_items", "events")
        counts = {name: store.count(name) for name in names}
    info = {"end": end.isoformat(), "seconds": round(time.perf_counter() - started, 1), **counts}
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def append_day(store: Any, day: date, seed: int = 1) -> dict[str, int]:
    """Append one day to the bench store: :data:`DAY_ORDERS` orders of existing customers
    (copies of random earlier orders moved to ``day``, with their lines) and
    :data:`DAY_EVENTS` events (copies of random earlier events of the same customers)."""
    raw = store.con.con
    tag = f"day{day:%Y%m%d}-"
    start = f"TIMESTAMP '{day.isoformat()}'"
    raw.execute(f"""CREATE OR REPLACE TEMP TABLE _day_orders AS
        SELECT * REPLACE ('{tag}' || order_id AS order_id,
            {start} + to_microseconds(CAST(hash(order_id, {seed}) % 86400000000 AS BIGINT))
                AS ordered_at, now()::TIMESTAMP AS imported_at)
        FROM orders WHERE ordered_at < {start}
        USING SAMPLE {DAY_ORDERS} ROWS (reservoir, {seed})""")
    raw.execute(f"""INSERT INTO order_items SELECT i.* REPLACE ('{tag}' || i.order_id AS order_id)
        FROM order_items i SEMI JOIN _day_orders d ON '{tag}' || i.order_id = d.order_id""")
    raw.execute("INSERT INTO orders SELECT * FROM _day_orders")
    per = DAY_EVENTS // DAY_ORDERS
    raw.execute(f"""INSERT INTO events BY NAME
        SELECT '{tag}' || d.order_id || '-' || e.k AS message_id, e.type, e.event,
               e.anonymous_id, e.user_id, e.utm_source, e.utm_medium, e.utm_campaign,
               d.ordered_at - to_minutes(CAST({per} - e.k AS BIGINT)) AS timestamp,
               'bench' AS source, now()::TIMESTAMP AS imported_at
        FROM (SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY message_id) AS k
              FROM events WHERE user_id IN (SELECT customer_id FROM _day_orders)) e
        JOIN _day_orders d ON d.customer_id = e.user_id
        WHERE e.k <= {per}""")
    orders = raw.execute(f"SELECT count(*) FROM orders WHERE order_id LIKE '{tag}%'").fetchone()
    events = raw.execute(f"SELECT count(*) FROM events WHERE message_id LIKE '{tag}%'").fetchone()
    raw.execute("DROP TABLE _day_orders")
    return {"orders": int(orders[0]), "events": int(events[0])}


def store_end_day(path: Path) -> date:
    """The last day of the bench store at ``path`` (from its .json)."""
    return date.fromisoformat(json.loads(path.with_suffix(".json").read_text())["end"])


def store_facts(path: Path) -> tuple[date, str, float]:
    """(as-of day, reporting currency, default margin) of the bench store, read through
    Tenure (closed again before anything is timed)."""
    from tenure import Store
    from tenure.store import reporting_currency

    url = f"duckdb://{path}"
    with Store(url) as store:
        return store_end_day(path), reporting_currency(store), store.settings.default_margin

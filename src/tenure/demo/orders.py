"""The catalogue, order lines with co-purchase structure, and order money to the cent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tenure.demo import params as P

PER_CATEGORY = 40
#: Category of the usual companion of a product of each category (bought together).
COMPANION = {0: 2, 1: 5, 2: 0, 3: 0, 4: 0, 5: 1, 6: 7, 7: 3}
REPEAT_CHANNELS = (
    ("email", 0.40),
    ("direct", 0.35),
    ("organic_search", 0.15),
    ("paid_search", 0.10),
)


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18,4) money from integer cents (built from the unscaled 128-bit ints)."""
    units = np.asarray(cents, dtype=np.int64) * 100
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    buffer = pa.py_buffer(words.tobytes())
    return pa.Array.from_buffers(pa.decimal128(18, 4), len(units), [None, buffer])


@dataclass
class Catalog:
    """Products: category, price and cost in cents, popularity and companion product."""

    category: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    weight: np.ndarray
    companion: np.ndarray
    titles: list[str]


def catalog(rng: np.random.Generator) -> Catalog:
    n = len(P.CATEGORIES) * PER_CATEGORY
    category = np.repeat(np.arange(len(P.CATEGORIES)), PER_CATEGORY)
    base = np.array([c[1] for c in P.CATEGORIES])[category]
    margin = np.array([c[2] for c in P.CATEGORIES])[category] * rng.uniform(0.85, 1.15, n)
    price = np.round(base * rng.lognormal(0, 0.35, n) * 100).astype(np.int64) // 100 * 100 + 99
    cost = np.round(price * (1 - margin)).astype(np.int64)
    weight = 1.0 / (rng.permutation(n) + 5.0)
    partner_cat = np.array([COMPANION[int(c)] for c in category])
    companion = partner_cat * PER_CATEGORY + rng.integers(0, PER_CATEGORY // 4, n)
    titles = [f"{P.CATEGORIES[c][0]} #{i % PER_CATEGORY + 1:02d}" for i, c in enumerate(category)]
    return Catalog(category, price, cost, weight / weight.sum(), companion, titles)


def products_table(cat: Catalog, currency: str) -> pa.Table:
    n = len(cat.category)
    return pa.table(
        {
            "product_id": [f"P{i:04d}" for i in range(n)],
            "sku": [f"SKU-{i:04d}" for i in range(n)],
            "title": cat.titles,
            "category": [P.CATEGORIES[c][0] for c in cat.category],
            "price": money(cat.price),
            "unit_cost": money(cat.cost),
            "currency": [currency] * n,
            "source": ["demo"] * n,
        }
    )


@dataclass
class Lines:
    """Order lines: order index, line number, product, quantity, unit price in cents."""

    order: np.ndarray
    line: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray


def lines(rng: np.random.Generator, cat: Catalog, subtotal: np.ndarray) -> Lines:
    """1-3 lines per order (primary, its companion w.p. 0.3, another item w.p. 0.25) whose
    amounts add up exactly to the order's subtotal (the gamma-gamma draw)."""
    n = len(subtotal)
    primary = rng.choice(len(cat.price), size=n, p=cat.weight)
    with_comp = rng.uniform(size=n) < P.COMPANION_PROB
    with_extra = rng.uniform(size=n) < 0.25
    slots = [
        primary,
        np.where(with_comp, cat.companion[primary], -1),
        np.where(with_extra, rng.choice(len(cat.price), size=n, p=cat.weight), -1),
    ]
    prods = np.stack(slots, axis=1)
    present = prods >= 0
    list_price = np.where(present, cat.price[np.maximum(prods, 0)], 0)
    share = list_price / list_price.sum(axis=1, keepdims=True)
    alloc = np.floor(share * subtotal[:, None]).astype(np.int64)
    last = present.cumsum(axis=1) == present.sum(axis=1, keepdims=True)
    last &= present
    qty = np.clip(np.round(alloc / np.maximum(list_price, 1)), 1, 6).astype(np.int64)
    qty = np.where(last, 1, qty)
    unit = np.where(present, alloc // qty, 0)
    others = np.where(last, 0, unit * qty).sum(axis=1)
    unit = np.where(last, (subtotal - others)[:, None], unit)
    order_idx, slot = np.nonzero(present)
    line_no = present.cumsum(axis=1)[order_idx, slot]
    return Lines(
        order_idx, line_no, prods[order_idx, slot], qty[order_idx, slot], unit[order_idx, slot]
    )


@dataclass
class Money:
    """Per-order amounts in cents, status and coupon."""

    discount: np.ndarray
    shipping: np.ndarray
    tax: np.ndarray
    total: np.ndarray
    refunded: np.ndarray
    status: np.ndarray
    coupon: np.ndarray


def order_money(rng: np.random.Generator, subtotal: np.ndarray, first: np.ndarray) -> Money:
    n = len(subtotal)
    coupon = rng.uniform(size=n) < np.where(first, 2 * P.COUPON_SHARE, P.COUPON_SHARE)
    discount = np.where(coupon, np.round(subtotal * P.COUPON_RATE), 0).astype(np.int64)
    shipping = np.where(
        subtotal - discount >= P.FREE_SHIPPING_FROM * 100, 0, round(P.SHIPPING * 100)
    ).astype(np.int64)
    tax = np.round((subtotal - discount) * P.TAX_RATE).astype(np.int64)
    total = subtotal - discount + shipping + tax
    u = rng.uniform(size=n)
    full = u < P.REFUND_FULL
    partial = (u >= P.REFUND_FULL) & (u < P.REFUND_FULL + P.REFUND_PARTIAL)
    refunded = np.where(full, total, 0)
    refunded = np.where(partial, np.round(total * rng.uniform(0.2, 0.6, n)), refunded)
    status = np.where(full, "refunded", np.where(partial, "partially_refunded", "paid"))
    code = np.where(coupon, np.where(first, "WELCOME10", "SAVE10"), np.asarray(None))
    return Money(discount, shipping, tax, total, refunded.astype(np.int64), status, code)


def repeat_channels(rng: np.random.Generator, n: int) -> np.ndarray:
    names = [c for c, _ in REPEAT_CHANNELS]
    probs = np.array([p for _, p in REPEAT_CHANNELS])
    return np.asarray(names, dtype=object)[rng.choice(len(names), size=n, p=probs)]

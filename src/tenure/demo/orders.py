"""Orders and order lines: money to the cent, coupons, shipping, tax, refunds, touches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import Buyers, Purchases
from tenure.demo.catalog import CATEGORY_NAMES, Catalog, Lines, Taste, basket
from tenure.demo.people import People

STATUSES = ["paid", "refunded", "partially_refunded"]
COUPONS = ["WELCOME10", "SAVE10"]


@dataclass
class Orders:
    """The orders of a batch, in cents; ``lines.order`` indexes them."""

    order_id: pa.Array
    buyer: np.ndarray
    first: np.ndarray
    us: np.ndarray  # ordered_at, microseconds since the start
    touch: np.ndarray
    subtotal: np.ndarray
    discount: np.ndarray
    shipping: np.ndarray
    tax: np.ndarray
    total: np.ndarray
    refunded: np.ndarray
    status: np.ndarray  # index into STATUSES
    coupon: np.ndarray  # index into COUPONS, -1 for none
    lines: Lines

    def __len__(self) -> int:
        return len(self.buyer)


def make_orders(
    rng: np.random.Generator,
    pur: Purchases,
    b: Buyers,
    cat: Catalog,
    offset: int,
    taste: Taste | None = None,
) -> Orders:
    """Orders from purchases: first orders come from the acquisition touch, repeat orders
    from the repeat mix; order ids continue from ``offset`` (``D00000000``...). ``taste``
    (its ``favourite`` per buyer, and the journeys) steers the baskets
    (:func:`tenure.demo.catalog.basket`)."""
    n = len(pur)
    subtotal = pur.subtotal_cents
    coupon = rng.uniform(size=n) < np.where(pur.first, P.COUPON_FIRST, P.COUPON_REPEAT)
    discount = np.where(coupon, np.round(subtotal * P.COUPON_RATE), 0).astype(np.int64)
    net = subtotal - discount
    shipping = np.where(net >= P.FREE_SHIPPING_FROM_CENTS, 0, P.SHIPPING_CENTS).astype(np.int64)
    tax = np.round(net * P.TAX_RATE).astype(np.int64)
    total = net + shipping + tax
    u = rng.uniform(size=n)
    full = u < P.REFUND_FULL
    partial = ~full & (u < P.REFUND_FULL + P.REFUND_PARTIAL)
    refunded = np.where(full, total, 0)
    refunded = np.where(partial, np.round(total * rng.uniform(0.2, 0.6, n)), refunded)
    touch = np.where(pur.first, b.touch[pur.buyer], T.draw(rng, T.REPEAT_P, n))
    return Orders(
        order_id=A.codes("D", np.arange(offset, offset + n), 8),
        buyer=pur.buyer,
        first=pur.first,
        us=A.days_to_us(pur.day),
        touch=touch,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        total=total,
        refunded=refunded.astype(np.int64),
        status=np.where(full, 1, np.where(partial, 2, 0)),
        coupon=np.where(coupon, np.where(pur.first, 0, 1), -1),
        lines=basket(rng, cat, subtotal, taste and taste.per_order(pur.buyer, pur.first)),
    )


def orders_table(o: Orders, pp: People, start: date, currency: str) -> pa.Table:
    n = len(o)
    return pa.table(
        {
            "order_id": o.order_id,
            "customer_id": A.take(pp.customer_id, o.buyer),
            "email": A.take(pp.email, o.buyer),
            "ordered_at": A.timestamps(start, o.us),
            "currency": A.constant(currency, n),
            "subtotal": A.money(o.subtotal),
            "discount": A.money(o.discount),
            "shipping": A.money(o.shipping),
            "tax": A.money(o.tax),
            "total": A.money(o.total),
            "refunded": A.money(o.refunded),
            "status": A.take(STATUSES, o.status),
            "coupon": A.take_or_null(COUPONS, o.coupon),
            "channel": A.take(T.CHANNEL_NAMES, T.CHANNEL_OF[o.touch]),
            "utm_source": A.take(T.UTM_SOURCE, o.touch),
            "utm_medium": A.take(T.UTM_MEDIUM, o.touch),
            "utm_campaign": A.take(T.UTM_CAMPAIGN, o.touch),
            "source": A.constant("demo", n),
        }
    )


def items_table(o: Orders, cat: Catalog, currency: str) -> pa.Table:
    ln = o.lines
    n = len(ln)
    return pa.table(
        {
            "order_id": A.take(o.order_id, ln.order),
            "line": pa.array(ln.line, pa.int64()),
            "product_id": A.take(cat.ids, ln.product),
            "sku": A.take(A.codes("SKU-", np.arange(len(cat)), 4), ln.product),
            "title": A.take(cat.titles, ln.product),
            "quantity": pa.array(ln.quantity, pa.int64()),
            "unit_price": A.money(ln.unit_cents),
            "currency": A.constant(currency, n),
            "category": A.take(CATEGORY_NAMES, cat.category[ln.product]),
            "source": A.constant("demo", n),
        }
    )

"""The visits of a batch: purchase, abandoned-cart, browse, sign-up and login sessions.

Each builder draws its sessions (vectorised over sessions) and adds their events to an
:class:`~tenure.demo.events.EventLog`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import Buyers
from tenure.demo.catalog import CATEGORY_NAMES, Catalog
from tenure.demo.clock import Clock
from tenure.demo.events import (
    ADDED,
    CHECKOUT,
    COMPLETED,
    IDENTIFY,
    IDENTIFY_EMAIL,
    SUBSCRIBED,
    VIEWED,
    EventLog,
    Sessions,
    product_prefixes,
    product_props,
)
from tenure.demo.orders import COUPONS, Orders
from tenure.demo.people import People


@dataclass(frozen=True)
class Context:
    """What every builder needs: the batch's people and buyers, catalogue, clock, currency,
    and each product's JSON up to its price (see :func:`context`)."""

    pp: People
    b: Buyers
    cat: Catalog
    cl: Clock
    currency: str
    prefixes: pa.Array


def context(pp: People, b: Buyers, cat: Catalog, cl: Clock, currency: str) -> Context:
    prefixes = product_prefixes(cat.titles, [CATEGORY_NAMES[c] for c in cat.category])
    return Context(pp, b, cat, cl, currency, prefixes)


#: Visits end before the end of the period: at most ~10 events of at most 90 s each.
_LAST_DAY = 0.01


def _steps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time between consecutive events of a visit: 20 to 90 seconds."""
    return rng.integers(20, 91, n) * 1_000_000


def _ending_at(end_us: np.ndarray, n_events: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Steps of visits whose last event is at ``end_us``, shortened so none starts before
    the start of the period; the visits' first event is then at ``end_us - (n - 1) step``."""
    return np.minimum(step, end_us // np.maximum(n_events - 1, 1))


def _sessions(
    rng: np.random.Generator, cx: Context, person: np.ndarray, day: np.ndarray, touch: np.ndarray
) -> Sessions:
    device = cx.pp.random_device(rng, person)
    return Sessions(person, device, touch, A.days_to_us(day), _steps(rng, len(person)))


def purchase_sessions(rng: np.random.Generator, log: EventLog, cx: Context, o: Orders) -> None:
    """One visit per order, ending with ``Order Completed`` at the order's time: views and
    adds of each line, ``Checkout Started``, an ``identify`` (the e-mail), the order."""
    ln = o.lines
    n_lines = np.bincount(ln.order, minlength=len(o))
    n_events = 2 * n_lines + 4
    step = _ending_at(o.us, n_events, _steps(rng, len(o)))
    device = cx.pp.random_device(rng, o.buyer)
    s = Sessions(o.buyer, device, o.touch, o.us - (n_events - 1) * step, step)
    log.open(s)
    at = ln.line - 1
    listed = cx.cat.price[ln.product]
    ones = np.ones(len(ln), np.int64)
    pre = cx.prefixes
    log.add(s, ln.order, 1 + at, VIEWED, product_props(pre, ln.product, listed, ones, cx.currency))
    added = product_props(pre, ln.product, ln.unit_cents, ln.quantity, cx.currency)
    log.add(s, ln.order, 1 + n_lines[ln.order] + at, ADDED, added)
    idx = np.arange(len(o))
    checkout = A.concat(
        '{"order_id":"', o.order_id, '","value":', A.amount_text(o.subtotal),
        f',"currency":"{cx.currency}"}}',
    )  # fmt: skip
    log.add(s, idx, 1 + 2 * n_lines, CHECKOUT, checkout)
    log.add(s, idx, 2 + 2 * n_lines, IDENTIFY, None)
    log.add(s, idx, 3 + 2 * n_lines, COMPLETED, _completed(cx, o, n_lines))


def _completed(cx: Context, o: Orders, n_lines: np.ndarray) -> pa.Array:
    """``Order Completed`` properties (Segment e-commerce spec), with the order's products."""
    ln = o.lines
    items = A.concat(
        A.take(cx.prefixes, ln.product), A.amount_text(ln.unit_cents),
        ',"quantity":', A.int_text(ln.quantity), "}",
    )  # fmt: skip
    offsets = pa.array(np.r_[0, np.cumsum(n_lines)].astype(np.int32))
    products = pc.binary_join(pa.ListArray.from_arrays(offsets, items), ",")
    coupon = A.take_or_null([f'"{c}"' for c in COUPONS], o.coupon).fill_null("null")
    money = A.amount_text
    return A.concat(
        '{"order_id":"', o.order_id, '","total":', money(o.total),
        ',"revenue":', money(o.subtotal - o.discount), ',"subtotal":', money(o.subtotal),
        ',"discount":', money(o.discount), ',"shipping":', money(o.shipping),
        ',"tax":', money(o.tax), ',"coupon":', coupon,
        f',"currency":"{cx.currency}","products":[', products, "]}",
    )  # fmt: skip


def _windows(cx: Context, o: Orders) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person: visits per order-equivalent, and the first and last day of their visits.

    Buyers visit from SESSION_BEFORE_DAYS before their first order to SESSION_AFTER_DAYS
    after their last; prospects for SESSION_AFTER_DAYS after signing up.
    """
    pp, nb = cx.pp, cx.pp.n_buyers
    orders = np.bincount(o.buyer, minlength=nb).astype(np.float64)
    last = np.zeros(nb)
    np.maximum.at(last, o.buyer, o.us / A.US_PER_DAY)
    lo = np.r_[np.maximum(cx.b.acquired - P.SESSION_BEFORE_DAYS, 0.0), pp.signup[nb:]]
    hi = np.r_[last, pp.signup[nb:]] + P.SESSION_AFTER_DAYS
    return orders, lo, np.minimum(hi, cx.cl.days - _LAST_DAY)


def _visit_touch(
    rng: np.random.Generator, cx: Context, person: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Before a buyer's first order: the touch they first came from; after: the repeat mix."""
    pp = cx.pp
    acquired = np.r_[cx.b.acquired, np.zeros(len(pp) - pp.n_buyers)][person]
    later = T.draw(rng, T.REPEAT_P, len(person))
    return np.where(day < acquired, pp.signup_touch[person], later)


def visit_sessions(rng: np.random.Generator, log: EventLog, cx: Context, o: Orders) -> None:
    """Abandoned-cart and browse-only visits of buyers and prospects.

    Abandoned carts are calibrated so that CART_ABANDONMENT of all visits with a cart
    (purchase visits included) end without an order, in expectation.
    """
    pp = cx.pp
    orders, lo, hi = _windows(cx, o)
    n_prospects = len(pp) - pp.n_buyers
    odds = P.CART_ABANDONMENT / (1 - P.CART_ABANDONMENT)
    rho = max(odds - P.PROSPECT_CARTS * n_prospects / max(len(o), 1), 0.0)
    rates = {
        "cart": np.r_[orders * rho, np.full(n_prospects, P.PROSPECT_CARTS)],
        "browse": np.r_[
            orders * P.BROWSE_SESSIONS_PER_ORDER, np.full(n_prospects, P.PROSPECT_BROWSE)
        ],
    }
    for kind, rate in rates.items():
        person = np.repeat(np.arange(len(pp)), rng.poisson(rate))
        day = cx.cl.uniform(rng, lo[person], hi[person])
        s = _sessions(rng, cx, person, day, _visit_touch(rng, cx, person, day))
        prospect = person >= pp.n_buyers
        s.device = np.where(prospect, pp.first_device[person], s.device)
        log.open(s)
        if kind == "cart":
            _cart(rng, log, cx, s, day)
        else:
            _browse(rng, log, cx, s)


def _cart(
    rng: np.random.Generator, log: EventLog, cx: Context, s: Sessions, day: np.ndarray
) -> None:
    """View, add, and for some ``Checkout Started`` (half of those leave an e-mail)."""
    n = len(s)
    idx = np.arange(n)
    product = cx.cat.draw(rng, n)
    price = cx.cat.price[product]
    one = np.ones(n, np.int64)
    log.add(s, idx, one, VIEWED, product_props(cx.prefixes, product, price, one, cx.currency))
    log.add(s, idx, 2 * one, ADDED, product_props(cx.prefixes, product, price, one, cx.currency))
    go = idx[rng.uniform(size=n) < P.CHECKOUT_ABANDONED]
    value = A.concat('{"value":', A.amount_text(price[go]), f',"currency":"{cx.currency}"}}')
    log.add(s, go, 3 * one[go], CHECKOUT, value)
    leave = go[rng.uniform(size=len(go)) < P.EMAIL_AT_CHECKOUT]
    has_record = day[leave] >= cx.pp.signup[s.person[leave]]
    for kind, who in ((IDENTIFY, leave[has_record]), (IDENTIFY_EMAIL, leave[~has_record])):
        log.add(s, who, 4 * one[who], kind, None)


def _browse(rng: np.random.Generator, log: EventLog, cx: Context, s: Sessions) -> None:
    """One to three products viewed, nothing added."""
    views = 1 + rng.binomial(2, 0.4, len(s))
    idx = np.repeat(np.arange(len(s)), views)
    pos = 1 + np.arange(len(idx)) - np.repeat(np.cumsum(views) - views, views)
    product = cx.cat.draw(rng, len(idx))
    one = np.ones(len(idx), np.int64)
    props = product_props(cx.prefixes, product, cx.cat.price[product], one, cx.currency)
    log.add(s, idx, pos, VIEWED, props)


def signup_sessions(rng: np.random.Generator, log: EventLog, cx: Context) -> None:
    """Newsletter sign-ups (prospects, and e-mail buyers before their first order): the
    visit they came on, an ``identify`` and ``Newsletter Subscribed``."""
    pp = cx.pp
    person = np.nonzero(pp.subscribed_first)[0]
    s = _sessions(rng, cx, person, pp.signup[person], pp.signup_touch[person])
    s.device = pp.first_device[person]
    s.step_us = _ending_at(s.start_us, np.full(len(s), 3), s.step_us)
    s.start_us = s.start_us - 2 * s.step_us
    log.open(s)
    idx = np.arange(len(s))
    log.add(s, idx, np.ones(len(s), np.int64), IDENTIFY, None)
    props = A.constant('{"list":"newsletter"}', len(s))
    log.add(s, idx, np.full(len(s), 2), SUBSCRIBED, props)


def login_sessions(rng: np.random.Generator, log: EventLog, cx: Context) -> None:
    """Every device of every buyer logs in once after the first order (an ``identify``), so
    each device seen in the events can be linked to its person."""
    pp = cx.pp
    device = np.nonzero(pp.device_owner < pp.n_buyers)[0]
    person = pp.device_owner[device]
    start = cx.b.acquired[person]
    day = cx.cl.uniform(rng, start, np.full(len(person), cx.cl.days - _LAST_DAY))
    s = _sessions(rng, cx, person, day, T.draw(rng, T.REPEAT_P, len(person)))
    s.device = device
    log.open(s)
    idx = np.arange(len(s))
    log.add(s, idx, np.ones(len(s), np.int64), IDENTIFY, None)
    product = cx.cat.draw(rng, len(s))
    one = np.ones(len(s), np.int64)
    props = product_props(cx.prefixes, product, cx.cat.price[product], one, cx.currency)
    log.add(s, idx, 2 * one, VIEWED, props)

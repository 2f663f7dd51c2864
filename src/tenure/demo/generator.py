"""Assemble the demo store's tables from people, purchases, catalogue and sessions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from tenure.demo import params as P
from tenure.demo.events import EventBatch, Sessions, landing, product_events, simple_events, utm
from tenure.demo.orders import (
    Catalog,
    Lines,
    lines,
    money,
    order_money,
    repeat_channels,
)
from tenure.demo.people import Buyers, Calendar, Purchases

FIRST = (
    "ann",
    "bob",
    "cy",
    "dee",
    "eli",
    "fay",
    "gus",
    "hal",
    "ivy",
    "jo",
    "kim",
    "lea",
    "max",
    "noa",
    "oli",
    "pia",
    "raj",
    "sam",
    "tea",
    "uma",
    "vic",
    "wyn",
    "yan",
    "zoe",
)
LAST = (
    "smith",
    "jones",
    "garcia",
    "miller",
    "davis",
    "martin",
    "lopez",
    "clark",
    "lewis",
    "walker",
    "young",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
)
CHANNEL_NAMES = np.asarray([c.name for c in P.CHANNELS], dtype=object)


@dataclass
class People:
    """Buyers first, then prospects: ids, e-mails, devices, sign-up days."""

    n_buyers: int
    customer_id: np.ndarray
    email: np.ndarray
    first: np.ndarray
    last: np.ndarray
    signup: np.ndarray
    devices: list[list[str]]
    n_devices: np.ndarray
    offset: int = 0


def people(
    rng: np.random.Generator,
    b: Buyers,
    n_prospects: int,
    cal: Calendar,
    seed: int,
    offset: int = 0,
) -> People:
    """Buyers then prospects of one batch; ids and device names continue from ``offset``."""
    n = len(b.channel) + n_prospects
    ids = np.asarray([f"C{i:07d}" for i in range(offset, offset + n)], dtype=object)
    f = np.asarray(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.asarray(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    email = np.asarray(
        [
            f"{a}.{c}{i}@example.com"
            for i, (a, c) in enumerate(zip(f, last, strict=True), start=offset)
        ],
        dtype=object,
    )
    signup = np.concatenate(
        [
            np.maximum(b.acquired - rng.uniform(0, 3, len(b.channel)), 0),
            rng.uniform(0, cal.days, n_prospects),
        ]
    )
    n_dev = 1 + rng.binomial(2, 0.35, n)
    devices = [
        [f"anon-{seed}-{i}-{k}" for k in range(d)]
        for i, d in enumerate(n_dev.tolist(), start=offset)
    ]
    return People(len(b.channel), ids, email, f, last, signup, devices, n_dev, offset)


def _device(rng: np.random.Generator, pp: People, person: np.ndarray) -> np.ndarray:
    k = (rng.uniform(size=len(person)) * pp.n_devices[person]).astype(np.int64)
    return np.asarray(
        [pp.devices[p][i] for p, i in zip(person.tolist(), k.tolist(), strict=True)], dtype=object
    )


def order_sessions(
    rng: np.random.Generator,
    batch: EventBatch,
    pp: People,
    pur: Purchases,
    ln: Lines,
    cat: Catalog,
    channel: np.ndarray,
    totals: np.ndarray,
    order_ids: np.ndarray,
    currency: str,
) -> int:
    lead = 10 / 1440
    s = Sessions(
        pur.buyer, pur.day - lead, channel, pp.customer_id[pur.buyer], _device(rng, pp, pur.buyer)
    )
    landing(batch, s)
    product_events(
        batch, "Product Viewed", ln.order, s, ln.product, cat.price[ln.product], 1 / 1440, currency
    )
    product_events(
        batch, "Product Added", ln.order, s, ln.product, ln.unit_cents, 2 / 1440, currency
    )
    simple_events(batch, "track", "Checkout Started", s, 6 / 1440)
    traits = [json.dumps({"email": e}) for e in pp.email[pur.buyer]]
    simple_events(batch, "identify", None, s, 7 / 1440, traits=traits)
    props = [
        f'{{"order_id":"{o}","revenue":{t / 100:.2f},"currency":"{currency}"}}'
        for o, t in zip(order_ids.tolist(), totals.tolist(), strict=True)
    ]
    simple_events(batch, "track", "Order Completed", s, lead, props=props)
    return len(pur.day)


def other_sessions(
    rng: np.random.Generator,
    batch: EventBatch,
    pp: People,
    b: Buyers,
    pur: Purchases,
    cat: Catalog,
    days: int,
    currency: str,
) -> tuple[int, int]:
    """Cart-abandon and browse sessions of buyers; returns (carts abandoned, browse sessions)."""
    orders_per = np.bincount(pur.buyer, minlength=pp.n_buyers)
    last_order = np.zeros(pp.n_buyers)
    np.maximum.at(last_order, pur.buyer, pur.day)
    made = []
    for kind, rate in (
        ("cart", P.CART_ABANDONMENT / (1 - P.CART_ABANDONMENT)),
        ("browse", P.BROWSE_SESSIONS_PER_ORDER),
    ):
        per = rng.poisson(orders_per * rate)
        person = np.repeat(np.arange(pp.n_buyers), per)
        lo = np.maximum(b.acquired[person] - 20, 0)
        hi = np.minimum(last_order[person] + 60, days - 1e-3)
        day = lo + rng.uniform(size=len(person)) * (hi - lo)
        before = day < b.acquired[person]
        chan = np.where(before, CHANNEL_NAMES[b.channel[person]], repeat_channels(rng, len(person)))
        logged_in = ~before & (rng.uniform(size=len(person)) < 0.6)
        user = np.where(logged_in, pp.customer_id[person], np.asarray(None))
        s = Sessions(person, day, chan, user, _device(rng, pp, person))
        landing(batch, s)
        prod = rng.choice(len(cat.price), size=len(person), p=cat.weight)
        idx = np.arange(len(person))
        product_events(batch, "Product Viewed", idx, s, prod, cat.price[prod], 1 / 1440, currency)
        if kind == "cart":
            product_events(
                batch, "Product Added", idx, s, prod, cat.price[prod], 3 / 1440, currency
            )
            go = rng.uniform(size=len(person)) < 0.3
            sub = Sessions(person[go], day[go], chan[go], user[go], s.device[go])
            simple_events(batch, "track", "Checkout Started", sub, 5 / 1440)
        made.append(len(person))
    return made[0], made[1]


def login_events(
    rng: np.random.Generator, batch: EventBatch, pp: People, b: Buyers, days: int
) -> int:
    """Every device of a buyer logs in once after the first order: an ``identify`` call."""
    person = np.repeat(np.arange(pp.n_buyers), pp.n_devices[: pp.n_buyers])
    first_index = np.concatenate([[0], np.cumsum(pp.n_devices[: pp.n_buyers])[:-1]])
    k = np.arange(len(person)) - first_index[person]
    device = np.asarray(
        [pp.devices[p][i] for p, i in zip(person.tolist(), k.tolist(), strict=True)], dtype=object
    )
    start = b.acquired[person]
    day = start + rng.uniform(size=len(person)) * np.maximum(days - 1e-3 - start, 0)
    traits = [json.dumps({"email": e}) for e in pp.email[person]]
    s = Sessions(
        person, day, np.full(len(person), None, dtype=object), pp.customer_id[person], device
    )
    simple_events(batch, "identify", None, s, 0.0, traits=traits)
    return len(person)


def prospect_sessions(rng: np.random.Generator, batch: EventBatch, pp: People) -> int:
    person = np.arange(pp.n_buyers, len(pp.customer_id))
    shares = np.array([c.share for c in P.CHANNELS])
    chan = CHANNEL_NAMES[rng.choice(len(shares), size=len(person), p=shares / shares.sum())]
    s = Sessions(
        person,
        pp.signup[person],
        chan,
        pp.customer_id[person],
        np.asarray([pp.devices[p][0] for p in person.tolist()], dtype=object),
    )
    landing(batch, s)
    traits = [json.dumps({"email": e}) for e in pp.email[person]]
    simple_events(batch, "identify", None, s, 1 / 1440, traits=traits)
    simple_events(batch, "track", "Newsletter Subscribed", s, 1 / 1440)
    return len(person)


def customers_table(pp: People, b: Buyers, start: date) -> pa.Table:
    n = len(pp.customer_id)
    traits = []
    for i in range(n):
        doc: dict[str, object] = {
            "demo_person": f"person-{pp.offset + i}",
            "demo_devices": pp.devices[i],
        }
        if i < pp.n_buyers:
            doc["demo_truth"] = {
                "channel": P.CHANNELS[int(b.channel[i])].name,
                "lambda": round(float(b.lam[i]), 8),
                "p": round(float(b.p[i]), 8),
                "alive": bool(b.alive[i]),
                "repeats": int(b.repeats[i]),
                "expected_spend": round(P.GG_P / float(b.nu[i]), 4),
            }
        traits.append(json.dumps(doc))
    return pa.table(
        {
            "customer_id": pa.array(pp.customer_id.tolist()),
            "email": pa.array(pp.email.tolist()),
            "first_name": pa.array([x.title() for x in pp.first.tolist()]),
            "last_name": pa.array([x.title() for x in pp.last.tolist()]),
            "country": pa.array(["US"] * n),
            "created_at": _timestamps(start, pp.signup),
            "traits": pa.array(traits),
            "source": pa.array(["demo"] * n),
        }
    )


def _timestamps(start: date, day: np.ndarray) -> pa.Array:
    us = (day * 86_400_000_000).astype(np.int64).astype("timedelta64[us]")
    return pa.array(np.datetime64(start).astype("datetime64[us]") + us)


def orders_tables(
    rng: np.random.Generator,
    pp: People,
    b: Buyers,
    pur: Purchases,
    cat: Catalog,
    start: date,
    currency: str,
    order_offset: int = 0,
) -> tuple[pa.Table, pa.Table, Lines, np.ndarray, np.ndarray, np.ndarray]:
    ln = lines(rng, cat, pur.subtotal_cents)
    m = order_money(rng, pur.subtotal_cents, pur.first)
    n = len(pur.day)
    order_ids = np.asarray(
        [f"D{i:08d}" for i in range(order_offset, order_offset + n)], dtype=object
    )
    channel = np.where(pur.first, CHANNEL_NAMES[b.channel[pur.buyer]], repeat_channels(rng, n))
    src, med, camp, _ = utm(channel)
    orders = pa.table(
        {
            "order_id": pa.array(order_ids.tolist()),
            "customer_id": pa.array(pp.customer_id[pur.buyer].tolist()),
            "email": pa.array(pp.email[pur.buyer].tolist()),
            "ordered_at": _timestamps(start, pur.day),
            "currency": pa.array([currency] * n),
            "subtotal": money(pur.subtotal_cents),
            "discount": money(m.discount),
            "shipping": money(m.shipping),
            "tax": money(m.tax),
            "total": money(m.total),
            "refunded": money(m.refunded),
            "status": pa.array(m.status.tolist()),
            "coupon": pa.array(m.coupon.tolist(), pa.string()),
            "channel": pa.array(channel.tolist()),
            "utm_source": pa.array(src.tolist(), pa.string()),
            "utm_medium": pa.array(med.tolist(), pa.string()),
            "utm_campaign": pa.array(camp.tolist(), pa.string()),
            "source": pa.array(["demo"] * n),
        }
    )
    items = pa.table(
        {
            "order_id": pa.array(order_ids[ln.order].tolist()),
            "line": pa.array(ln.line, pa.int64()),
            "product_id": pa.array([f"P{p:04d}" for p in ln.product.tolist()]),
            "sku": pa.array([f"SKU-{p:04d}" for p in ln.product.tolist()]),
            "title": pa.array([cat.titles[p] for p in ln.product.tolist()]),
            "quantity": pa.array(ln.quantity, pa.int64()),
            "unit_price": money(ln.unit_cents),
            "currency": pa.array([currency] * len(ln.order)),
            "category": pa.array([P.CATEGORIES[cat.category[p]][0] for p in ln.product.tolist()]),
            "source": pa.array(["demo"] * len(ln.order)),
        }
    )
    return orders, items, ln, channel, m.total, order_ids


def consents_tables(
    rng: np.random.Generator, pp: People, start: date, days: int
) -> tuple[pa.Table, pa.Table]:
    """Email opt-ins at sign-up (every prospect, most buyers), some unsubscribes, bounces."""
    n = len(pp.customer_id)
    is_prospect = np.arange(n) >= pp.n_buyers
    opted = is_prospect | (rng.uniform(size=n) < P.ACCEPTS_MARKETING)
    who = np.nonzero(opted)[0]
    unsub = who[rng.uniform(size=len(who)) < P.UNSUBSCRIBE]
    unsub_day = pp.signup[unsub] + rng.uniform(size=len(unsub)) * (days - pp.signup[unsub])
    ident = np.concatenate([pp.email[who], pp.email[unsub]])
    consents = pa.table(
        {
            "identifier": pa.array(ident.tolist()),
            "identifier_kind": pa.array(["email"] * len(ident)),
            "channel": pa.array(["email"] * len(ident)),
            "status": pa.array(["subscribed"] * len(who) + ["unsubscribed"] * len(unsub)),
            "source": pa.array(["demo"] * len(ident)),
            "at": _timestamps(start, np.concatenate([pp.signup[who], unsub_day])),
        }
    )
    bounced = who[rng.uniform(size=len(who)) < P.BOUNCE]
    suppressions = pa.table(
        {
            "identifier": pa.array(pp.email[bounced].tolist(), pa.string()),
            "identifier_kind": pa.array(["email"] * len(bounced), pa.string()),
            "channel": pa.array(["email"] * len(bounced), pa.string()),
            "reason": pa.array(["bounced"] * len(bounced), pa.string()),
            "source": pa.array(["demo"] * len(bounced), pa.string()),
            "at": _timestamps(start, pp.signup[bounced] + 1),
        }
    )
    return consents, suppressions


def new_buyers(b: Buyers, days: int) -> np.ndarray:
    """New buyers per channel (rows) and day (columns)."""
    out = np.zeros((len(P.CHANNELS), days), dtype=np.int64)
    np.add.at(out, (b.channel, np.minimum(np.floor(b.acquired).astype(np.int64), days - 1)), 1)
    return out


def spend_table(
    rng: np.random.Generator, new: np.ndarray, start: date, days: int, currency: str
) -> tuple[pa.Table, dict[str, float], dict[str, int]]:
    """Daily spend per paid channel and campaign: true CAC x that day's new buyers, noisy."""
    rows_day, rows_chan, rows_camp, rows_cents = [], [], [], []
    spend: dict[str, float] = {}
    acquired: dict[str, int] = {}
    for k, ch in enumerate(P.CHANNELS):
        acquired[ch.name] = int(new[k].sum())
        if ch.cac <= 0:
            continue
        noise = rng.lognormal(-0.03125, 0.25, days)
        cents = np.round(ch.cac * 100 * new[k] * noise).astype(np.int64)
        cents = np.maximum(cents, 500)  # an always-on minimum budget
        spend[ch.name] = float(cents.sum()) / 100
        for j, camp in enumerate(ch.campaigns):
            part = cents // len(ch.campaigns) + (cents % len(ch.campaigns) if j == 0 else 0)
            rows_day.append(np.arange(days))
            rows_chan += [ch.name] * days
            rows_camp += [camp] * days
            rows_cents.append(part)
    day = np.concatenate(rows_day)
    dates = np.datetime64(start) + day.astype("timedelta64[D]")
    table = pa.table(
        {
            "date": pa.array(dates.astype("datetime64[D]")),
            "channel": pa.array(rows_chan),
            "campaign": pa.array(rows_camp),
            "cost": money(np.concatenate(rows_cents)),
            "currency": pa.array([currency] * len(day)),
            "source": pa.array(["demo"] * len(day)),
        }
    )
    return table, spend, acquired

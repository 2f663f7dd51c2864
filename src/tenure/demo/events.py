"""Segment-spec events: collected session by session, written as one ``events`` table.

A device's events carry ``user_id`` from its first ``identify`` call with a user id on (as
analytics.js does: the id persists in the browser); before that they are anonymous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.people import People, identify_traits

PAGE, IDENTIFY, IDENTIFY_EMAIL, VIEWED, ADDED, CHECKOUT, COMPLETED, SUBSCRIBED = range(8)
#: Per event kind: Segment call type and event name (the page name for ``page``).
KINDS = (
    ("page", "Home"),
    ("identify", None),  # with user_id (sign-up, login, checkout of a customer)
    ("identify", None),  # e-mail only (a visitor leaves an e-mail at checkout)
    ("track", "Product Viewed"),
    ("track", "Product Added"),
    ("track", "Checkout Started"),
    ("track", "Order Completed"),
    ("track", "Newsletter Subscribed"),
)
PAGE_PROPERTIES = '{"path":"/","title":"Home"}'


@dataclass
class Sessions:
    """Visits: whose, on which device, from which touch, first event time and pace."""

    person: np.ndarray
    device: np.ndarray
    touch: np.ndarray
    start_us: np.ndarray
    step_us: np.ndarray  # time between consecutive events of the visit

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class EventLog:
    """Events of one batch, added kind by kind as column chunks."""

    device: list[np.ndarray] = field(default_factory=list)
    us: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    touch: list[np.ndarray] = field(default_factory=list)
    props: list[pa.Array] = field(default_factory=list)
    sessions: int = 0

    def open(self, s: Sessions) -> None:
        """Count the visits and write their landing ``page`` call (carrying the UTMs)."""
        self.sessions += len(s)
        self.add(s, np.arange(len(s)), np.zeros(len(s), np.int64), PAGE, None)

    def add(
        self, s: Sessions, idx: np.ndarray, pos: np.ndarray, kind: int, props: pa.Array | None
    ) -> None:
        """Events of kind ``kind`` in sessions ``idx`` at positions ``pos`` of the visit."""
        n = len(idx)
        self.device.append(s.device[idx])
        self.us.append(s.start_us[idx] + pos * s.step_us[idx])
        self.kind.append(np.full(n, kind, dtype=np.int8))
        self.touch.append(np.where(pos == 0, s.touch[idx], -1) if kind == PAGE else np.full(n, -1))
        if props is None:
            props = A.constant(PAGE_PROPERTIES if kind == PAGE else None, n)
        self.props.append(props)

    def __len__(self) -> int:
        return sum(len(k) for k in self.kind)


def _contexts() -> list[str]:
    """Context JSON per (touch, device type) for landing pages, then per device type."""
    out = []
    for touch in (*T.TOUCHES, None):
        for device_type, _ in P.DEVICE_TYPES:
            doc: dict[str, object] = {}
            campaign = None if touch is None else T.campaign_json(touch)
            if campaign is not None:
                doc["campaign"] = json.loads(campaign)
            doc["device"] = {"type": device_type}
            out.append(json.dumps(doc, separators=(",", ":")))
    return out


_CONTEXTS = _contexts()


def _identified(device: np.ndarray, us: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """True for events at or after their device's first identify-with-user-id call."""
    order = np.lexsort((kind != IDENTIFY, us, device))
    calls = np.cumsum(kind[order] == IDENTIFY)
    d = device[order]
    group_start = np.r_[True, d[1:] != d[:-1]]
    before_group = (calls - (kind[order] == IDENTIFY))[group_start]
    known = calls - np.repeat(before_group, np.diff(np.r_[np.nonzero(group_start)[0], len(d)]))
    out = np.empty(len(device), dtype=bool)
    out[order] = known > 0
    return out


def events_table(
    log: EventLog, pp: People, rng: np.random.Generator, start: np.datetime64, prefix: str
) -> pa.Table:
    """The batch's events in time order; message ids are ``prefix`` + a running number."""
    device = np.concatenate(log.device)
    us = np.concatenate(log.us)
    kind = np.concatenate(log.kind)
    touch = np.concatenate(log.touch)
    props = pa.concat_arrays(log.props)
    person = pp.device_owner[device]
    order = np.lexsort((kind, us))
    device, us, kind, touch, person = (x[order] for x in (device, us, kind, touch, person))
    props = props.take(pa.array(order))
    n = len(us)
    known = _identified(device, us, kind)
    dtype = pp.device_type[device]
    n_types = len(P.DEVICE_TYPES)
    ctx = np.where(touch >= 0, touch, len(T.TOUCHES)) * n_types + dtype
    is_identify = (kind == IDENTIFY) | (kind == IDENTIFY_EMAIL)
    sent = us + rng.integers(50_000, 3_000_000, n)
    origin = start.astype("datetime64[us]")
    return pa.table(
        {
            "message_id": A.concat(prefix, A.int_text(np.arange(n))),
            "type": A.take([k[0] for k in KINDS], kind),
            "event": A.take([k[1] for k in KINDS], kind),
            "anonymous_id": A.take(pp.device_id, device),
            "user_id": A.take_or_null(pp.customer_id, np.where(known, person, -1)),
            "timestamp": pa.array(origin + us.astype("timedelta64[us]")),
            "sent_at": pa.array(origin + sent.astype("timedelta64[us]")),
            "received_at": pa.array(
                origin + (sent + rng.integers(20_000, 800_000, n)).astype("timedelta64[us]")
            ),
            "properties": props,
            "traits": A.take_or_null(identify_traits(pp), np.where(is_identify, person, -1)),
            "context": A.take(_CONTEXTS, ctx),
            "utm_source": A.take_or_null(T.UTM_SOURCE, touch),
            "utm_medium": A.take_or_null(T.UTM_MEDIUM, touch),
            "utm_campaign": A.take_or_null(T.UTM_CAMPAIGN, touch),
            "source": A.constant("demo", n),
        }
    )


def product_props(
    prefixes: pa.Array, product: np.ndarray, cents: np.ndarray, qty: np.ndarray, currency: str
) -> pa.Array:
    """``Product Viewed``/``Product Added`` properties: the product, price paid, quantity."""
    return A.concat(
        A.take(prefixes, product),
        A.amount_text(cents),
        ',"quantity":',
        A.int_text(qty),
        f',"currency":"{currency}"}}',
    )


def product_prefixes(titles: list[str], categories: list[str]) -> pa.Array:
    """Per product, the start of its JSON object, up to ``"price":``."""
    return pa.array(
        [
            f'{{"product_id":"P{i:04d}","sku":"SKU-{i:04d}","name":{json.dumps(t)},'
            f'"category":{json.dumps(c)},"price":'
            for i, (t, c) in enumerate(zip(titles, categories, strict=True))
        ]
    )

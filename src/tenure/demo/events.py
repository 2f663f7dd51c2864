"""Sessions and Segment-spec events: purchase, cart-abandon, browse and sign-up sessions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tenure.demo import params as P

_US_PER_DAY = 86_400_000_000


@dataclass
class Sessions:
    """One entry per session."""

    person: np.ndarray
    day: np.ndarray  # calendar day (float) the session starts
    channel: np.ndarray  # object array of channel names (landing UTMs)
    user: np.ndarray  # object array: user id when identified, else None
    device: np.ndarray  # object array: anonymous id


@dataclass
class EventBatch:
    """Column lists of events, appended kind by kind, turned into one Arrow table."""

    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)
    count: int = 0

    def add(self, **columns: np.ndarray | None) -> None:
        n = len(next(v for v in columns.values() if v is not None))
        for name in (
            "type",
            "event",
            "anonymous_id",
            "user_id",
            "day",
            "properties",
            "traits",
            "context",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        ):
            value = columns.get(name)
            if value is None:
                value = np.full(n, None, dtype=object)
            self.cols.setdefault(name, []).append(np.asarray(value))
        self.count += n

    def table(self, start: np.datetime64, seed: int, offset: int = 0) -> pa.Table:
        data = {k: np.concatenate(v) for k, v in self.cols.items()}
        us = (data.pop("day") * _US_PER_DAY).astype(np.int64)
        ts = start.astype("datetime64[us]") + us.astype("timedelta64[us]")
        n = len(ts)
        order = np.argsort(ts, kind="stable")
        out = {k: pa.array(v[order].tolist(), pa.string()) for k, v in data.items()}
        ts = ts[order]
        ids = [f"demo-{seed}-{i:09d}" for i in range(offset, offset + n)]
        return pa.table(
            {
                "message_id": pa.array(ids),
                **out,
                "timestamp": pa.array(ts),
                "sent_at": pa.array(ts + np.timedelta64(150, "ms")),
                "received_at": pa.array(ts + np.timedelta64(900, "ms")),
                "source": pa.array(["demo"] * n),
            }
        )


def utm(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """UTM source, medium, campaign and a JSON context for each landing channel."""
    by_name = {c.name: c for c in P.CHANNELS}
    n = len(channel)
    src, med, camp = (np.full(n, None, dtype=object) for _ in range(3))
    ctx = np.full(n, None, dtype=object)
    for name, ch in by_name.items():
        mask = channel == name
        if not mask.any() or ch.utm_source is None:
            continue
        src[mask], med[mask] = ch.utm_source, ch.utm_medium
        if ch.campaigns:
            picks = np.asarray(ch.campaigns, dtype=object)[
                np.arange(mask.sum()) % len(ch.campaigns)
            ]
            camp[mask] = picks
        ctx[mask] = [
            json.dumps({"campaign": {"source": ch.utm_source, "medium": ch.utm_medium, "name": c}})
            for c in camp[mask]
        ]
    return src, med, camp, ctx


def landing(batch: EventBatch, s: Sessions, offset: float = 0.0) -> None:
    """A page view opening each session, carrying the session's UTMs."""
    src, med, camp, ctx = utm(s.channel)
    batch.add(
        type=np.full(len(s.day), "page", dtype=object),
        event=np.full(len(s.day), "Home", dtype=object),
        anonymous_id=s.device,
        user_id=s.user,
        day=s.day + offset,
        context=ctx,
        utm_source=src,
        utm_medium=med,
        utm_campaign=camp,
    )


def product_events(
    batch: EventBatch,
    name: str,
    s_idx: np.ndarray,
    s: Sessions,
    product: np.ndarray,
    price_cents: np.ndarray,
    offset: float,
    currency: str,
) -> None:
    props = [
        f'{{"product_id":"P{p:04d}","price":{c / 100:.2f},"currency":"{currency}"}}'
        for p, c in zip(product.tolist(), price_cents.tolist(), strict=True)
    ]
    batch.add(
        type=np.full(len(s_idx), "track", dtype=object),
        event=np.full(len(s_idx), name, dtype=object),
        anonymous_id=s.device[s_idx],
        user_id=s.user[s_idx],
        day=s.day[s_idx] + offset,
        properties=np.asarray(props, dtype=object),
    )


def simple_events(
    batch: EventBatch,
    kind: str,
    name: str | None,
    s: Sessions,
    offset: float,
    props: list[str] | None = None,
    traits: list[str] | None = None,
) -> None:
    n = len(s.day)
    batch.add(
        type=np.full(n, kind, dtype=object),
        event=np.full(n, name, dtype=object),
        anonymous_id=s.device,
        user_id=s.user,
        day=s.day + offset,
        properties=None if props is None else np.asarray(props, dtype=object),
        traits=None if traits is None else np.asarray(traits, dtype=object),
    )

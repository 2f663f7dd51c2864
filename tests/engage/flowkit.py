"""A hand-built store for the flow tests: six persons with devices, cart events and orders
at known times, and simple stand-ins for the send policy (every message ``pending``) and the
holdout (a Python-side hash), so the engine is tested on its own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest

from tenure import Store

T0 = datetime(2026, 3, 2, 12, 0)  # a Monday, noon UTC
PERSONS = ("p1", "p2", "p3", "p4", "p5", "p6")


def all_pending(store: Store, candidates: ir.Table, now: datetime) -> ir.Table:
    """The stand-in send policy: every candidate pending (holdouts held out)."""
    state = ibis.ifelse(candidates.holdout, ibis.literal("holdout"), ibis.literal("pending"))
    return candidates.mutate(
        state=state, reason=ibis.null("string"), release_at=ibis.null("timestamp")
    )


def python_share(person: str, flow: str) -> float:
    """A person's position in [0, 1) for a flow: SHA-256 in Python."""
    digest = hashlib.sha256(f"{flow}|holdout|{person}".encode()).hexdigest()
    return int(digest[:8], 16) / 16**8


def python_holdout(person: ir.StringValue, flow: str, share: float) -> ir.BooleanValue:
    """The stand-in holdout: the persons whose Python-side hash falls below the share."""
    held = [p for p in all_persons() if python_share(p, flow) < share]
    return person.isin(held) if held else ibis.literal(False)


def all_persons() -> list[str]:
    return [*PERSONS, *(f"q{i:03d}" for i in range(400))]


def _identities() -> pd.DataFrame:
    rows = []
    for p in all_persons():
        rows.append({"kind": "customer_id", "value": f"c-{p}", "person_id": p})
        rows.append({"kind": "anonymous_id", "value": f"a-{p}", "person_id": p})
        rows.append({"kind": "email", "value": f"{p}@example.com", "person_id": p})
    return pd.DataFrame(rows)


def event(mid: str, person: str, name: str, at: datetime, props: str = "{}") -> dict[str, object]:
    return {
        "message_id": mid,
        "type": "track",
        "event": name,
        "anonymous_id": f"a-{person}",
        "timestamp": at,
        "properties": props,
    }


def order(oid: str, person: str, at: datetime, total: float = 50.0) -> dict[str, object]:
    return {
        "order_id": oid,
        "customer_id": f"c-{person}",
        "ordered_at": at,
        "currency": "USD",
        "total": total,
        "status": "paid",
    }


def build(store: Store, events: list[dict[str, object]], orders: list[dict[str, object]]) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": [f"c-{p}" for p in all_persons()],
            "email": [f"{p}@example.com" for p in all_persons()],
            "timezone": ["Europe/Paris" if p == "p2" else None for p in all_persons()],
            "created_at": [datetime(2025, 1, 1)] * len(all_persons()),
            "traits": ['{"birthday": "1990-03-05"}' if p == "p3" else "{}" for p in all_persons()],
        }
    )
    store.insert("customers", customers)
    store.insert("identities", _identities())
    if events:
        store.insert("events", pd.DataFrame(events))
    if orders:
        store.insert("orders", pd.DataFrame(orders))


@pytest.fixture
def flow_store(tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    with Store(f"duckdb://{tmp_path / 'flows.duckdb'}") as store:
        yield store

"""A hand-made store for the measurement tests: two flows' stays, messages, orders,
suppressions, consents and link clicks at known times, so every figure of ``flow_stats`` is
known."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store

NOW = datetime(2026, 3, 20)
ENTRY = datetime(2026, 3, 1, 10, 0)
SENT_AT = datetime(2026, 3, 1, 11, 0)
LATE = datetime(2026, 3, 18, 10, 0)  # its 7-day window is still open at NOW

#: person -> (flow, entered, holdout, variant, message state, order time, total, discount, coupon)
STAYS: dict[
    str, tuple[str, datetime, bool, str | None, str, str | None, float, float, str | None]
] = {
    "t1": ("cart", ENTRY, False, "A", "sent", "2026-03-02 09:00", 90.0, 10.0, "cartaaaa1111"),
    "t2": ("cart", ENTRY, False, "B", "sent", None, 0.0, 0.0, None),
    "t3": ("cart", ENTRY, False, "A", "sent", "2026-03-05 09:00", 50.0, 0.0, None),
    "t4": ("cart", ENTRY, False, "B", "failed", "2026-03-10 09:00", 70.0, 0.0, None),
    "t5": ("cart", LATE, False, "A", "sent", "2026-03-19 09:00", 30.0, 0.0, None),
    "h1": ("cart", ENTRY, True, "A", "holdout", "2026-03-04 09:00", 40.0, 0.0, None),
    "h2": ("cart", ENTRY, True, "B", "holdout", None, 0.0, 0.0, None),
    "h3": ("cart", ENTRY, True, "A", "holdout", None, 0.0, 0.0, None),
    "n1": ("plain", ENTRY, False, None, "sent", "2026-03-03 09:00", 20.0, 0.0, None),
    "n2": ("plain", ENTRY, False, None, "pending", None, 0.0, 0.0, None),
}


#: (message key, clicked at): t1's message clicked twice, t3's and n1's once; one click after
#: NOW and one on a message not in ``messages`` (a preview's) are not counted.
CLICKS: tuple[tuple[str, datetime], ...] = (
    ("key-t1", datetime(2026, 3, 1, 12, 0)),
    ("key-t1", datetime(2026, 3, 2, 8, 0)),
    ("key-t3", datetime(2026, 3, 1, 13, 0)),
    ("key-t2", datetime(2026, 3, 21, 8, 0)),
    ("key-n1", datetime(2026, 3, 1, 12, 0)),
    ("key-preview", datetime(2026, 3, 1, 12, 0)),
)


def clicks() -> pa.Table:
    """The rows of :data:`CLICKS` for ``link_clicks``."""
    return pa.Table.from_pylist(
        [
            {
                "message_key": key,
                "person_id": key.removeprefix("key-"),
                "flow": None,
                "step": None,
                "url": "https://shop.example/cart?x=1&y=2",
                "clicked_at": at,
            }
            for key, at in CLICKS
        ]
    )


def payload(person: str) -> str:
    body: dict[str, object] = {"flow": "cart", "step": "email_1", "template": "cart"}
    body["discount"] = {"code": f"CART{person.upper()}", "code_prefix": "CART", "percent": "10"}
    if person == "t1":
        body["discount"] = {"code": "CARTAAAA1111", "code_prefix": "CART", "percent": "10"}
    return json.dumps(body, sort_keys=True)


def fill(store: Store) -> None:
    """The rows of :data:`STAYS` (and a bounce of t2, an unsubscribe of t3, the
    :data:`CLICKS`)."""
    ids, state, messages, orders = [], [], [], []
    for p, (flow, entered, held, variant, st, at, total, disc, coupon) in STAYS.items():
        ids += [
            {"kind": "customer_id", "value": p, "person_id": p},
            {"kind": "email", "value": f"{p}@example.com", "person_id": p},
        ]
        state.append(
            {
                "flow": flow,
                "person_id": p,
                "trigger_id": f"trig-{p}",
                "trigger_at": entered,
                "entered_at": entered,
                "step": "email_1",
                "variant": variant,
                "holdout": held,
                "status": "completed",
            }
        )
        messages.append(
            {
                "message_key": f"key-{p}",
                "flow": flow,
                "step": "email_1",
                "variant": variant,
                "person_id": p,
                "trigger_id": f"trig-{p}",
                "channel": "email",
                "payload": payload(p),
                "state": st,
                "decided_at": entered,
                "due_at": entered,
                "sent_at": entered.replace(hour=11) if st == "sent" else None,
            }
        )
        if at is not None:
            orders.append(
                {
                    "order_id": f"o-{p}",
                    "customer_id": p,
                    "ordered_at": datetime.fromisoformat(at),
                    "currency": "USD",
                    "subtotal": str(total + disc),
                    "discount": str(disc),
                    "total": str(total),
                    "status": "completed",
                    "coupon": coupon,
                }
            )
    store.insert("identities", pa.Table.from_pylist(ids))
    store.insert("flow_state", pa.Table.from_pylist(state))
    store.insert("messages", pa.Table.from_pylist(messages))
    store.insert("orders", pa.Table.from_pylist(orders))
    store.insert("link_clicks", clicks())
    store.insert(
        "suppressions",
        pa.Table.from_pylist(
            [
                {
                    "identifier": "T2@example.com ",
                    "identifier_kind": "email",
                    "channel": "email",
                    "reason": "bounce",
                    "at": datetime(2026, 3, 3),
                }
            ]
        ),
    )
    store.insert(
        "consents",
        pa.Table.from_pylist(
            [
                {
                    "identifier": "t3@example.com",
                    "identifier_kind": "email",
                    "channel": "email",
                    "status": "unsubscribed",
                    "at": datetime(2026, 3, 2),
                },
                {  # before the send: not counted
                    "identifier": "t1@example.com",
                    "identifier_kind": "email",
                    "channel": "email",
                    "status": "unsubscribed",
                    "at": datetime(2026, 2, 1),
                },
            ]
        ),
    )


@pytest.fixture(scope="session")
def empty_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated DuckDB store, made once (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("deliver") / "empty.duckdb"
    Store(f"duckdb://{path}").close()
    return path


@pytest.fixture
def empty_store(empty_store_file: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.duckdb"
    shutil.copy(empty_store_file, path)
    with Store(f"duckdb://{path}") as st:
        yield st


@pytest.fixture
def measured_store(empty_store: Store) -> Store:
    fill(empty_store)
    return empty_store

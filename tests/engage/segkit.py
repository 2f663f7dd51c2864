"""A small hand-built store for the segments: five customers whose every field and event is
chosen (tests/engage/test_segments.py says who is in each segment, exactly)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.identity import resolve_identities
from tenure.ingest import import_customers, import_feedback, import_orders

#: The clock of the tests.
NOW = datetime(2024, 6, 30, 12, 0, 0)
ORDERS = {
    "c1": ("2024-05-01", "2024-06-20"),  # the best margin: the one VIP
    "c2": ("2024-06-01",),
    "c3": ("2023-01-01",),
    "c5": ("2024-01-01", "2024-01-10"),
}
CUSTOMERS = (
    "customer_id,email,created_at,accepts_marketing,traits\n"
    'c1,c1@example.com,2024-04-01T09:00:00,false,"{""plan"":""gold"",""age"":41}"\n'
    'c2,c2@example.com,2024-04-01T09:00:00,false,"{""plan"":""silver"",""age"":29}"\n'
    "c3,C3@example.com,2022-12-01T09:00:00,true,\n"
    "c4,c4@example.com,2024-06-01T09:00:00,false,\n"
    "c5,c5@example.com,2023-12-01T09:00:00,,\n"
)
FEEDBACK = (
    "feedback_id,customer_id,kind,score,submitted_at\n"
    "F1,c1,nps,10,2024-06-25\n"
    "F2,c2,nps,3,2024-06-25\n"
)
S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
#: (customer, event, time, properties)
EVENTS = [
    ("c1", "Product Added", NOW - H + S, {"product_id": "P1"}),  # just inside the hour
    ("c2", "Product Added", NOW - H - S, {"product_id": "P1"}),  # just outside
    ("c3", "Product Added", NOW - 30 * 60 * S, {}),
    ("c3", "Order Completed", NOW - 10 * 60 * S, {}),  # followed: no abandoner
    ("c4", "Order Completed", NOW - 2 * H, {}),
    ("c4", "Product Added", NOW - 20 * 60 * S, {}),  # after the order: an abandoner
    ("c5", "Product Added", NOW - H, {}),  # exactly an hour ago: inside
    ("c2", "Product Added", NOW + 5 * 60 * S, {}),  # after the clock: not seen
    *[("c1", "Product Viewed", NOW - d * D, {"category": "shoes", "price": 80}) for d in (1, 2, 3)],
    *[("c2", "Product Viewed", NOW - d * D, {"category": "shoes", "price": 20}) for d in (1, 2, 8)],
    *[("c3", "Product Viewed", NOW - d * D, {"category": "hats", "price": 80}) for d in (1, 2, 3)],
]
CONSENTS = [
    ("c1@example.com", "email", "subscribed", datetime(2024, 6, 1)),
    ("c1@example.com", "email", "unsubscribed", datetime(2024, 6, 10)),
    ("c2@example.com", "email", "subscribed", datetime(2024, 6, 1)),
    ("c4@example.com", "email", "subscribed", datetime(2024, 7, 1)),  # after the clock
]


def build_tiny(store: Store, tmp_path: Path) -> None:
    rows = [
        f"{cid}-{i},{cid},{day}T12:00:00,USD,{'80.00' if cid == 'c1' else '50.00'}"
        for cid, days in ORDERS.items()
        for i, day in enumerate(days)
    ]
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,currency,total\n" + "\n".join(rows) + "\n"
    )
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "feedback.csv").write_text(FEEDBACK)
    import_orders(store, [tmp_path / "orders.csv"])
    import_customers(store, [tmp_path / "customers.csv"])
    import_feedback(store, [tmp_path / "feedback.csv"])
    events = pd.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(len(EVENTS))],
            "type": "track",
            "event": [e[1] for e in EVENTS],
            "user_id": [e[0] for e in EVENTS],
            "timestamp": [e[2] for e in EVENTS],
            "properties": [json.dumps(e[3]) for e in EVENTS],
        }
    )
    store.insert("events", events)
    consents = pd.DataFrame(
        {
            "identifier": [c[0] for c in CONSENTS],
            "identifier_kind": "email",
            "channel": [c[1] for c in CONSENTS],
            "status": [c[2] for c in CONSENTS],
            "at": [c[3] for c in CONSENTS],
        }
    )
    store.insert("consents", consents)
    store.insert(
        "suppressions",
        pd.DataFrame(
            {"identifier": ["c5@example.com"], "identifier_kind": "email", "channel": "email"}
        ),
    )
    store.set_meta("as_of", "2024-06-30", by="test")
    resolve_identities(store)


#: The profile at :data:`NOW` computed from the canonical tables only, written once
#: (computing it costs seconds per query; the derived tables make it cheap).
PROFILE = "test_tiny_profile"
#: The pipeline steps the tiny store is brought up to date with (no predictions: too few
#: buyers; they are null).
STEPS = ["customer_facts", "customer_rfm", "customer_status", "journey"]


def make_tiny(folder: Path) -> str:
    """The hand-built store in ``folder``, with its profile at :data:`NOW` from the
    canonical tables only in table :data:`PROFILE`, then its derived tables built."""
    from tenure.engage.fields import profile
    from tenure.pipeline import run

    url = f"duckdb://{folder / 'tiny.duckdb'}"
    with Store(url) as store:
        build_tiny(store, folder)
        store.replace(PROFILE, profile(store, NOW, NOW.date(), built=False))
        run(store, steps=STEPS, as_of=NOW.date())
    return url


@pytest.fixture(scope="session")
def tiny_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hand-built store, once per run (:func:`make_tiny`)."""
    return make_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny(tiny_url: str) -> Iterator[Store]:
    with Store(tiny_url, read_only=True) as store:
        yield store


@pytest.fixture
def tiny_copy(tiny_url: str, tmp_path: Path) -> Iterator[Store]:
    """A copy of the hand-built store to write to."""
    path = tmp_path / "tiny.duckdb"
    shutil.copy(tiny_url.removeprefix("duckdb://"), path)
    with Store(f"duckdb://{path}") as store:
        yield store

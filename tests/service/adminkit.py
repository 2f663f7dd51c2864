"""What the admin API's tests share: a copy of the tests' demo store with predictions, an
on-site message and the settings of a served store (tokens, keys, secret)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from tenure.analytics.base import store_end
from tenure.config import Settings, load_settings
from tenure.pipeline import predict
from tenure.store import Store, reporting_currency

ADMIN = "adm-token-0123456789"
WRITE_KEY = "wk-canary-7f3a9c"
SECRET = "unsubscribe-secret-for-tests"
PUBLIC = "https://crm.shop.example"
GOOD = {"Authorization": f"Bearer {ADMIN}"}


def admin_settings(url: str, write_key: str = WRITE_KEY) -> Settings:
    """The settings of a served store at ``url``: one admin token, one write key, the
    unsubscribe secret and the public address; the worker off (the routes' figures are
    compared with the library's on a store nothing else changes)."""
    return load_settings(
        store_url=url,
        admin_tokens=[ADMIN],
        write_keys=[write_key],
        unsubscribe_secret=SECRET,
        public_url=PUBLIC,
        worker_pipeline_every=0,
        worker_flows_every=0,
        worker_dispatch_every=0,
    )


def copy_demo(demo_url: str, folder: Path, *, predictions: bool = True) -> str:
    """A copy of the demo store in ``folder`` (with predictions and one on-site message for
    customer C0000001); its URL."""
    path = folder / "served.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    url = f"duckdb://{path}"
    with Store(url) as store:
        if predictions:
            predict(store)
        person = _person(store, "C0000001")
        row = {
            "message_key": "onsite-test-1",
            "person_id": person,
            "flow": "cart_cross_sell",
            "step": "bought_together",
            "subject": "You may like",
            "text": "Mugs",
            "html": "<p>Mugs</p>",
            "body": '{"products": ["P0114"]}',
            "created_at": datetime(2024, 12, 30, 12),
        }
        store.insert("onsite_messages", pa.Table.from_pylist([row]))
    return url


def late_order(store: Store, folder: Path, total: str = "1000.00") -> Path:
    """A one-order CSV in ``folder`` (order LATE-1 of customer C0000001, ``total`` in the
    reporting currency, on the store's as-of day): an import that changes the figures."""
    day = store_end(store).isoformat()
    path = folder / "late_order.csv"
    path.write_text(
        "order_id,customer_id,email,ordered_at,currency,total\n"
        f"LATE-1,C0000001,,{day}T10:00:00,{reporting_currency(store)},{total}\n"
    )
    return path


def _person(store: Store, customer_id: str) -> str:
    from tenure.identity.lookup import find_person

    return find_person(store, f"customer_id:{customer_id}").person_id

"""The on-site channel: messages kept in the store (``onsite_messages``) for the site to fetch
with :func:`onsite_messages`. Sending a message key already kept adds nothing (a resend after
a crash is dropped here)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tenure.deliver.channel import Outgoing, Receipt
from tenure.store import Store

TABLE = "onsite_messages"


class OnsiteChannel:
    """Keeps each message in ``store`` (thread-safe: one writer at a time)."""

    name = "onsite"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> Receipt:
        row = {
            "message_key": message.message_key,
            "person_id": message.person_id,
            "flow": message.flow,
            "step": message.step,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "body": json.dumps(dict(message.body), sort_keys=True, default=str),
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        with self.lock:
            t = self.store.table(TABLE)
            kept = t.filter(t.message_key == message.message_key).count().execute()
            if int(kept) == 0:
                self.store.insert(TABLE, pa.Table.from_pylist([row]))
        detail = "kept" if int(kept) == 0 else "already kept"
        return Receipt(provider_id=message.message_key, detail=detail)

    def close(self) -> None:
        return None


def onsite_messages(store: Store, person_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The on-site messages of ``person_id``, newest first (``body`` parsed from JSON)."""
    t = store.table(TABLE)
    rows = (
        t.filter(t.person_id == person_id)
        .order_by([t.created_at.desc(), t.message_key])
        .limit(limit)
        .to_pyarrow()
        .to_pylist()
    )
    for row in rows:
        row["body"] = json.loads(row["body"] or "{}")
    return rows

"""A hand-built outbox: persons with an e-mail address and consent, and pending messages of
the e-mail and webhook channels."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure import Store
from tenure.deliver.channel import Outgoing, Receipt
from tenure.deliver.channels.files import FileChannel
from tenure.deliver.render import PlainRenderer

#: The clock of the outbox's tests: the messages are due at T0.
T0 = datetime(2026, 3, 2, 12, 0)


def key(i: int) -> str:
    return f"k{i:05d}"


def seed(
    store: Store, n_email: int = 10, n_webhook: int = 0, *, due: datetime = T0, first: int = 0
) -> list[str]:
    """``n_email`` e-mails and ``n_webhook`` webhooks, pending, due at ``due``, each to its own
    subscribed person (keys ``k00000``...); returns the keys."""
    idx = range(first, first + n_email + n_webhook)
    persons = [f"p{i}" for i in idx]
    store.insert(
        "identities",
        pa.Table.from_pylist(
            [{"kind": "email", "value": f"u{i}@example.com", "person_id": f"p{i}"} for i in idx]
        ),
    )
    store.insert(
        "consents",
        pa.Table.from_pylist(
            [
                {
                    "identifier": f"u{i}@example.com",
                    "identifier_kind": "email",
                    "channel": "email",
                    "status": "subscribed",
                    "at": due - timedelta(days=30),
                }
                for i in idx
            ]
        ),
    )
    rows = [
        {
            "message_key": key(i),
            "flow": "welcome",
            "step": "hello",
            "person_id": p,
            "trigger_id": f"t{i}",
            "channel": "email" if n < n_email else "webhook",
            "payload": json.dumps({"subject": f"Hello {p}"}),
            "state": "pending",
            "decided_at": due,
            "due_at": due,
            "attempts": 0,
            "resends": 0,
            "updated_at": due,
        }
        for n, (i, p) in enumerate(zip(idx, persons, strict=True))
    ]
    store.insert("messages", pa.Table.from_pylist(rows))
    return [str(r["message_key"]) for r in rows]


def states(store: Store) -> dict[str, str]:
    m = store.table("messages").select("message_key", "state").to_pyarrow().to_pylist()
    return {r["message_key"]: r["state"] for r in m}


def row(store: Store, message_key: str) -> dict[str, Any]:
    m = store.table("messages")
    return m.filter(m.message_key == message_key).to_pyarrow().to_pylist()[0]


def file_channels(directory: Path) -> dict[str, FileChannel]:
    return {name: FileChannel(name, directory) for name in ("email", "webhook")}


def delivered(directory: Path, channel: str = "email") -> list[dict[str, Any]]:
    path = directory / f"{channel}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class Scripted:
    """A channel answering from a script: message key -> list of errors to raise, one per
    attempt (then it accepts); records what it accepted."""

    def __init__(self, name: str, script: Mapping[str, Sequence[Exception]] | None = None):
        self.name = name
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.accepted: list[Outgoing] = []

    def send(self, message: Outgoing) -> Receipt:
        errors = self.script.get(message.message_key)
        if errors:
            raise errors.pop(0)
        self.accepted.append(message)
        return Receipt(provider_id=f"prov-{message.message_key}", detail="ok")

    def close(self) -> None:
        return None


def no_recheck(store: Store, rows: pa.Table, now: datetime) -> dict[str, Any]:
    """A re-check that lets every message go (tests not about the send policy: the policy's
    query costs about a second per claim)."""
    return {}


def renderer(store: Store) -> PlainRenderer:
    return PlainRenderer(store)

"""A hand-built store for the send policy: persons in three time zones, consents,
suppressions and messages already decided."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from tenure import Store
from tenure.engage.policy import CANDIDATE_COLUMNS
from tenure.ingest.identifiers import digest

#: person -> (customer id, email, phone, time zone)
PERSONS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "p_ny": ("c1", "ny@example.com", "+12125550101", "America/New_York"),
    "p_paris": ("c2", "paris@example.com", "+33612345678", "Europe/Paris"),
    "p_tokyo": ("c3", "tokyo@example.com", None, "Asia/Tokyo"),
    "p_unsub": ("c4", "unsub@example.com", "+12125550104", "America/New_York"),
    "p_bounced": ("c5", "bounced@example.com", None, "Europe/Paris"),
    "p_deleted": ("c6", "deleted@example.com", "+12125550106", "Asia/Tokyo"),
    "p_nobody": ("c7", "nobody@example.com", None, None),
    "p_mars": ("c8", "mars@example.com", None, "Mars/Olympus"),
}


@pytest.fixture(scope="session")
def empty_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated DuckDB store, made once (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("engage") / "empty.duckdb"
    Store(f"duckdb://{path}").close()
    return path


@pytest.fixture
def store(empty_store_file: Path, tmp_path: Path) -> Iterator[Store]:
    """A fresh empty store: a copy of :func:`empty_store_file`."""
    path = tmp_path / "store.duckdb"
    shutil.copy(empty_store_file, path)
    with Store(f"duckdb://{path}") as st:
        yield st


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seed_persons(
    store: Store, persons: dict[str, tuple[str, str | None, str | None, str | None]]
) -> None:
    """identities and customers of ``persons``."""
    ids: list[dict[str, object]] = []
    for pid, (cid, email, phone, _) in persons.items():
        for kind, value in (("customer_id", cid), ("email", email), ("phone", phone)):
            if value is not None:
                ids.append({"kind": kind, "value": value, "person_id": pid})
    store.insert("identities", pa.Table.from_pylist(ids))
    store.insert(
        "customers",
        pa.Table.from_pylist(
            [
                {"customer_id": cid, "email": email, "phone": phone, "timezone": zone}
                for cid, email, phone, zone in persons.values()
            ]
        ),
    )


def consent_rows(rows: Iterable[tuple[str, str, str, str, str]]) -> pa.Table:
    """(identifier, kind, channel, status, at) rows."""
    return pa.Table.from_pylist(
        [
            {"identifier": i, "identifier_kind": k, "channel": c, "status": s, "at": ts(a)}
            for i, k, c, s, a in rows
        ]
    )


def seed_consents(store: Store) -> None:
    store.insert(
        "consents",
        consent_rows(
            [
                ("NY@Example.com ", "email", "email", "subscribed", "2025-01-01"),
                ("+12125550101", "phone", "sms", "subscribed", "2025-01-01"),
                ("paris@example.com", "email", "email", "subscribed", "2025-01-01"),
                ("tokyo@example.com", "email", "email", "subscribed", "2025-01-01"),
                ("unsub@example.com", "email", "email", "subscribed", "2025-01-01"),
                ("unsub@example.com", "email", "email", "unsubscribed", "2025-06-01"),
                ("+12125550104", "phone", "sms", "subscribed", "2025-01-01"),
                ("+12125550104", "phone", "sms", "unsubscribed", "2025-01-01"),
                ("bounced@example.com", "email", "email", "subscribed", "2025-01-01"),
                ("deleted@example.com", "email", "email", "subscribed", "2025-01-01"),
                ("+12125550106", "phone", "sms", "subscribed", "2025-01-01"),
                ("mars@example.com", "email", "email", "subscribed", "2025-01-01"),
            ]
        ),
    )
    store.insert(
        "suppressions",
        pa.Table.from_pylist(
            [
                {
                    "identifier": "bounced@example.com",
                    "identifier_kind": "email",
                    "channel": "email",
                    "reason": "bounced",
                },
                {
                    "identifier": digest("customer_id", "c6"),
                    "identifier_kind": "sha256:customer_id",
                    "channel": "all",
                    "reason": "deleted",
                },
            ]
        ),
    )


def candidates(
    rows: Sequence[tuple[str, str, str, str] | tuple[str, str, str, str, bool]],
) -> ir.Table:
    """Candidates from (message_key, person_id, channel, due_at[, holdout]) rows."""
    out = []
    for row in rows:
        key, pid, channel, due = row[:4]
        out.append(
            {
                "message_key": key,
                "flow": "welcome",
                "step": "s1",
                "variant": None,
                "person_id": pid,
                "trigger_id": f"t-{key}",
                "channel": channel,
                "payload": "{}",
                "due_at": ts(due),
                "holdout": bool(row[4]) if len(row) > 4 else False,
            }
        )
    schema = pa.schema(
        [
            ("message_key", pa.string()),
            ("flow", pa.string()),
            ("step", pa.string()),
            ("variant", pa.string()),
            ("person_id", pa.string()),
            ("trigger_id", pa.string()),
            ("channel", pa.string()),
            ("payload", pa.string()),
            ("due_at", pa.timestamp("us")),
            ("holdout", pa.bool_()),
        ]
    )
    assert tuple(schema.names) == CANDIDATE_COLUMNS
    return ibis.memtable(pa.Table.from_pylist(out, schema=schema))


def record(store: Store, decided: ir.Table, now: datetime) -> None:
    """Write decided messages to ``messages`` as the flow engine does."""
    rows = decided.mutate(decided_at=ibis.literal(now), updated_at=ibis.literal(now))
    store.insert("messages", rows.to_pyarrow())


def states(decided: ir.Table) -> dict[str, tuple[str, str | None, datetime | None]]:
    rows = decided.to_pyarrow().to_pylist()
    return {r["message_key"]: (r["state"], r["reason"], r["release_at"]) for r in rows}


def existing(rows: Iterable[tuple[str, str, str, str, str, str | None]]) -> pa.Table:
    """Stored messages from (message_key, person_id, channel, state, due_at, release_at)."""
    return pa.Table.from_pylist(
        [
            {
                "message_key": key,
                "flow": "earlier",
                "step": "s0",
                "person_id": pid,
                "trigger_id": f"t-{key}",
                "channel": channel,
                "payload": "{}",
                "state": state,
                "due_at": ts(due),
                "decided_at": ts(due),
                "release_at": ts(release) if release else None,
            }
            for key, pid, channel, state, due, release in rows
        ]
    )


def hand_built(store: Store) -> None:
    """:data:`PERSONS`, their consents and suppressions, and messages already decided."""
    seed_persons(store, PERSONS)
    seed_consents(store)
    store.insert(
        "messages",
        existing(
            [
                # New York: the evening before, local time (another local day)
                ("e1", "p_ny", "email", "sent", "2026-03-08 03:30", None),
                # Paris: this morning, local time
                ("e2", "p_paris", "email", "sent", "2026-03-08 08:00", None),
                # Tokyo: three this local week (Monday 00:30 local is Sunday in UTC; one held, then
                # released) ...
                ("e3", "p_tokyo", "email", "sent", "2026-03-01 15:30", None),
                ("e4", "p_tokyo", "email", "pending", "2026-03-03 13:00", "2026-03-04 00:00"),
                ("e5", "p_tokyo", "email", "pending", "2026-03-06 01:00", None),
                # ... and two that do not count: capped, and the week before (local)
                ("e6", "p_tokyo", "email", "capped", "2026-03-05 01:00", None),
                ("e7", "p_tokyo", "email", "sent", "2026-03-01 14:30", None),
            ]
        ),
    )


# the flow engine's store (tests/engage/flowkit.py), a fixture of this package too
from tests.engage.flowkit import flow_store  # noqa: E402, F401

# the segments' hand-built store (tests/engage/segkit.py), fixtures of this package too
from tests.engage.segkit import tiny, tiny_copy, tiny_url  # noqa: E402, F401

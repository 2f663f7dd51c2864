"""The pipeline's memory: one ``pipeline_runs`` row per step run, and the data clock its
watermarks are read from (docs/pipeline.md, "Run records" and "Staleness").

The *data clock* of a set of canonical tables is the newest time at which data they hold
arrived or changed: the latest import (``imports.finished_at``), the latest event receipt
(``events.received_at``), the latest identity change (a resolution, a merge, an unmerge, a
privacy request) and the latest store fact (``store_meta.set_at``: ``tenure demo`` records
its frozen clock and currency there, so a generated store counts as new data although it
has no import rows). Each time is capped at the present, so a synthetic event dated in the
future cannot hide a later import. A step's watermark is the clock of what it reads when it
starts; new data has arrived when the clock has moved past it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from tenure.store import Store
from tenure.store.schema import TABLES

RUNS = "pipeline_runs"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"
FULL, INCREMENTAL = "full", "incremental"

#: Canonical tables an import writes: an import since the watermark makes a step reading
#: any of them stale.
IMPORTED = (
    "customers",
    "orders",
    "order_items",
    "products",
    "events",
    "fx_rates",
    "marketing_spend",
    "consents",
    "suppressions",
    "feedback",
    "referrals",
)
#: (table, time column) of every identity change: resolutions (the state row of
#: ``identity_flags`` is stamped with the run's time), merges, unmerges, privacy requests.
IDENTITY_CLOCKS = (
    ("identity_flags", "flagged_at"),
    ("identity_merges", "merged_at"),
    ("identity_blocked_edges", "at"),
    ("privacy_audit", "at"),
)


def now() -> datetime:
    """The present, UTC without a zone (as every stored time)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(value: datetime) -> datetime:
    """A time as UTC without a zone (an engine may hand one back with its zone)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _stamped(table: str) -> bool:
    return "imported_at" in TABLES[table].columns


#: The time column of ``imports`` counting only the imports of other entities than events
#: (the clock of a :class:`DataClock` that leaves the events out).
BUT_EVENTS = "finished_at!events"


def clock_sources(reads: tuple[str, ...], *, events: bool = True) -> list[tuple[str, str]]:
    """The (table, time column) pairs whose latest value is the data clock of ``reads``;
    without ``events``, the events and their imports left out (:data:`BUT_EVENTS`)."""
    sources: list[tuple[str, str]] = []
    if not events:
        reads = tuple(name for name in reads if name != "events")
    if any(name in IMPORTED for name in reads):
        sources.append(("imports", "finished_at" if events else BUT_EVENTS))
        # rows written without an import (the library's Store.insert, a loader) carry their
        # own load time, stamped by Store.insert
        sources += [(t, "imported_at") for t in reads if t in IMPORTED and _stamped(t)]
    if "events" in reads:
        sources.append(("events", "received_at"))
    if "identities" in reads:
        sources += IDENTITY_CLOCKS
    if "store_meta" in reads:
        sources.append(("store_meta", "set_at"))
    return sources


def latest_times(
    store: Store, sources: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], datetime | None]:
    """The latest value of each (canonical table, time column) of ``sources`` (None for an
    empty one), read in one query."""
    pairs = list(dict.fromkeys(sources))
    if not pairs:
        return {}
    parts = []
    for i, (table, column) in enumerate(pairs):
        t = store.table(table)
        if column == BUT_EVENTS:
            column, t = "finished_at", t.filter(t.entity != "events")
        parts.append(t.aggregate(source=ibis.literal(i, "int64"), at=t[column].max()))
    rows = ibis.union(*parts).to_pyarrow().to_pylist()
    found = {int(row["source"]): row["at"] for row in rows}
    out: dict[tuple[str, str], datetime | None] = {}
    for i, pair in enumerate(pairs):
        value = found.get(i)
        out[pair] = _naive(value) if isinstance(value, datetime) else None
    return out


class DataClock:
    """The data clock of one run: each (table, time column) is read once, in one query for
    all the steps a run considers (:meth:`read_ahead`), until :meth:`forget` (after a step
    that writes canonical tables, e.g. the identity step's resolution time)."""

    def __init__(self, store: Store, *, events: bool = True) -> None:
        self.store = store
        self.events = events
        self._latest: dict[tuple[str, str], datetime | None] = {}

    def read_ahead(self, reads: Iterable[tuple[str, ...]]) -> None:
        """Read the clock sources of every set of tables in ``reads`` (one query)."""
        wanted = [
            p for r in reads for p in clock_sources(r, events=self.events) if p not in self._latest
        ]
        self._latest.update(latest_times(self.store, wanted))

    def of(self, reads: tuple[str, ...]) -> datetime | None:
        """The newest time data in the canonical tables ``reads`` arrived or changed, capped
        at the present; None when nothing tells (an empty store). A clock made without
        ``events`` leaves the events and their imports out (the dashboard's pages between
        two runs: docs/dashboard.md, "Events between runs")."""
        self.read_ahead([reads])
        present = now()
        times = [self._latest[p] for p in clock_sources(reads, events=self.events)]
        known = [min(t, present) for t in times if t is not None]
        return max(known) if known else None

    def forget(self) -> None:
        """Read every source again at the next :meth:`of`."""
        self._latest.clear()


def data_clock(store: Store, reads: tuple[str, ...]) -> datetime | None:
    """The newest time data in the canonical tables ``reads`` arrived or changed, capped at
    the present; None when nothing tells (an empty store)."""
    return DataClock(store).of(reads)


@dataclass
class RunRecord:
    """One row of ``pipeline_runs``."""

    run_id: str
    step: str
    started_at: datetime
    finished_at: datetime | None
    as_of: date | None
    rows: int | None
    watermark: datetime | None
    mode: str
    outcome: str
    error: str | None = None


_ARROW = pa.schema(
    [
        ("run_id", pa.string()),
        ("step", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("finished_at", pa.timestamp("us")),
        ("as_of", pa.date32()),
        ("rows", pa.int64()),
        ("watermark", pa.timestamp("us")),
        ("mode", pa.string()),
        ("outcome", pa.string()),
        ("error", pa.string()),
    ]
)


def record(store: Store, run: RunRecord) -> None:
    """Append ``run`` to ``pipeline_runs``."""
    row = {name: getattr(run, name) for name in _ARROW.names}
    store.insert(RUNS, pa.Table.from_pylist([row], schema=_ARROW))


def _latest_per_step(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    if frame.empty:
        return {}
    frame = frame.sort_values(["started_at", "finished_at"], na_position="first")
    latest = frame.groupby("step", sort=False).tail(1)
    out: dict[str, dict[str, Any]] = {}
    for row in latest.to_dict("records"):
        plain = {str(k): _plain(v) for k, v in row.items()}
        if isinstance(plain["as_of"], datetime):  # a date column may come back as a time
            plain["as_of"] = plain["as_of"].date()
        out[str(row["step"])] = plain
    return out


def _plain(value: Any) -> Any:
    """A pandas cell as a plain Python value (NaT/NaN -> None, Timestamp -> datetime)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return _naive(value.to_pydatetime())
    if hasattr(value, "item"):
        return value.item()
    return value


def last_runs(store: Store, *, ok_only: bool = False) -> dict[str, dict[str, Any]]:
    """The latest ``pipeline_runs`` row of each step (only ``ok`` ones with ``ok_only``),
    step -> its columns as plain Python values."""
    t = store.table(RUNS)
    if ok_only:
        t = t.filter(t.outcome == ibis.literal(OK))
    return _latest_per_step(t.to_pandas())

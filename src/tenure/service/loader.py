"""The collector's loader: closed segments of the write-ahead log into the store.

A thread wakes when a segment closes (or every :data:`INTERVAL` seconds), takes the closed
segments oldest first (up to about :data:`MAX_EVENTS` events), and under the store's lock:

1. reads their events, skipping a torn last line a crash may have left (never acknowledged);
2. keeps the first copy of each ``messageId`` and drops those already in ``events`` (a
   client's retry carries the same ``messageId`` with another ``receivedAt``: without this
   the import would quarantine it as the same key with other content);
3. imports the rest with :func:`tenure.ingest.import_events` (one parser: the import's own
   checks, quarantine and suppression of deleted persons);
4. deletes the segments only after the import committed.

A crash between 3 and 4 replays the segments at the next start: step 2 makes that harmless.
On stop, the open segment is closed and everything acknowledged is loaded.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure.errors import TenureError
from tenure.ingest import import_events
from tenure.ingest.result import ImportResult
from tenure.service.metrics import Metrics
from tenure.service.state import ServiceState
from tenure.service.wal import WriteAheadLog, count_lines
from tenure.store import Store

LOG = logging.getLogger("tenure.service")

#: Seconds between two looks at the log when no segment closed.
INTERVAL = 0.5
#: About the most one import takes: whole segments up to this many bytes.
MAX_BYTES = 16 * 1024 * 1024
#: The file the loader hands to the import (in the log's folder).
LOADING = "loading.jsonl"
#: Failed passes in a row before the oldest segment is set aside (:meth:`Loader.load_once`).
MAX_FAILURES = 20
#: The suffix of a segment set aside.
FAILED = ".failed"
#: The engine's temporary table of the message ids being loaded.
IDS_TABLE = "collector_message_ids"


@dataclass(frozen=True)
class Loaded:
    """One pass: the segments taken, their events, the events new to the store, and the
    import's result (None when nothing was new)."""

    segments: list[Path]
    events: int
    fresh: int
    result: ImportResult | None


#: How a line of the log starts: the collector writes ``messageId`` first, so the loader
#: reads it without parsing the event (:func:`line_of`).
PREFIX = b'{"messageId":'
_DECODER = json.JSONDecoder()


def line_of(event: dict[str, Any]) -> bytes:
    """``event`` as a line of the log: compact JSON, ``messageId`` first, a newline."""
    ordered = {"messageId": event["messageId"], **event}
    return (json.dumps(ordered, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def message_id(line: bytes) -> tuple[str, bytes] | None:
    """The ``messageId`` of a line of the log and the line (rewritten ``messageId`` first if
    it was not); None for a torn or unreadable line."""
    if not line.endswith(b"\n"):
        return None  # torn by a crash mid-write: never acknowledged
    text = line.decode("utf-8", errors="replace")
    if line.startswith(PREFIX):
        try:
            found, _ = _DECODER.raw_decode(text, len(PREFIX))
        except ValueError:
            found = None
        if isinstance(found, str):
            return found, line
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("messageId"), str):
        return None
    return event["messageId"], line_of(event)


def read_segments(paths: list[Path]) -> tuple[dict[str, bytes], int]:
    """The first line of each ``messageId`` of ``paths`` in order, and the number of lines
    read (a torn or unreadable line is skipped and logged)."""
    first: dict[str, bytes] = {}
    lines = 0
    for path in paths:
        with path.open("rb") as f:
            for raw in f:
                lines += 1
                found = message_id(raw)
                if found is None:
                    LOG.warning("skipped a torn line of the collector's log %s", path.name)
                    continue
                first.setdefault(found[0], found[1])
    return first, lines


def new_events(store: Store, first: dict[str, bytes]) -> list[bytes]:
    """The lines of ``first`` (messageId -> line) whose messageId is not in ``events``."""
    if not first:
        return []
    ids = store.upload(IDS_TABLE, pa.table({"message_id": list(first)}))
    try:
        present = ids.semi_join(store.table("events"), "message_id").to_pyarrow()
    finally:
        store.drop_upload(IDS_TABLE)
    fresh = dict(first)
    for found in present.column("message_id").to_pylist():
        fresh.pop(found, None)
    return list(fresh.values())


def count(metrics: Metrics, result: ImportResult) -> None:
    """The import's counts into the collector's metrics."""
    metrics.events_stored.inc(result.stored)
    metrics.events_suppressed.inc(result.suppressed)
    for reason, n in result.by_reason.items():
        metrics.events_rejected.labels(reason=f"import: {reason}").inc(n)


class Loader:
    """The loader thread of one application: :meth:`start`, :meth:`stop` (loads the rest)."""

    def __init__(self, state: ServiceState, wal: WriteAheadLog) -> None:
        self.state = state
        self.wal = wal
        self._failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tenure-loader", daemon=True)
        wal.on_close = self._wake.set

    def start(self) -> None:
        """Start loading (leftover segments of a crash first: they are the oldest)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, close the open segment and load everything acknowledged."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.wal.stop()
        self.drain()

    def drain(self) -> None:
        """Load until no closed segment is left (or a pass fails)."""
        while self.wal.closed():
            if self.load_once() is None:
                return

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.wal.closed():
                self.load_once()
            self._wake.wait(INTERVAL)
            self._wake.clear()

    def take(self) -> list[Path]:
        """The oldest closed segments, up to about :data:`MAX_BYTES`."""
        taken: list[Path] = []
        size = 0
        for path in self.wal.closed():
            if taken and size >= MAX_BYTES:
                break
            taken.append(path)
            size += path.stat().st_size
        return taken

    def load_once(self) -> Loaded | None:
        """One pass over the oldest closed segments; None if it failed (the segments stay,
        the next pass tries again)."""
        segments = self.take()
        if not segments:
            return Loaded([], 0, 0, None)
        try:
            loaded = self._load(segments)
        except (TenureError, OSError, RuntimeError, ValueError) as exc:
            LOG.error("the collector's loader failed, retrying: %r", exc)
            self._failed(segments)
            return None
        self._failures = 0
        self.wal.remove(segments, loaded.events)
        self.state.metrics.queue_depth.set(self.wal.backlog)
        return loaded

    def _failed(self, segments: list[Path]) -> None:
        """After :data:`MAX_FAILURES` failed passes in a row, set the oldest segment aside
        (renamed ``.failed``, kept for an operator, logged) so the others load."""
        self._failures += 1
        if self._failures < MAX_FAILURES:
            return
        self._failures = 0
        oldest = segments[0]
        events = count_lines(oldest)
        oldest.rename(oldest.with_suffix(FAILED))
        self.wal.remove([], events)
        LOG.error(
            "the collector set %s aside after %d failed loads (%d events): fix and rename it "
            "to .jsonl to load it at the next start",
            oldest.with_suffix(FAILED),
            MAX_FAILURES,
            events,
        )

    def _load(self, segments: list[Path]) -> Loaded:
        events, lines = read_segments(segments)
        path = self.wal.folder / LOADING
        with self.state.store() as store:
            fresh = new_events(store, events)
            result = None
            if fresh:
                path.write_bytes(b"".join(fresh))
                result = import_events(store, [path], max_quarantine=1.0, source="collector")
        path.unlink(missing_ok=True)
        if result is not None:
            count(self.state.metrics, result)
        return Loaded(segments, lines, len(fresh), result)

"""The collector's write-ahead log: events are durable here before the collector answers.

The log is a folder (setting ``collector_dir``) of segments, JSON Lines files named by a
sequence number: the open one (``<seq>.open``) receives appends, closed ones
(``<seq>.jsonl``) wait for the loader (:mod:`tenure.service.loader`), which deletes a
segment once its events are in the store.

**Group commit.** A request hands its lines to :meth:`WriteAheadLog.submit` and waits; one
writer thread takes every line handed over since its last pass, appends them, ``fsync``\\ s
once and then releases all their requests: concurrent requests share one ``fsync``. The open
segment is closed (renamed, the folder fsync'd) every :data:`SEGMENT_SECONDS` or
:data:`SEGMENT_EVENTS` events.

**Recovery.** At start, an ``.open`` segment left by a crash is closed as it is: what it holds
was fsync'd (a request is answered only after), except perhaps a torn last line, which was
never acknowledged and which the loader skips.

Messages a batch refused are appended, with their reason, to ``rejected.jsonl`` in the same
folder, in the same pass.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOG = logging.getLogger("tenure.service")

#: A segment is closed after this many seconds open (when it holds events) ...
SEGMENT_SECONDS = 0.5
#: ... or once it holds this many events.
SEGMENT_EVENTS = 10_000
#: The file of the messages a batch refused, next to the segments.
REJECTED = "rejected.jsonl"
OPEN, CLOSED = ".open", ".jsonl"

Done = Callable[[BaseException | None], None]


@dataclass
class _Pending:
    lines: list[bytes] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)
    events: int = 0
    waiters: list[Done] = field(default_factory=list)


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a file created, renamed, deleted) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_seq(path: Path) -> int:
    """The sequence number of a segment file."""
    return int(path.name.split(".")[0])


def segments(folder: Path, suffix: str) -> list[Path]:
    """The segments of ``folder`` with ``suffix`` (named by a number), oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"*{suffix}") if p.name.split(".")[0].isdigit()]
    return sorted(found, key=segment_seq)


class WriteAheadLog:
    """The log in ``folder``: :meth:`submit` or :meth:`commit` lines, :meth:`closed` segments
    for the loader, :meth:`remove` them once loaded. :attr:`backlog` counts the events
    acknowledged and not yet removed."""

    def __init__(
        self,
        folder: Path,
        *,
        segment_seconds: float = SEGMENT_SECONDS,
        segment_events: int = SEGMENT_EVENTS,
    ) -> None:
        self.folder = folder
        self.segment_seconds = segment_seconds
        self.segment_events = segment_events
        self._cond = threading.Condition()
        self._pending = _Pending()
        self._stopping = False
        self._file: int | None = None
        self._opened_at = 0.0
        self._open_events = 0
        self._seq = self._recover()
        self.backlog = sum(count_lines(p) for p in self.closed())
        self.on_close: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._run, name="tenure-wal", daemon=True)

    def _recover(self) -> int:
        """Close the segments a crash left open; the next sequence number. (The folder is
        made at the first write: an application that receives nothing leaves no folder.)"""
        if not self.folder.is_dir():
            return 1
        for path in segments(self.folder, OPEN):
            path.rename(path.with_suffix(CLOSED))
        fsync_dir(self.folder)
        return max((segment_seq(p) for p in self.closed()), default=0) + 1

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Write what was handed over, close the open segment, stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    # -- appending ---------------------------------------------------------------------------
    def submit(self, lines: list[bytes], rejected: list[bytes], done: Done) -> None:
        """Hand ``lines`` (one event each, with its newline) and ``rejected`` lines over;
        ``done(None)`` is called once they are fsync'd, ``done(error)`` if writing failed."""
        with self._cond:
            if self._stopping:
                done(RuntimeError("the collector is stopping"))
                return
            self._pending.lines.extend(lines)
            self._pending.rejected.extend(rejected)
            self._pending.events += len(lines)
            self._pending.waiters.append(done)
            self._cond.notify_all()

    async def commit(self, lines: list[bytes], rejected: list[bytes]) -> None:
        """:meth:`submit`, awaited: returns once durable, raises if writing failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, error)

        self.submit(lines, rejected, done)
        await future

    # -- the writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending.waiters and not self._stopping:
                    if not self._cond.wait(timeout=self._wait_seconds()):
                        break
                batch, self._pending = self._pending, _Pending()
                stopping = self._stopping
            if batch.waiters:
                self._write(batch)
            if self._open_events and (stopping or self._segment_due()):
                self._close_segment()
            if stopping and not batch.waiters:
                return

    def _wait_seconds(self) -> float | None:
        if not self._open_events:
            return None
        return max(0.01, self._opened_at + self.segment_seconds - time.monotonic())

    def _segment_due(self) -> bool:
        return (
            self._open_events >= self.segment_events
            or time.monotonic() - self._opened_at >= self.segment_seconds
        )

    def _write(self, batch: _Pending) -> None:
        error: BaseException | None = None
        try:
            if batch.lines:
                fd = self._open_segment()
                write_all(fd, b"".join(batch.lines))
                os.fsync(fd)
                self._open_events += batch.events
                with self._cond:
                    self.backlog += batch.events
            if batch.rejected:
                self._append_rejected(b"".join(batch.rejected))
        except OSError as exc:
            LOG.error("the collector's log could not be written: %r", exc)
            error = exc
            self._abandon_segment()
        for done in batch.waiters:
            done(error)

    def _open_segment(self) -> int:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{self._seq:012d}{OPEN}"
            self._file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fsync_dir(self.folder)
            self._opened_at = time.monotonic()
        return self._file

    def _append_rejected(self, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / REJECTED, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _abandon_segment(self) -> None:
        """After a failed write, close the open segment (its partial last line, never
        acknowledged, stays its last: the loader skips it); later writes start a new one."""
        try:
            self._close_segment()
        except OSError as exc:
            LOG.error("the collector's open segment could not be closed: %r", exc)
            self._file, self._open_events = None, 0
            self._seq += 1

    def _close_segment(self) -> None:
        if self._file is None:
            return
        os.close(self._file)
        self._file = None
        path = self.folder / f"{self._seq:012d}{OPEN}"
        path.rename(path.with_suffix(CLOSED))
        fsync_dir(self.folder)
        self._seq += 1
        self._open_events = 0
        self.on_close()

    # -- for the loader ------------------------------------------------------------------------
    def closed(self) -> list[Path]:
        """The closed segments, oldest first."""
        return segments(self.folder, CLOSED)

    def remove(self, paths: list[Path], events: int) -> None:
        """Delete loaded segments (their ``events`` leave the backlog)."""
        for path in paths:
            path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        with self._cond:
            self.backlog = max(0, self.backlog - events)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def count_lines(path: Path) -> int:
    """The number of complete lines of ``path``."""
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

"""The data version of each table of a store: a counter :class:`~tenure.store.Store` bumps on
every write it does to the table, and the record of the tables a computation reads.

Together they say whether a result computed earlier still holds
(:func:`tenure.store.cache.cached`): it does while every table it read is at the version it
read. The counters live in this process, shared by every :class:`~tenure.store.Store` of the
same database (its location): a DuckDB file is written by one process at a time (its lock),
a Spark warehouse likewise (Tenure's lock), so no write escapes them while a store is open.
A new process starts from zero, with no result computed yet.

Scratch tables (``_tenure_...``) are neither counted nor recorded: they live inside one
computation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

#: The pseudo-table of the list of tables: read by ``Store.tables()``, written when a table
#: is created or dropped.
CATALOG = "(tables)"
#: Tables of this prefix (scratch and internal work tables) are neither counted nor recorded.
SCRATCH_PREFIX = "_tenure_"


class DataVersions:
    """Per-table write counters of one database, and the reads recorded by this thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._local = threading.local()

    def bump(self, *tables: str) -> None:
        """Tables ``tables`` were written (or created, or dropped)."""
        with self._lock:
            for table in tables:
                if not table.startswith(SCRATCH_PREFIX):
                    self._counts[table] = self._counts.get(table, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """Every table's version now (a table never written here: absent, version 0)."""
        with self._lock:
            return dict(self._counts)

    def current(self, tables: Iterable[str]) -> dict[str, int]:
        """The versions of ``tables`` now."""
        with self._lock:
            return {t: self._counts.get(t, 0) for t in tables}

    def read(self, *tables: str) -> None:
        """This thread read ``tables``: noted by every :meth:`recording` block open in it,
        but not by those an :meth:`unrecorded` block hides them from."""
        names = [t for t in tables if not t.startswith(SCRATCH_PREFIX)]
        stack: list[set[str]] = getattr(self._local, "stack", [])
        hidden: list[tuple[int, frozenset[str], set[str]]] = getattr(self._local, "hidden", [])
        for _, hid, seen_hidden in hidden:
            seen_hidden.update(t for t in names if t in hid)
        for level, seen in enumerate(stack):
            seen.update(
                t for t in names if not any(level < below and t in hid for below, hid, _ in hidden)
            )

    @contextmanager
    def recording(self) -> Iterator[set[str]]:
        """The set of tables this thread reads during the block (nested blocks each see
        their own and their inner blocks' reads)."""
        stack: list[set[str]] = self._local.__dict__.setdefault("stack", [])
        seen: set[str] = set()
        stack.append(seen)
        try:
            yield seen
        finally:
            # by identity, not equality: two blocks may hold equal sets
            del stack[next(i for i, s in enumerate(stack) if s is seen)]

    @contextmanager
    def unrecorded(self, tables: Iterable[str]) -> Iterator[set[str]]:
        """Reads of ``tables`` by this thread during the block are not recorded by the
        :meth:`recording` blocks open when it began (a result they compute stays fresh
        when those tables are written); blocks opened inside it record them as usual (a
        result kept for others stays exact). The set yielded collects which were read."""
        stack: list[set[str]] = self._local.__dict__.setdefault("stack", [])
        hidden: list[tuple[int, frozenset[str], set[str]]] = self._local.__dict__.setdefault(
            "hidden", []
        )
        entry: tuple[int, frozenset[str], set[str]] = (len(stack), frozenset(tables), set())
        hidden.append(entry)
        try:
            yield entry[2]
        finally:
            del hidden[next(i for i, h in enumerate(hidden) if h is entry)]


_SHARED: dict[str, DataVersions] = {}
_SHARED_LOCK = threading.Lock()


def versions_for(location: str) -> DataVersions:
    """The counters of the database at ``location`` (a DuckDB file's resolved path, a store
    URL), shared in this process; a new one for an in-memory database."""
    if location in (":memory:", ""):
        return DataVersions()
    with _SHARED_LOCK:
        return _SHARED.setdefault(location, DataVersions())

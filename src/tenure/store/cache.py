"""Results computed from a store's data, kept until that data changes.

:func:`cached` answers ``compute()`` from memory when the same ``name`` and ``params`` were
computed before and none of the tables the computation read has been written since; else it
computes, records the tables read (:meth:`tenure.store.versions.DataVersions.recording`) and
their data versions, and keeps the result. :func:`refresh_cached` computes the stale results
again (the service's worker calls it after a pipeline run, so the next request finds them
ready).

The results live in the memory of the process, one cache per open :class:`~tenure.store.Store`
(so per settings), not in the store: a result is a few hundred rows read many times by the
process that serves them; keeping it in memory costs no read, no write and no lock of the
store, and the write counters it is checked against are those of the process that writes
(one process owns a store at a time, see :mod:`tenure.store.versions`). A new process starts
empty.

``compute`` must depend only on the store's tables and ``params``: a default that depends on
anything else (the clock: the as-of day of a store without one is today) is resolved by the
caller and passed in ``params``.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from tenure.store.store import Store

LOG = logging.getLogger("tenure.store.cache")

T = TypeVar("T")

#: The most results kept per store, and the most bytes (estimated); the least recently used
#: go first.
MAX_ENTRIES = 256
MAX_BYTES = 256 * 1024 * 1024


@dataclass
class Entry:
    """One result: its value, the data versions of the tables it read, how to compute it."""

    value: Any
    versions: dict[str, int]
    compute: Callable[[], Any]
    seconds: float
    size: int


@dataclass
class CacheStats:
    """What a store's cache holds and has done: ``hits``, ``misses`` (computed: absent or
    stale), ``refreshed`` (computed again by :func:`refresh_cached`), ``entries``, ``bytes``."""

    hits: int = 0
    misses: int = 0
    refreshed: int = 0
    entries: int = 0
    bytes: int = 0


class ResultCache:
    """The results of one store, least recently used first."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.stats = CacheStats()
        self.lock = threading.RLock()

    def put(self, key: str, entry: Entry) -> None:
        with self.lock:
            self.entries.pop(key, None)
            self.entries[key] = entry
            while self.entries and (
                len(self.entries) > self.max_entries or self.size() > self.max_bytes
            ):
                self.entries.popitem(last=False)

    def size(self) -> int:
        return sum(e.size for e in self.entries.values())


_CACHES: weakref.WeakKeyDictionary[Store, ResultCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def result_cache(store: Store) -> ResultCache:
    """The cache of ``store`` (made on first use; it goes with the store)."""
    with _CACHES_LOCK:
        found = _CACHES.get(store)
        if found is None:
            found = _CACHES[store] = ResultCache()
        return found


def cache_key(name: str, params: Mapping[str, Any]) -> str:
    """``name`` and ``params`` as one text (dates and other values by their ``str``)."""
    return json.dumps([name, dict(params)], sort_keys=True, default=str)


def _size(value: Any) -> int:
    """Roughly how many bytes ``value`` holds."""
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=True, deep=True).sum())
    if isinstance(value, pa.Table):
        return int(value.nbytes)
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return 1024


def _fresh(store: Store, entry: Entry) -> bool:
    return store.versions.current(entry.versions) == entry.versions


def _compute(store: Store, compute: Callable[[], T]) -> Entry:
    """Run ``compute``, recording the tables it reads at the versions they had before it
    started (a write during it makes the result stale at once, never wrongly fresh)."""
    before = store.versions.snapshot()
    started = time.perf_counter()
    with store.versions.recording() as read:
        value = compute()
    versions = {t: before.get(t, 0) for t in read}
    kept = copy.deepcopy(value)
    return Entry(kept, versions, compute, time.perf_counter() - started, _size(kept))


def cached(store: Store, name: str, params: Mapping[str, Any], compute: Callable[[], T]) -> T:
    """``compute()``, or the result it gave for the same ``name`` and ``params`` when no table
    it read has been written since (through any :class:`~tenure.store.Store` of this
    database in this process). The answer is a copy: the caller may change it.

    ``name`` names the computation (e.g. ``"analytics.kpis"``); ``params`` (JSON-able, dates
    by their text) are everything else it depends on, defaults that depend on the clock
    resolved. A computation that raises keeps nothing."""
    cache = result_cache(store)
    key = cache_key(name, params)
    with cache.lock:
        entry = cache.entries.get(key)
        if entry is not None and _fresh(store, entry):
            cache.entries.move_to_end(key)
            cache.stats.hits += 1
            # a computation that asks for this one read its tables too (a kept result
            # inside another stays as fresh as what it was built from)
            store.versions.read(*entry.versions)
            value: T = copy.deepcopy(entry.value)
            return value
    cache.stats.misses += 1
    entry = _compute(store, compute)
    cache.put(key, entry)
    fresh: T = copy.deepcopy(entry.value)
    return fresh


def peek_cached(store: Store, name: str, params: Mapping[str, Any]) -> Any | None:
    """The result :func:`cached` would give for ``name`` and ``params`` when it holds one
    still fresh, else None, computing nothing and never touching the database (so a server
    may answer from memory while another thread holds the store: the collector's loader)."""
    cache = result_cache(store)
    with cache.lock:
        entry = cache.entries.get(cache_key(name, params))
        if entry is None or not _fresh(store, entry):
            return None
        cache.entries.move_to_end(cache_key(name, params))
        cache.stats.hits += 1
        store.versions.read(*entry.versions)
        return copy.deepcopy(entry.value)


def refresh_cached(store: Store, *, budget: float | None = None) -> dict[str, Any]:
    """Compute again every kept result of ``store`` whose tables were written since, the
    most recently used first, until ``budget`` seconds have passed (None: all). A result whose
    computation now fails is dropped (and logged). Returns ``refreshed``, ``dropped``,
    ``left`` (stale, out of budget) and ``seconds``."""
    cache = result_cache(store)
    started = time.perf_counter()
    with cache.lock:
        stale = [(k, e) for k, e in reversed(cache.entries.items()) if not _fresh(store, e)]
    done = dropped = 0
    for key, old in stale:
        if budget is not None and time.perf_counter() - started > budget:
            break
        try:
            entry = _compute(store, old.compute)
        except Exception as exc:  # a result that cannot be computed any more is not kept
            LOG.warning("dropped the cached result %s: %s", key, exc)
            with cache.lock:
                cache.entries.pop(key, None)
            dropped += 1
            continue
        with cache.lock:
            if key in cache.entries:  # not evicted meanwhile
                cache.put(key, entry)
        done += 1
    cache.stats.refreshed += done
    return {
        "refreshed": done,
        "dropped": dropped,
        "left": len(stale) - done - dropped,
        "seconds": round(time.perf_counter() - started, 3),
    }


def cache_stats(store: Store) -> CacheStats:
    """The counters and size of ``store``'s cache."""
    cache = result_cache(store)
    with cache.lock:
        cache.stats.entries = len(cache.entries)
        cache.stats.bytes = cache.size()
        return copy.copy(cache.stats)


def clear_cached(store: Store) -> None:
    """Forget every result of ``store``."""
    cache = result_cache(store)
    with cache.lock:
        cache.entries.clear()

"""The process's store and the lock every use of it takes.

DuckDB lets one process write a file at a time: the server opens
the store once and owns it for its lifetime; its routes, the collector's loader and the
worker share that one :class:`~tenure.store.Store`. A DuckDB connection is not safe to use
from two threads at once, so every use holds :attr:`ServiceState.lock` (``with
state.store() as store:``): short reads and writes, one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from tenure.config import Settings
from tenure.service.metrics import Metrics
from tenure.store import Store

#: The package's version (read from its metadata: the root ``tenure`` is a layer above).
VERSION = version("tenure")


@dataclass
class ServiceState:
    """What the application's routes share: the settings, the open store, its lock, and the
    parts the routers attach (``parts``: the collector's log, the worker, the metrics)."""

    settings: Settings
    owned: Store
    lock: threading.RLock = field(default_factory=threading.RLock)
    metrics: Metrics = field(default_factory=Metrics)
    parts: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store, held for the block."""
        with self.lock:
            yield self.owned

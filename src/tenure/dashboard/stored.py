"""Which derived tables a page build may read as they are stored, instead of computing them
again from the canonical tables: a :class:`Stored` set for the builds inside
:func:`reading_stored`, asked by the builders through :func:`stored_table`.

The caller vouches that the tables are current (the pipeline's staleness rule:
:func:`tenure.pipeline.current_tables`); the builders then give the same numbers as from the
canonical tables, faster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date

import ibis.expr.types as ir

from tenure.store import Store
from tenure.store.derived import DERIVED


@dataclass(frozen=True)
class Stored:
    """The derived tables a page may read as they are stored instead of computing them
    again: ``tables``, each current as of ``day`` (the caller checked: the pipeline's
    staleness rule, :func:`tenure.pipeline.current_tables`)."""

    day: date
    tables: frozenset[str]


_STORED: ContextVar[Stored | None] = ContextVar("tenure_dashboard_stored", default=None)


@contextmanager
def reading_stored(stored: Stored | None) -> Iterator[None]:
    """The page builds inside the block read the derived tables ``stored`` names as stored
    (None: none, every number computed from the canonical tables)."""
    token = _STORED.set(stored)
    try:
        yield
    finally:
        _STORED.reset(token)


def inputs_of(table: str) -> set[str]:
    """Every table derived ``table`` is built from, through the derived tables between."""
    seen: set[str] = set()
    todo = [table]
    while todo:
        for source in DERIVED[todo.pop()].built_from:
            if source not in seen:
                seen.add(source)
                if source in DERIVED:
                    todo.append(source)
    return seen


def stored_table(store: Store, name: str, day: date) -> ir.Table | None:
    """Derived table ``name`` as stored, when the build runs inside :func:`reading_stored`
    naming it current as of ``day``; else None (the caller computes it). The build counts
    as having read what the table is built from, so a page kept from it is stale as soon as
    one of those is written (the stored table then is too)."""
    stored = _STORED.get()
    if stored is None or stored.day != day or name not in stored.tables:
        return None
    if not store.exists(name):
        return None
    store.versions.read(*inputs_of(name))
    return store.read(name)

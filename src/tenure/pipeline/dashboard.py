"""The dashboard's side of the pipeline outside a run: which derived tables a page build may
read as stored (:func:`current_tables`: those the staleness rule finds current), for the
server's pages and ``tenure report`` (the ``dashboard`` step itself:
:func:`tenure.pipeline.steps.dashboard_step`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from tenure.config import Settings
from tenure.dashboard.model import Window
from tenure.dashboard.report import StoredFor, write_report
from tenure.dashboard.stored import Stored
from tenure.pipeline.records import DataClock
from tenure.pipeline.runner import plan
from tenure.pipeline.steps import PAGE_TABLES, builder_of
from tenure.store import Store


def current_tables(
    store: Store, day: date, tables: Sequence[str] = PAGE_TABLES, *, events: bool = True
) -> Stored:
    """The derived ``tables`` that are current as of ``day`` by the pipeline's staleness
    rule (their step and every step before it ran as of that day with no data since;
    :func:`tenure.pipeline.plan`), without running anything; without ``events``, events
    that arrived since do not count (the served pages count them at the next run)."""
    steps = list(dict.fromkeys(builder_of(t).name for t in tables))
    clock = DataClock(store, events=events)
    todo = plan(store, steps=steps, as_of=day, clock=clock)
    stale = {s.name for s, why in todo if why is not None}
    ok = frozenset(t for t in tables if builder_of(t).name not in stale)
    return Stored(day, ok)


def stored_for(store: Store) -> StoredFor:
    """What a page build asks for on a miss: :func:`current_tables` as of the store's as-of
    day (the default period's end), the events that arrived since the last run left out
    (the page counts them at the next run, and says so)."""
    from tenure.analytics.base import store_end

    return lambda: current_tables(store, store_end(store), events=False)


def report(
    store: Store, settings: Settings, window: Window, path: Path | str, lang: str | None = None
) -> Path:
    """`tenure report`: :func:`tenure.dashboard.report.write_report`, the pages the pipeline
    kept read when they hold, the others built reading the current derived tables as stored."""
    return write_report(store, settings, window, path, lang, stored_for(store))

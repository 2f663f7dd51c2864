"""`tenure demo` with history: the demo store (:func:`tenure.analytics.demo_store.demo`),
its persons resolved, and the last quarter of history a store running `tenure run` every
day would hold: the statuses replayed weekly (``stage_history``), the journey stages and the
segments the shipped flows watch recorded every three weeks (``journey_history``,
``segment_membership``), so the shipped status, stage and segment flows have entries to
backtest (docs/demo.md, "History").

It lives above engage (the segments) and analytics (the demo's figures, the histories), so
in the pipeline layer, beside the runner that resolves the identities.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from tenure.analytics.base import store_end
from tenure.analytics.demo_store import DemoReport
from tenure.analytics.demo_store import demo as demo_figures
from tenure.analytics.journey import record_journey
from tenure.analytics.stages import backfill_stages
from tenure.dashboard.report import DEFAULT_REPORT, window_for, write_report
from tenure.demo import DEFAULT_TASTE
from tenure.engage.flow_spec import flow_paths, load_flows
from tenure.engage.segments import RUNS, Segment, definitions, refresh_segments
from tenure.pipeline.runner import run
from tenure.progress import ProgressCallback, no_progress, step_task
from tenure.store import Store
from tenure.store.derived import DERIVED

#: Days of history before the demo's last day.
HISTORY_DAYS = 90
#: Days between two recordings of the journey stages and the segments.
RECORD_EVERY = 21
#: The progress step of the history (after the demo's figures).
HISTORY_TASK = step_task("Demo", "a quarter of statuses, stages and segments")


def demo(
    store: Store,
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    days: int = 730,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    taste: float = DEFAULT_TASTE,
) -> DemoReport:
    """`tenure demo`: the demo store and its figures (:func:`tenure.analytics.demo_store.demo`,
    same arguments), then its history (:func:`demo_history`)."""
    report = demo_figures(
        store,
        customers=customers,
        seed=seed,
        start=start,
        days=days,
        replace=replace,
        progress=progress,
        taste=taste,
    )
    demo_history(store, progress=progress)
    return report


def demo_report(store: Store) -> Path:
    """`tenure demo`'s last step: the lifecycle report (:func:`write_report`) of the default
    period, written beside the store's file (else in the working directory)."""
    folder = store.file.parent if store.file is not None else Path.cwd()
    return write_report(store, store.settings, window_for(store), folder / DEFAULT_REPORT)


def record_days(last: date) -> list[date]:
    """The days the journey stages and segments are recorded: every :data:`RECORD_EVERY`
    days from :data:`HISTORY_DAYS` before ``last``, before ``last`` (whose refresh is the
    first `tenure run`'s)."""
    first = last - timedelta(days=HISTORY_DAYS)
    return [first + timedelta(days=k) for k in range(0, HISTORY_DAYS, RECORD_EVERY)]


def flow_segments(store: Store) -> list[Segment]:
    """The segments the shipped flows watch: those of their segment triggers and their
    schedules' audiences, as the store defines them."""
    names: set[str | None] = set()
    for flow in load_flows(flow_paths(None)):
        t = flow.trigger
        names.add(t.name if t.kind == "segment" else None)
        names.add(t.schedule.segment if t.schedule is not None else None)
    defined = definitions(store.settings)
    return [defined[name] for name in sorted(n for n in names if n in defined)]


def demo_history(store: Store, *, progress: ProgressCallback | None = None) -> dict[str, int]:
    """Give a freshly generated demo store its last quarter of history: the identities
    resolved (the pipeline's identity step), the tables derived from an earlier demo
    dropped, the statuses replayed every week up to the last day
    (:func:`~tenure.analytics.stages.backfill_stages`), then on each of :func:`record_days`,
    in order, the journey stages recorded and the shipped flows' segments
    (:func:`flow_segments`) refreshed at the end of the day, each from the data of that day.
    Returns the rows of each history table."""
    report = progress or no_progress
    run(store, steps=["identity"], progress=progress)
    for name in (*DERIVED, RUNS):
        store.drop(name)
    last = store_end(store)
    days = record_days(last)
    segments = flow_segments(store)
    report(HISTORY_TASK, 0, len(days) + 1)
    rows = {"stage_history": backfill_stages(store, start=days[0], end=last, every="week")}
    for i, day in enumerate(days, start=1):
        report(HISTORY_TASK, i, len(days) + 1)
        rows["journey_history"] = record_journey(store, day)
        rows |= refresh_segments(store, datetime.combine(day, time.max), segments=segments)
    report(HISTORY_TASK, len(days) + 1, len(days) + 1)
    return rows

"""Data health: the imports with their quarantine counts by reason, the pipeline's step runs,
the event ingest rate, and whether the data are enough for the purchase models.

Read through the store: the ``imports`` log, :func:`tenure.ingest.quarantine.quarantine_summary`
(``tenure quarantine``), the ``pipeline_runs`` table the pipeline writes (one row per step
run), the ``events`` table and :func:`tenure.predictions.holdout.data_sufficiency`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import ibis
import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Column, Metric, Page, Section, Window
from tenure.dashboard.pages.common import (
    empty_note,
    frames_section,
    observed_end,
    one_series_chart,
)
from tenure.dashboard.stored import stored_table
from tenure.ingest.quarantine import quarantine_summary
from tenure.predictions.holdout import data_sufficiency
from tenure.store import Store, reporting_currency

#: The latest runs of the pipeline's steps shown.
RUNS = 50
IMPORTS = 50


def _imports(store: Store) -> Section:
    t = store.table("imports")
    frame = t.order_by(ibis.desc("started_at")).limit(IMPORTS).to_pandas()
    summary = quarantine_summary(store)
    columns = (
        Column("import_id", N_("Import"), "text"),
        Column("entity", N_("Entity"), "text"),
        Column("file", N_("File"), "text"),
        Column("started_at", N_("Started"), "date"),
        Column("rows_read", N_("Rows read"), "count", "dash-import"),
        Column("stored", N_("Stored"), "count", "dash-import"),
        Column("quarantined", N_("Quarantined"), "count", "dash-quarantine"),
        Column("suppressed", N_("Suppressed"), "count", "dash-import"),
    )
    reasons = (
        Column("import_id", N_("Import"), "text"),
        Column("entity", N_("Entity"), "text"),
        Column("reason", N_("Reason"), "text", "dash-quarantine"),
        Column("rows", N_("Rows"), "count", "dash-quarantine"),
    )
    return frames_section(
        "imports",
        N_("Imports"),
        "",
        ("imports", N_("Imports"), frame, columns),
        ("quarantine", N_("Quarantined rows by reason"), summary, reasons),
        notes=empty_note(frame, N_("No file imported yet.")),
    )


def _pipeline(store: Store) -> Section:
    t = store.table("pipeline_runs")
    frame = t.order_by(ibis.desc("started_at")).limit(RUNS).to_pandas()
    if len(frame):
        took = frame["finished_at"] - frame["started_at"]
        frame["seconds"] = took.dt.total_seconds()
    columns = (
        Column("run_id", N_("Run"), "text", "dash-pipeline"),
        Column("step", N_("Step"), "text", "dash-pipeline"),
        Column("started_at", N_("Started"), "date"),
        Column("seconds", N_("Seconds"), "number"),
        Column("rows", N_("Rows"), "count"),
        Column("mode", N_("Mode"), "text"),
        Column("outcome", N_("Outcome"), "text", "dash-pipeline"),
        Column("error", N_("Error"), "text"),
    )
    return frames_section(
        "pipeline",
        N_("Pipeline"),
        "",
        ("pipeline_runs", N_("Pipeline step runs"), frame, columns),
        notes=empty_note(frame, N_("The pipeline has not run yet: `tenure run`.")),
    )


def _events(store: Store, window: Window) -> Section:
    """Events per day of the window, by their own timestamp."""
    e = store.table("events")
    lo = datetime.combine(window.start, time.min)
    hi = datetime.combine(window.end + timedelta(days=1), time.min)
    inside = e.filter((e.timestamp >= lo) & (e.timestamp < hi))
    got = inside.group_by(day=inside.timestamp.date()).agg(events=inside.count()).to_pandas()
    keys = pd.to_datetime(got["day"]).dt.date if len(got) else []
    per = dict(zip(keys, got["events"], strict=True)) if len(got) else {}
    days = [window.start + timedelta(days=i) for i in range((window.end - window.start).days + 1)]
    counts = tuple(int(per.get(d, 0)) for d in days)
    total = sum(counts)
    metrics = (
        Metric("events", N_("Events in the period"), total, "count", None, "dash-ingest-rate"),
        Metric(
            "events_per_day",
            N_("Events per day"),
            total / len(days) if days else None,
            "number",
            None,
            "dash-ingest-rate",
        ),
    )
    chart = one_series_chart("events", N_("Events per day"), "bar", days, N_("Events"), counts)
    return Section("events", N_("Event ingest"), metrics=metrics, charts=(chart,))


def _sufficiency(store: Store, window: Window) -> Section:
    end = observed_end(store, window)
    s = data_sufficiency(store, as_of=end, facts=stored_table(store, "customer_facts", end))
    floor = s.floor
    metrics = (
        Metric(
            "enough", N_("Enough data for a model"), int(s.enough), "number", None, "dash-floor"
        ),
        Metric("buyers", N_("Buyers"), s.buyers, "count", floor.buyers, "dash-floor"),
        Metric(
            "repeat_buyers",
            N_("Repeat buyers"),
            s.repeat_buyers,
            "count",
            floor.repeat_buyers,
            "dash-floor",
        ),
        Metric(
            "history_days",
            N_("Days of history"),
            s.history_days,
            "days",
            floor.history_days,
            "dash-floor",
        ),
    )
    note = N_(
        "The compared value of each count is the floor the models need; below it the "
        "predictions use the segment-rhythm heuristic."
    )
    return Section("sufficiency", N_("Model data sufficiency"), metrics=metrics, notes=(note,))


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The data health page (imports and pipeline runs: the latest; events: the window)."""
    sections = (
        _imports(store),
        _pipeline(store),
        _events(store, window),
        _sufficiency(store, window),
    )
    return Page("health", N_("Data health"), window, reporting_currency(store), sections)


__all__ = ["build"]

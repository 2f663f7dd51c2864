"""Importers that lose nothing: CSV, Parquet and JSON Lines into the canonical tables.

``import_file(store, "orders", ["orders.csv"])`` reads each file through DuckDB's streaming
readers, parses it with a preset or mapping (:mod:`tenure.ingest.mapping`), checks every row,
stores the good ones, counts rows identical to what is already stored as already present,
keeps every rejected row in the ``quarantine`` table with its file, line, column, value and
reason, and drops (and counts) the rows of persons deleted by ``tenure privacy delete``. With
``update=True``, a row whose key is stored with other content replaces the stored row, whose
previous version goes to ``row_history`` (:mod:`tenure.ingest.update`). Every input row is
exactly one of stored / updated / already present / quarantined / suppressed. Stored
amounts far beyond the store's own distribution are kept and recorded in ``flagged_values``
(:func:`flagged_counts`).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tenure.errors import ConfigError, TenureError
from tenure.ingest.advocacy import flag_referral_cycles, unlinked_feedback
from tenure.ingest.entities import ENTITIES, REASONS
from tenure.ingest.entities import entity as entity_spec
from tenure.ingest.flags import flagged_counts
from tenure.ingest.mapping import (
    check_parsing,
    check_reader_options,
    choose_mapping,
    presets,
    presets_for,
)
from tenure.ingest.pipeline import FileOutcome, import_one, now_utc
from tenure.ingest.quarantine import (
    Selection,
    export_quarantine,
    quarantine_summary,
    quarantined_row,
    quarantined_rows,
)
from tenure.ingest.readers import check_file, detect_format
from tenure.ingest.result import ImportResult, import_result, log_import
from tenure.ingest.retry import RetryResult, retry_quarantined
from tenure.ingest.tracking import derived_from_events
from tenure.ingest.update import check_updatable
from tenure.progress import ProgressCallback, no_progress
from tenure.store import Store
from tenure.store.currency import settle_reporting_currency

PRESETS = presets()

__all__ = [
    "ENTITIES",
    "PRESETS",
    "REASONS",
    "ImportResult",
    "RetryResult",
    "Selection",
    "export_quarantine",
    "flagged_counts",
    "import_customers",
    "import_events",
    "import_feedback",
    "import_file",
    "import_from_events",
    "import_orders",
    "import_products",
    "import_referrals",
    "import_spend",
    "presets_for",
    "quarantine_summary",
    "quarantined_row",
    "quarantined_rows",
    "retry_quarantined",
]


def import_file(
    store: Store,
    entity: str,
    paths: Sequence[str | Path],
    *,
    preset: str | None = None,
    mapping: str | Path | dict[str, Any] | None = None,
    max_quarantine: float | None = None,
    progress: ProgressCallback | None = None,
    update: bool = False,
    delimiter: str | None = None,
    encoding: str | None = None,
    source: str | None = None,
) -> ImportResult:
    """Import ``paths`` as ``entity`` (orders, customers, events, products, spend, fx_rates,
    feedback, referrals).

    Files are imported one after another under one ``import_id``. If a file is refused (an
    error is raised), the files imported before it stay imported and are logged in
    ``imports``; the error names the file.

    ``update=True`` applies newer versions of stored rows (same natural key, other content)
    instead of quarantining them: the row of this import, or of a later file of the run,
    replaces the stored one, whose previous version is kept in ``row_history``; they are
    counted in ``updated``. Not for events. Run ``tenure refresh`` afterwards.

    ``delimiter`` and ``encoding`` (CSV: the column delimiter, ``tab`` for a tab; CSV and
    JSON Lines: utf-8, utf-16 or latin-1) replace the mapping's own.

    ``source``: what the rows are recorded as coming from (their ``source``, the quarantine's
    ``file``) instead of the path, for one file derived from other data (``events``).
    """
    spec = entity_spec(entity)
    if update:
        check_updatable(spec.name)
    chosen = choose_mapping(spec.name, preset, mapping, delimiter=delimiter, encoding=encoding)
    threshold = _threshold(store, max_quarantine)
    files = [Path(p) for p in paths]
    for path in files:
        check_file(path)
        check_reader_options(chosen, path, detect_format(path, chosen.format))
    import_id = f"imp-{now_utc():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started = now_utc()
    total, done = FileOutcome(), []
    name = preset or (str(mapping) if mapping and not isinstance(mapping, dict) else None)
    with store.staging() as staging:
        try:
            check_parsing(chosen, chosen.timezone or store.settings.timezone, staging.work)
            for path in files:
                total.add(
                    import_one(
                        staging,
                        spec,
                        chosen,
                        path,
                        import_id,
                        started,
                        progress or no_progress,
                        update=update,
                        source=source,
                    )
                )
                done.append(source or str(path))
        except TenureError:
            if done:
                log_import(
                    store,
                    import_result(import_id, spec.name, done, name, threshold, total),
                    started,
                )
            raise
    result = import_result(import_id, spec.name, done, name, threshold, total)
    log_import(store, result, started)
    return _after_import(store, result, started)


def _after_import(store: Store, result: ImportResult, started: datetime) -> ImportResult:
    """What an import does once its files are stored: orders settle the reporting currency,
    events give their feedback and referrals, referrals and feedback get their notes."""
    if result.entity == "orders" and result.stored:
        result = replace(result, currency_note=settle_reporting_currency(store))
    if result.entity == "events" and result.stored:
        derived = import_from_events(store, started)
        notes = tuple(_derived_note(r) for r in derived.values())
        result = replace(result, notes=(*result.notes, *notes))
    return _advocacy_notes(store, result, started)


def import_from_events(
    store: Store, imported_at: datetime | None = None
) -> dict[str, ImportResult]:
    """Import the feedback and referrals that the events of the import stamped
    ``imported_at`` (or all events) carry (:mod:`tenure.ingest.tracking`), like files whose
    ``source`` is ``events``: the same checks, quarantine and flags. Returns the result per
    entity (none for an entity no event gives)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="tenure-events-") as folder:
        for entity, rows in derived_from_events(store, imported_at).items():
            path = Path(folder) / f"{entity}.parquet"
            pq.write_table(rows, path)
            results[entity] = import_file(
                store, entity, [path], max_quarantine=1.0, source="events"
            )
    return results


def _derived_note(result: ImportResult) -> str:
    """One sentence on the feedback or referrals an events import gave."""
    note = (
        f"From the events: {result.rows_read:,} {result.entity} row(s), {result.stored:,} "
        f"stored, {result.already_present:,} already present, {result.quarantined:,} "
        f"quarantined (import {result.import_id})."
    )
    return " ".join([note, *result.notes])


def _advocacy_notes(store: Store, result: ImportResult, now: datetime) -> ImportResult:
    """Referrals: flag the stored ones on a referral cycle; feedback: count the rows of the
    files no identifier links to a person (both kept, and said in the result's notes)."""
    if result.entity == "referrals" and result.stored:
        n = flag_referral_cycles(store, result.import_id, now)
        if n:
            note = (
                f"{n:,} referral{'s are' if n > 1 else ' is'} on a referral cycle (the "
                "referred person also referred the referrer): stored and flagged in "
                f"flagged_values (import_id = '{result.import_id}'); look at them before "
                "counting them as acquisitions."
            )
            return replace(result, flagged=result.flagged + n, notes=(*result.notes, note))
    if result.entity == "feedback" and result.stored:
        n = unlinked_feedback(store, list(result.files))
        if n:
            note = (
                f"{n:,} feedback row{'s carry' if n > 1 else ' carries'} no customer id, "
                "email nor anonymous id: stored, but no person is linked to "
                f"{'them' if n > 1 else 'it'} (unlinked)."
            )
            return replace(result, notes=(*result.notes, note))
    return result


def _threshold(store: Store, max_quarantine: float | None) -> float:
    if max_quarantine is None:
        return store.settings.quarantine_threshold
    if not 0.0 <= max_quarantine <= 1.0:
        raise ConfigError(
            "The 'max_quarantine' parameter of import_file must be a float in the range "
            f"[0, 1]. Got {max_quarantine!r} instead.",
            hint="0.01 accepts up to 1% quarantined rows; 1.0 accepts any share.",
        )
    return max_quarantine


def import_orders(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import orders (one row per order, or per order line) into orders and order_items."""
    return import_file(store, "orders", paths, **kw)


def import_customers(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import customer records."""
    return import_file(store, "customers", paths, **kw)


def import_events(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import Segment-spec events (JSON Lines, or CSV/Parquet with canonical columns)."""
    return import_file(store, "events", paths, **kw)


def import_products(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import the product catalogue."""
    return import_file(store, "products", paths, **kw)


def import_feedback(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import feedback: NPS and satisfaction answers, survey scores, product reviews."""
    return import_file(store, "feedback", paths, **kw)


def import_referrals(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import referrals: who referred whom, with the code, order and reward."""
    return import_file(store, "referrals", paths, **kw)


def import_spend(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import marketing spend per day, channel and campaign."""
    return import_file(store, "spend", paths, **kw)

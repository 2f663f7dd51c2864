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

import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tenure.errors import ConfigError, TenureError
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
    "import_file",
    "import_orders",
    "import_products",
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
) -> ImportResult:
    """Import ``paths`` as ``entity`` (orders, customers, events, products, spend, fx_rates).

    Files are imported one after another under one ``import_id``. If a file is refused (an
    error is raised), the files imported before it stay imported and are logged in
    ``imports``; the error names the file.

    ``update=True`` applies newer versions of stored rows (same natural key, other content)
    instead of quarantining them: the row of this import, or of a later file of the run,
    replaces the stored one, whose previous version is kept in ``row_history``; they are
    counted in ``updated``. Not for events. Run ``tenure refresh`` afterwards.

    ``delimiter`` and ``encoding`` (CSV: the column delimiter, ``tab`` for a tab; CSV and
    JSON Lines: utf-8, utf-16 or latin-1) replace the mapping's own.
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
                    )
                )
                done.append(str(path))
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
    if spec.name == "orders" and result.stored:
        result = replace(result, currency_note=settle_reporting_currency(store))
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


def import_spend(store: Store, paths: Sequence[str | Path], **kw: Any) -> ImportResult:
    """Import marketing spend per day, channel and campaign."""
    return import_file(store, "spend", paths, **kw)

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

from tenure.errors import ConfigError, MappingArgumentError, TenureError
from tenure.ingest.entities import ENTITIES, REASONS
from tenure.ingest.entities import entity as entity_spec
from tenure.ingest.flags import flagged_counts
from tenure.ingest.mapping import Mapping, check_parsing, load_mapping, load_preset, presets
from tenure.ingest.pipeline import FileOutcome, import_one, now_utc
from tenure.ingest.readers import check_file
from tenure.ingest.result import ImportResult
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
    "flagged_counts",
    "import_customers",
    "import_events",
    "import_file",
    "import_orders",
    "import_products",
    "import_spend",
]


def _mapping(entity_name: str, preset: str | None, mapping: Any) -> Mapping:
    if preset and mapping:
        raise MappingArgumentError(
            "Give a preset or a mapping, not both.", hint="Drop --preset or --mapping."
        )
    result = load_preset(preset) if preset else load_mapping(mapping) if mapping else Mapping()
    if result.entity and result.entity != entity_name:
        raise MappingArgumentError(
            f"The {result.name} mapping is for {result.entity}, not {entity_name}.",
            hint=f"Use `tenure import {result.entity}`.",
        )
    return result


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
) -> ImportResult:
    """Import ``paths`` as ``entity`` (orders, customers, events, products, spend, fx_rates).

    Files are imported one after another under one ``import_id``. If a file is refused (an
    error is raised), the files imported before it stay imported and are logged in
    ``imports``; the error names the file.

    ``update=True`` applies newer versions of stored rows (same natural key, other content)
    instead of quarantining them: the row of this import, or of a later file of the run,
    replaces the stored one, whose previous version is kept in ``row_history``; they are
    counted in ``updated``. Not for events. Run ``tenure refresh`` afterwards.
    """
    spec = entity_spec(entity)
    if update:
        check_updatable(spec.name)
    chosen = _mapping(spec.name, preset, mapping)
    threshold = _threshold(store, max_quarantine)
    files = [Path(p) for p in paths]
    for path in files:
        check_file(path)
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
                _log(store, _result(import_id, spec.name, done, name, threshold, total), started)
            raise
    result = _result(import_id, spec.name, done, name, threshold, total)
    _log(store, result, started)
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


def _result(
    import_id: str,
    entity_name: str,
    files: list[str],
    preset: str | None,
    threshold: float,
    total: FileOutcome,
) -> ImportResult:
    return ImportResult(
        import_id=import_id,
        entity=entity_name,
        files=tuple(files),
        preset=preset,
        rows_read=total.rows_read,
        stored=total.stored,
        updated=total.updated,
        already_present=total.present,
        quarantined=total.quarantined,
        suppressed=total.suppressed,
        threshold=threshold,
        by_reason=dict(total.by_reason),
        tables=dict(total.tables),
        ignored_columns=tuple(dict.fromkeys(total.ignored_columns)),
        flagged=total.flagged,
    )


def _log(store: Store, result: ImportResult, started: Any) -> None:
    import pyarrow as pa

    row = {
        "import_id": result.import_id,
        "entity": result.entity,
        "file": ";".join(result.files),
        "preset": result.preset,
        "started_at": started,
        "finished_at": now_utc(),
        "rows_read": result.rows_read,
        "stored": result.stored,
        "updated": result.updated,
        "already_present": result.already_present,
        "quarantined": result.quarantined,
        "suppressed": result.suppressed,
    }
    store.insert("imports", pa.Table.from_pylist([row]))


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

"""The outcome of one import run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tenure.errors import QuarantineThresholdError
from tenure.ingest.pipeline import CONFLICT, FileOutcome, now_utc
from tenure.store.protocol import StoreLike

#: The quarantine reason of records that are not text in the file's encoding.
INVALID_ENCODING = "invalid encoding"


@dataclass(frozen=True)
class ImportResult:
    """What an import read, stored, updated, found already present, quarantined, suppressed.

    ``rows_read == stored + updated + already_present + quarantined + suppressed`` always
    holds: every input row is exactly one of the five. A suppressed row holds an identifier of
    a person deleted by ``tenure privacy delete``: it is neither stored nor quarantined. An
    updated row replaced the stored row with its key (only with ``update=True``).
    ``flagged`` counts stored records also recorded in ``flagged_values`` (an implausible
    amount, kept).
    """

    import_id: str
    entity: str
    files: tuple[str, ...]
    preset: str | None
    rows_read: int
    stored: int
    #: rows that replaced the stored row with their key (import with ``update=True``)
    updated: int
    already_present: int
    quarantined: int
    #: rows of deleted persons, dropped (neither stored nor quarantined)
    suppressed: int
    threshold: float
    by_reason: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    #: source columns that map to no canonical column (not imported)
    ignored_columns: tuple[str, ...] = ()
    #: what the import decided about the store's reporting currency (the first import of
    #: orders records it: :func:`tenure.store.currency.settle_reporting_currency`), else None
    currency_note: str | None = None
    #: stored records with an implausible value, recorded in ``flagged_values`` (a subset
    #: of ``stored``: a flagged row is stored)
    flagged: int = 0
    #: what the import noticed besides its counts (referral cycles flagged, feedback no
    #: identifier links to a person): one sentence each
    notes: tuple[str, ...] = ()

    @property
    def quarantined_share(self) -> float:
        """Quarantined rows as a share of the rows read (0 for an empty input)."""
        return self.quarantined / self.rows_read if self.rows_read else 0.0

    @property
    def over_threshold(self) -> bool:
        """Whether more rows were quarantined than the threshold allows."""
        return self.quarantined_share > self.threshold

    def threshold_error(self, *, update: bool = False) -> QuarantineThresholdError | None:
        """The error to raise when more rows were quarantined than the threshold allows
        (None otherwise); ``update``: whether the import applied newer versions (without it,
        the hint points to ``--update`` for rows quarantined for holding a stored key)."""
        if not self.over_threshold:
            return None
        return QuarantineThresholdError(
            f"{self.quarantined_share:.2%} of the rows were quarantined, more than the "
            f"{self.threshold:.2%} allowed. The good rows were stored.",
            hint=f"See them with `{self.list_command}`; fix the file and import it again "
            "(stored rows are not duplicated), or raise --max-quarantine."
            + self._update_hint(update),
        )

    @property
    def list_command(self) -> str:
        """The command listing this import's quarantined rows."""
        return f"tenure quarantine list --import {self.import_id}"

    def quarantine_notes(self) -> list[str]:
        """What to do about the quarantined rows: where they are, and, for text that is not
        in the file's encoding, the flag that reads it (empty without quarantined rows). A
        command to run is on a line of its own, indented by two spaces."""
        if not self.quarantined:
            return []
        notes = [
            "Quarantined rows are kept with their line and reason; list them (or write them "
            "to a CSV file to fix with `tenure quarantine export`):\n"
            f"  {self.list_command}"
        ]
        n = self.by_reason.get(INVALID_ENCODING, 0)
        if n:
            notes.append(encoding_note(n, self.import_id))
        return notes

    def _update_hint(self, update: bool) -> str:
        """A pointer to --update when rows were quarantined for holding a stored key."""
        n = self.by_reason.get(CONFLICT, 0)
        if not n or update:
            return ""
        return (
            f" {n:,} of them: a stored key with other content ({CONFLICT!r}); if they are "
            "newer versions (a later export), import again with --update to apply them."
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (with the share and the threshold verdict)."""
        out = asdict(self)
        out["files"] = list(self.files)
        out["ignored_columns"] = list(self.ignored_columns)
        out["notes"] = list(self.notes)
        out["quarantined_share"] = self.quarantined_share
        out["over_threshold"] = self.over_threshold
        return out


def encoding_note(rows: int, import_id: str) -> str:
    """The hint for ``rows`` rows quarantined as ``invalid encoding`` by ``import_id``."""
    one = rows == 1
    return (
        f"{rows:,} row{'' if one else 's'} {'is' if one else 'are'} not UTF-8 text "
        f"({INVALID_ENCODING!r}): a file saved by Excel or Windows in Western Europe is "
        "usually Latin-1. Import it again with `--encoding latin-1`, or re-read the kept "
        f"rows:\n  tenure quarantine retry --import {import_id} --encoding latin-1"
    )


def import_result(
    import_id: str,
    entity_name: str,
    files: list[str],
    preset: str | None,
    threshold: float,
    total: FileOutcome,
) -> ImportResult:
    """The :class:`ImportResult` of the files ``total`` counts."""
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


def log_import(store: StoreLike, result: ImportResult, started: datetime) -> None:
    """Record one import run in ``imports``."""
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

"""The outcome of one import run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tenure.errors import QuarantineThresholdError
from tenure.ingest.pipeline import CONFLICT


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
            hint="Look at the quarantine table, fix the file and import it again "
            "(stored rows are not duplicated), or raise --max-quarantine."
            + self._update_hint(update),
        )

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
        out["quarantined_share"] = self.quarantined_share
        out["over_threshold"] = self.over_threshold
        return out

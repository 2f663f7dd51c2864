"""The outcome of one import run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (with the share and the threshold verdict)."""
        out = asdict(self)
        out["files"] = list(self.files)
        out["ignored_columns"] = list(self.ignored_columns)
        out["quarantined_share"] = self.quarantined_share
        out["over_threshold"] = self.over_threshold
        return out

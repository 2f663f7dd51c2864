"""The steps of the pipeline, in dependency order: what each builds, what it reads, and the
library function that does the work (the step owns no logic of its own).

A step's ``full`` function rebuilds its tables from the canonical tables; its
``incremental`` function (optional) brings them up to date from the rows that arrived since
its last successful run (``ctx.since``). Both return the rows written per table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from tenure.store import Store


@dataclass
class StepContext:
    """What a step is run with: the as-of day, the watermark of its last successful run
    (None: never ran, or a full rebuild was asked for), and scratch names shared by steps of
    one run (e.g. the orders base)."""

    as_of: date
    since: datetime | None = None
    shared: dict[str, str] = field(default_factory=dict)


StepFn = Callable[[Store, StepContext], dict[str, int]]


@dataclass(frozen=True)
class Step:
    """One named step: ``builds`` the tables it writes, ``after`` the steps it needs first,
    ``reads`` the canonical tables whose new rows make it stale."""

    name: str
    builds: tuple[str, ...]
    after: tuple[str, ...]
    reads: tuple[str, ...]
    full: StepFn
    incremental: StepFn | None = None
    doc: str = ""

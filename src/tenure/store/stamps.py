"""The data versions kept in the store: a counter per table that every write of
:class:`~tenure.store.Store` bumps in the ``data_versions`` table (migration 18), beside the
counters of the process (:mod:`tenure.store.versions`).

The process's counters start from zero in every process; these do not, so a result kept *in
the store* (the dashboard's pages the pipeline builds, :mod:`tenure.dashboard.kept`) can be
stamped with the versions of the tables it read and trusted by another process, later, as
long as every one of them is still at that version. A write bumps the counter in the same
transaction as the write where there is one (DuckDB); a write that then fails may leave a
counter bumped for nothing, which only makes a kept result be built again.

Kept on DuckDB stores only: elsewhere (Spark) a counter written at every write would cost a
table write each, so :func:`persisted_versions` answers None and nothing kept is trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tenure.store.versions import SCRATCH_PREFIX

TABLE = "data_versions"


def _counted(tables: Iterable[str]) -> list[str]:
    return sorted({t for t in tables if t != TABLE and not t.startswith(SCRATCH_PREFIX)})


def bump_persisted(raw: Any, tables: Iterable[str]) -> None:
    """Bump the kept counters of ``tables`` (a new one starts at 1) through the DuckDB
    connection ``raw``."""
    names = _counted(tables)
    if not names:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    marks = ", ".join("?" for _ in names)
    raw.execute(
        f"UPDATE {TABLE} SET version = version + 1, written_at = ? WHERE name IN ({marks})",
        [now, *names],
    )
    rows = ", ".join("(?)" for _ in names)
    raw.execute(
        f"INSERT INTO {TABLE} SELECT t, 1, ? FROM (VALUES {rows}) v(t) "
        f"WHERE t NOT IN (SELECT name FROM {TABLE})",
        [now, *names],
    )


def persisted_versions(raw: Any, tables: Iterable[str]) -> dict[str, int]:
    """The kept counter of each of ``tables`` (0: never written since migration 18)."""
    names = _counted(tables)
    if not names:
        return {}
    marks = ", ".join("?" for _ in names)
    got = raw.execute(
        f"SELECT name, version FROM {TABLE} WHERE name IN ({marks})", names
    ).fetchall()
    found = {str(name): int(version) for name, version in got}
    return {t: found.get(t, 0) for t in names}

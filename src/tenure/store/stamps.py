"""The data versions kept in the store: a counter per table that every write of
:class:`~tenure.store.Store` bumps in the ``data_versions`` table (migration 18), beside the
counters of the process (:mod:`tenure.store.versions`).

The process's counters start from zero in every process; these do not, so a result kept *in
the store* (the dashboard's pages the pipeline builds, :mod:`tenure.dashboard.kept`) can be
stamped with the versions of the tables it read and trusted by another process, later, as
long as every one of them is still at that version. A write bumps the counter in the same
transaction as the write where there is one (DuckDB).

The table is a log, not one row per table: a bump *appends* a row ``(table, 1, now)`` and a
table's version is the sum of its rows. Two connections of one process writing the same table
at once (two dispatchers, the collector's loader beside a command) would conflict on updating
one shared row (DuckDB's "Conflict on update", which aborts the writer's transaction);
appends never conflict. :func:`compact_persisted` (the end of every pipeline run) folds each
table's rows into one holding their sum, so the log stays short; a store written by the
earlier one-row-per-table layout reads the same (its rows already hold the sums).

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
    rows = ", ".join("(?, 1, ?)" for _ in names)
    raw.execute(f"INSERT INTO {TABLE} VALUES {rows}", [v for n in names for v in (n, now)])


def compact_persisted(raw: Any) -> int:
    """Fold the rows of each table in the log into one holding their sum, in one transaction
    (the versions read the same before and after); return how many rows went. Rows appended
    meanwhile by another connection are left for the next time. A conflict with another
    compaction leaves the log as it is (0)."""
    import duckdb

    raw.begin()
    try:
        before = raw.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        raw.execute(
            f"CREATE TEMP TABLE _tenure_versions_sum AS SELECT name, sum(version)::BIGINT AS "
            f"version, max(written_at) AS written_at FROM {TABLE} GROUP BY name "
            "HAVING count(*) > 1"
        )
        raw.execute(f"DELETE FROM {TABLE} WHERE name IN (SELECT name FROM _tenure_versions_sum)")
        raw.execute(f"INSERT INTO {TABLE} SELECT * FROM _tenure_versions_sum")
        raw.execute("DROP TABLE _tenure_versions_sum")
        after = raw.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        raw.commit()
    except duckdb.TransactionException:
        raw.rollback()
        return 0
    except BaseException:
        raw.rollback()
        raise
    return int(before) - int(after)


def persisted_versions(raw: Any, tables: Iterable[str]) -> dict[str, int]:
    """The kept counter of each of ``tables`` (0: never written since migration 18)."""
    names = _counted(tables)
    if not names:
        return {}
    marks = ", ".join("?" for _ in names)
    got = raw.execute(
        f"SELECT name, sum(version) FROM {TABLE} WHERE name IN ({marks}) GROUP BY name", names
    ).fetchall()
    found = {str(name): int(version) for name, version in got}
    return {t: found.get(t, 0) for t in names}

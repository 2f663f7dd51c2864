"""Versioned, recorded migrations of the canonical data model.

Each migration is a numbered function that uses only the Ibis backend API (so it runs on
DuckDB, PySpark and other backends) and is recorded in ``_tenure_migrations`` when applied.
A store at an older version is upgraded when opened; a store at a newer version than this
code knows is refused with :class:`~tenure.errors.StoreVersionError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.errors import StoreVersionError
from tenure.store.schema import CORE_TABLES, V2_TABLES, V3_TABLES, V4_TABLES, TableSpec

MIGRATIONS_TABLE = "_tenure_migrations"
_MIGRATIONS_SCHEMA = ibis.schema({"version": "int64", "name": "string", "applied_at": "timestamp"})


@dataclass(frozen=True)
class Migration:
    """One step of the data model: a version number, a name and the function applying it."""

    version: int
    name: str
    apply: Callable[[BaseBackend], None]


def _create_tables(con: BaseBackend, specs: tuple[TableSpec, ...]) -> None:
    existing = set(con.list_tables())
    for spec in specs:
        if spec.name not in existing:
            con.create_table(spec.name, schema=spec.schema)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical data model", lambda con: _create_tables(con, CORE_TABLES)),
    Migration(
        2, "fx rates, import log, generator truth", lambda con: _create_tables(con, V2_TABLES)
    ),
    Migration(3, "identity flags and merge log", lambda con: _create_tables(con, V3_TABLES)),
    Migration(
        4, "privacy audit, blocked identity edges", lambda con: _create_tables(con, V4_TABLES)
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(con: BaseBackend) -> int:
    """The highest migration recorded in the store, 0 for an empty store."""
    if MIGRATIONS_TABLE not in con.list_tables():
        return 0
    value = con.table(MIGRATIONS_TABLE).version.max().execute()
    return 0 if value is None or value != value else int(value)


def migrate(con: BaseBackend, *, store_url: str, target: int | None = None) -> list[Migration]:
    """Bring the store up to ``target`` (default: the latest); return the migrations applied."""
    target = LATEST_VERSION if target is None else target
    version = current_version(con)
    if version > LATEST_VERSION:
        raise StoreVersionError(
            f"The store {store_url!r} is at data-model version {version}, but this Tenure "
            f"only knows versions up to {LATEST_VERSION}.",
            hint="Upgrade Tenure (pip install -U tenure) or open a store written by this version.",
        )
    if MIGRATIONS_TABLE not in con.list_tables():
        con.create_table(MIGRATIONS_TABLE, schema=_MIGRATIONS_SCHEMA)
    applied = []
    for migration in MIGRATIONS:
        if version < migration.version <= target:
            migration.apply(con)
            row = pa.table(
                {
                    "version": pa.array([migration.version], pa.int64()),
                    "name": [migration.name],
                    "applied_at": pa.array(
                        [datetime.now(UTC).replace(tzinfo=None)], pa.timestamp("us")
                    ),
                }
            )
            con.insert(MIGRATIONS_TABLE, ibis.memtable(row))
            applied.append(migration)
    return applied

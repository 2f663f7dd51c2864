"""Versioned, recorded migrations of the canonical data model.

Each migration is a numbered function that uses only the Ibis backend API (so it runs on
DuckDB, PySpark and other backends) and is recorded in ``_tenure_migrations`` when applied;
the one exception is 16, the indexes of :mod:`tenure.store.indexes` (DuckDB only, nothing
elsewhere), built again after any later migration.
A store at an older version is upgraded when opened; a store at a newer version than this
code knows is refused with :class:`~tenure.errors.StoreVersionError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.errors import StoreError, StoreVersionError
from tenure.store.indexes import create_indexes
from tenure.store.schema import (
    CORE_TABLES,
    CUSTOMERS,
    FX_RATES,
    IMPORTS,
    MESSAGES,
    ORDERS,
    PRODUCTS,
    V2_TABLES,
    V3_TABLES,
    V4_TABLES,
    V6_TABLES,
    V8_TABLES,
    V11_TABLES,
    V12_TABLES,
    V13_TABLES,
    V14_TABLES,
    V15_TABLES,
    V17_TABLES,
    V18_TABLES,
    V19_TABLES,
    TableSpec,
)

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


#: The columns migration 13 adds to ``messages`` (the outbox), with their fill for the rows
#: stored before it: no retry scheduled, no lease, never handed over, no resend.
OUTBOX_COLUMNS: tuple[tuple[str, str, object], ...] = (
    ("next_attempt_at", "timestamp", None),
    ("lease_owner", "string", None),
    ("lease_until", "timestamp", None),
    ("handed_at", "timestamp", None),
    ("resends", "int64", 0),
    ("message_id", "string", None),
    ("provider_id", "string", None),
)


#: Columns added to a table by a later migration: (table, column) -> the migration adding it.
#: Earlier migrations create the table without them, as the code of their time did.
_ADDED = {
    ("imports", "suppressed"): 5,
    ("imports", "updated"): 7,
    ("fx_rates", "imported_at"): 9,
    ("products", "active"): 10,
    ("products", "inventory"): 10,
    ("customers", "referred_by"): 11,
    ("orders", "referral_code"): 11,
    **{("messages", column): 13 for column, _, _ in OUTBOX_COLUMNS},
}


def _as_of(spec: TableSpec, version: int) -> TableSpec:
    """``spec`` as migration ``version`` created it (without the columns added later)."""
    late = {col for (table, col), v in _ADDED.items() if table == spec.name and v > version}
    if not late:
        return spec
    schema = ibis.schema({c: t for c, t in spec.schema.items() if c not in late})
    return TableSpec(spec.name, schema, spec.key, spec.doc)


def _create_tables_v(con: BaseBackend, specs: tuple[TableSpec, ...], version: int) -> None:
    _create_tables(con, tuple(_as_of(spec, version) for spec in specs))


def add_column(con: BaseBackend, table: str, column: str, dtype: str, fill: object) -> None:
    """Add ``column`` to ``table`` (``fill`` in every existing row) with the Ibis backend API
    only (Ibis 12 has no ALTER TABLE, nor a rename on DuckDB): the rows are copied, with the
    new column, to ``_tenure_migrate_<table>``; the table is created again and filled from the
    copy. Run again after an interruption, it finishes the job without losing a row."""
    copy = f"_tenure_migrate_{table}"
    tables = set(con.list_tables())
    if copy not in tables:
        if column in con.table(table).columns:
            return
        old = con.table(table)
        con.create_table(copy, old.mutate(**{column: ibis.literal(fill, type=dtype)}))
    saved = con.table(copy)
    if table in tables and column not in con.table(table).columns:
        con.drop_table(table)
        tables.discard(table)
    if table not in tables:
        schema = {**dict(saved.schema().items()), column: dt.dtype(dtype)}
        con.create_table(table, schema=ibis.schema(schema))
    if int(con.table(table).count().execute()) == 0:
        con.insert(table, saved)
    con.drop_table(copy)


def _products_flags(con: BaseBackend) -> None:
    """Migration 10: ``products.active`` and ``products.inventory``, unknown (null) for the
    products stored before it."""
    add_column(con, PRODUCTS.name, "active", "boolean", None)
    add_column(con, PRODUCTS.name, "inventory", "int64", None)


def _feedback_referrals(con: BaseBackend) -> None:
    """Migration 11: the ``feedback`` and ``referrals`` tables, ``customers.referred_by`` and
    ``orders.referral_code`` (unknown, null, for the rows stored before it)."""
    _create_tables_v(con, V11_TABLES, 11)
    add_column(con, CUSTOMERS.name, "referred_by", "string", None)
    add_column(con, ORDERS.name, "referral_code", "string", None)


def _indexes(con: BaseBackend) -> None:
    """Migration 16: the per-person indexes of :mod:`tenure.store.indexes` (DuckDB only)."""
    create_indexes(con)


def _outbox(con: BaseBackend) -> None:
    """Migration 13: the outbox's columns of ``messages`` and the ``delivery_attempts`` log."""
    _create_tables_v(con, V13_TABLES, 13)
    for column, dtype, fill in OUTBOX_COLUMNS:
        add_column(con, MESSAGES.name, column, dtype, fill)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical data model", lambda con: _create_tables_v(con, CORE_TABLES, 1)),
    Migration(
        2,
        "fx rates, import log, generator truth",
        lambda con: _create_tables_v(con, V2_TABLES, 2),
    ),
    Migration(3, "identity flags and merge log", lambda con: _create_tables_v(con, V3_TABLES, 3)),
    Migration(
        4,
        "privacy audit, blocked identity edges",
        lambda con: _create_tables_v(con, V4_TABLES, 4),
    ),
    Migration(
        5,
        "suppressed rows in the import log",
        lambda con: add_column(con, IMPORTS.name, "suppressed", "int64", 0),
    ),
    Migration(
        6,
        "store facts, flagged values, replaced rows",
        lambda con: _create_tables_v(con, V6_TABLES, 6),
    ),
    Migration(
        7,
        "updated rows in the import log",
        lambda con: add_column(con, IMPORTS.name, "updated", "int64", 0),
    ),
    Migration(8, "pipeline run records", lambda con: _create_tables_v(con, V8_TABLES, 8)),
    Migration(
        9,
        "load time of fx rates (incremental runs)",
        lambda con: add_column(con, FX_RATES.name, "imported_at", "timestamp", None),
    ),
    Migration(10, "products on sale and in stock (recommendations)", _products_flags),
    Migration(11, "feedback, referrals, referred_by and referral codes", _feedback_referrals),
    Migration(
        12,
        "flows: messages, flow state, ticks, paused flows",
        lambda con: _create_tables_v(con, V12_TABLES, 12),
    ),
    Migration(13, "the outbox: leases, retries, resends, the attempts log", _outbox),
    Migration(
        14,
        "delivery: discount codes, on-site messages, bounces",
        lambda con: _create_tables_v(con, V14_TABLES, 14),
    ),
    Migration(15, "link clicks", lambda con: _create_tables_v(con, V15_TABLES, 15)),
    Migration(
        16,
        "per-person indexes (identities, customers, consents, orders, events)",
        _indexes,
    ),
    Migration(
        17,
        "flow backtests: the last backtest of each flow",
        lambda con: _create_tables_v(con, V17_TABLES, 17),
    ),
    Migration(
        18,
        "data versions, the dashboard's kept pages",
        lambda con: _create_tables_v(con, V18_TABLES, 18),
    ),
    Migration(
        19,
        "the advisor's goals and their progress",
        lambda con: _create_tables_v(con, V19_TABLES, 19),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(con: BaseBackend) -> int:
    """The highest migration recorded in the store, 0 for an empty store."""
    if MIGRATIONS_TABLE not in con.list_tables():
        return 0
    value = con.table(MIGRATIONS_TABLE).version.max().execute()
    return 0 if value is None or value != value else int(value)


def migrate(
    con: BaseBackend, *, store_url: str, target: int | None = None, read_only: bool = False
) -> list[Migration]:
    """Bring the store up to ``target`` (default: the latest); return the migrations applied.
    ``read_only``: apply none; a store behind ``target`` is refused with a StoreError."""
    target = LATEST_VERSION if target is None else target
    version = current_version(con)
    if version > LATEST_VERSION:
        raise StoreVersionError(
            f"The store {store_url!r} is at data-model version {version}, but this Tenure "
            f"only knows versions up to {LATEST_VERSION}.",
            hint="Upgrade Tenure (pip install -U tenure) or open a store written by this version.",
        )
    if read_only and version < target:
        what = "is not a Tenure store" if version == 0 else f"is at data-model version {version}"
        raise StoreError(
            f"The store {store_url!r} {what}, and a store opened read-only (--read-only, "
            f"TENURE_READ_ONLY) cannot be brought to version {target}.",
            hint="Open it once without --read-only (e.g. `tenure store info`) to upgrade it.",
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
    if applied and target >= 16:  # a migration that created a table again dropped its indexes
        create_indexes(con)
    return applied

"""Reading the rows of a few keys on DuckDB: the rows of a table whose column holds one of
some values, through the column's index (:mod:`tenure.store.indexes`).

One statement with bound values (``column IN (?, ...)``; a lower-cased comparison is one
``lower(column) = ?`` per value, the form DuckDB's expression index serves), straight on the
connection: compiling an Ibis expression and reading the table's schema through Ibis cost
about 25 ms on a busy machine, ten times the indexed read itself. Other engines read the same
rows as an Ibis filter (:meth:`tenure.store.Store.rows_where_in`). The table and column names
are Tenure's own (checked to be plain names); the values are only ever bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import duckdb
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.errors import ConfigError, UnknownTableError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class KeyedRead:
    """One read of :meth:`tenure.store.Store.rows_where_in_all`: the rows of ``table`` whose
    ``column`` (lower-cased with ``lower``) is one of ``values``, every column or
    ``columns``."""

    table: str
    column: str
    values: tuple[str, ...]
    lower: bool = False
    columns: tuple[str, ...] | None = None


#: The threads :func:`duckdb_rows_where_in_all` reads on, shared by every store of the
#: process: enough to overlap a profile's dozen reads, whose time is mostly block loads.
THREADS = 4


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="tenure-keyed")


def duckdb_rows_where_in_all(con: BaseBackend, reads: Sequence[KeyedRead]) -> list[pa.Table]:
    """Each of ``reads`` (table names physical) at once, each on a cursor of its own (a
    DuckDB connection is used by one thread at a time; its cursors share the database and
    see what is committed), the answers in the order asked."""
    raw = con.con

    def one(read: KeyedRead) -> pa.Table:
        cursor = raw.cursor()
        try:
            return duckdb_rows_where_in(
                cursor,
                read.table,
                read.column,
                read.values,
                lower=read.lower,
                columns=read.columns,
            )
        finally:
            cursor.close()

    if len(reads) < 2:
        return [one(r) for r in reads]
    return list(_pool().map(one, reads))


def duckdb_rows_where_in(
    con: BaseBackend | duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    values: Sequence[str],
    *,
    lower: bool = False,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of DuckDB table ``table`` whose ``column`` (lower-cased with ``lower``) is one
    of ``values`` (none: no value given): every column, or ``columns``. ``con``: an Ibis
    backend or a raw connection (a cursor)."""
    for name in (table, column, *(columns or ())):
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{name!r} is not a table or column name of a Tenure store.")
    wanted: list[str | None] = list(dict.fromkeys(values))
    shown = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    if lower:
        one = f'SELECT {shown} FROM "{table}" WHERE lower("{column}") = ?'
        sql = " UNION ALL ".join([one] * max(len(wanted), 1))
        wanted = wanted or [None]  # no value: one comparison with null, no row
    else:
        marks = ", ".join("?" * len(wanted)) or "NULL"
        sql = f'SELECT {shown} FROM "{table}" WHERE "{column}" IN ({marks})'
    try:
        raw = con if isinstance(con, duckdb.DuckDBPyConnection) else con.con
        rows: pa.Table = raw.execute(sql, wanted).to_arrow_table()
    except duckdb.CatalogException as exc:
        raise UnknownTableError(
            f"The store has no table {table!r} yet.",
            hint="Derived tables are built by `tenure run` (or `tenure refresh`).",
        ) from exc
    except duckdb.BinderException as exc:
        raise ConfigError(f"The table {table!r} has no column {column!r}.") from exc
    return rows


#: Whether a table or view of this name is in the store's own catalog (or temporary), as
#: Ibis's ``list_tables`` finds them, for one name with a bound value.
_HAS_TABLE = (
    "SELECT 1 FROM information_schema.tables WHERE table_name = ? "
    "AND table_catalog IN (current_database(), 'temp') AND table_schema = current_schema() "
    "LIMIT 1"
)


def duckdb_has_table(con: BaseBackend, name: str) -> bool:
    """Whether the DuckDB store holds a table (or view) ``name``: one bound statement, about
    a third of the time of listing every table."""
    return con.con.execute(_HAS_TABLE, [name]).fetchone() is not None

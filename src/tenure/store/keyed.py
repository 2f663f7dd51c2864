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

import duckdb
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.errors import ConfigError, UnknownTableError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def duckdb_rows_where_in(
    con: BaseBackend,
    table: str,
    column: str,
    values: Sequence[str],
    *,
    lower: bool = False,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of DuckDB table ``table`` whose ``column`` (lower-cased with ``lower``) is one
    of ``values`` (none: no value given): every column, or ``columns``."""
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
        rows: pa.Table = con.con.execute(sql, wanted).to_arrow_table()
    except duckdb.CatalogException as exc:
        raise UnknownTableError(
            f"The store has no table {table!r} yet.",
            hint="Derived tables are built by `tenure run` (or `tenure refresh`).",
        ) from exc
    except duckdb.BinderException as exc:
        raise ConfigError(f"The table {table!r} has no column {column!r}.") from exc
    return rows

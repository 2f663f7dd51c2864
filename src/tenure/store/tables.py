"""Physical tables beyond the canonical ones: replacing a derived table, appending to it,
scratch tables, and the engine-specific settings that go with them. The only place (with
:mod:`tenure.store.store`) where engine branches exist; the layers above call the
:class:`~tenure.store.Store` methods that wrap these functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend


def replace_table(
    con: BaseBackend, name: str, expr: ir.Table, *, scratch: bool = False
) -> ir.Table:
    """Write ``expr`` as table ``name`` (replacing it) and return the stored table.
    ``scratch``: a table read for a short while, then dropped (no compression)."""
    if con.name == "pyspark":  # Ibis 12 cannot overwrite a table on Spark
        staged = f"{name}__staged"
        con.drop_table(staged, force=True)
        con.create_table(staged, expr)
        con.drop_table(name, force=True)
        con.rename_table(staged, name)
        return con.table(name)
    if con.name != "duckdb":
        con.create_table(name, expr, overwrite=True)
        return con.table(name)
    # a derived table has no row order to keep; keeping it costs DuckDB ~1 GB at 10M rows
    settings = {"preserve_insertion_order": "false"}
    if scratch:  # compressing its strings costs more than they save (10M orders: 2.5 CPU-s)
        settings["disabled_compression_methods"] = "'fsst,dict_fsst,dictionary'"
    with duckdb_settings(con, settings):
        con.create_table(name, expr, overwrite=True)
    return con.table(name)


@contextmanager
def duckdb_settings(con: BaseBackend, settings: dict[str, str]) -> Iterator[None]:
    """DuckDB ``SET name = value`` for the duration of the block (``RESET`` after); nothing
    on another engine. Values are Tenure's own constants, never user input."""
    if con.name != "duckdb":
        yield
        return
    for setting, value in settings.items():
        con.raw_sql(f"SET {setting} = {value}")
    try:
        yield
    finally:
        for setting in settings:
            con.raw_sql(f"RESET {setting}")


def scratch_name(prefix: str) -> str:
    """A fresh table name for a scratch table: ``_tenure_<prefix>_<hex>``."""
    return f"_tenure_{prefix}_{uuid.uuid4().hex[:12]}"


def create_scratch(
    con: BaseBackend, name: str, expr: ir.Table | None = None, **kw: Any
) -> ir.Table:
    """A table that lives until the end of the work that made it: temporary on DuckDB (so
    a crash leaves nothing), a regular table elsewhere (dropped by the caller)."""
    temp = con.name == "duckdb"
    # a fresh name: no overwrite (with it, Ibis fills a table of another name, then copies
    # it whole into ``name``: every scratch table written twice)
    if expr is None:
        con.create_table(name, temp=temp, **kw)
    else:
        con.create_table(name, expr, temp=temp, **kw)
    return con.table(name)  # (create_table's answer names a temporary table temp.main.x)


def memtable(data: Any) -> ir.Table:
    """An in-memory table (pandas or Arrow) as an Ibis expression."""
    return ibis.memtable(data)


def upload_table(con: BaseBackend, name: str, data: pa.Table | pd.DataFrame) -> ir.Table:
    """Arrow or pandas data as temporary table ``name`` of the engine (replacing one of that
    name): a temporary table on DuckDB, a temporary view on Spark (Ibis 12's memtable path
    fails on null decimals there)."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    if con.name == "pyspark":
        con._session.createDataFrame(table).createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, table, temp=True, overwrite=True)


def drop_upload_table(con: BaseBackend, name: str) -> None:
    """Drop a table made by :func:`upload_table` (nothing happens when it is gone)."""
    if con.name == "pyspark":
        con._session.catalog.dropTempView(name)
    else:
        con.drop_table(name, force=True)


@contextmanager
def transaction(con: BaseBackend) -> Iterator[None]:
    """One transaction around the block on DuckDB (rolled back on any error); elsewhere
    none: the callers keep what they need to recover (see :meth:`Store.delete_where`)."""
    if con.name != "duckdb":
        yield
        return
    raw = con.con
    raw.begin()
    try:
        yield
    except BaseException:
        raw.rollback()
        raise
    raw.commit()

"""Where an import reads and checks its files: a DuckDB connection owned by the store.

The importer (:mod:`tenure.ingest`) stages files through DuckDB's readers and checks their
rows in SQL, in temporary tables of :attr:`Staging.work`. How those rows reach the store
depends on the engine, and is decided here only:

* a DuckDB store lends its own connection: the store's tables are readable there by name,
  rows move with ``INSERT ... SELECT``, and a file's writes are one transaction;
* any other store gets a private in-memory DuckDB (closed afterwards): the stored rows a file
  is compared with are copied in, and the new rows are uploaded with :meth:`Store.insert`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.store.protocol import StoreLike


def _q(column: str) -> str:
    return f'"{column}"'


class Staging:
    """The DuckDB connection an import works in (:attr:`work`), and the ways its rows reach
    the store. Get one from :meth:`Store.staging`."""

    def __init__(self, store: StoreLike, work: duckdb.DuckDBPyConnection, *, shared: bool) -> None:
        self.store = store
        #: the DuckDB connection the files are read and checked in
        self.work = work
        self._shared = shared
        self._ibis: BaseBackend | None = store.con if shared else None
        self._copies: list[str] = []

    @property
    def reads_store(self) -> bool:
        """Whether the store's tables are readable by name in :attr:`work` (else only the
        copies :meth:`stored` makes are)."""
        return self._shared

    @property
    def ibis(self) -> BaseBackend:
        """An Ibis backend over :attr:`work` (Ibis expressions on the staged tables)."""
        if self._ibis is None:
            self._ibis = ibis.duckdb.from_connection(self.work)
        return self._ibis

    def emit(self, table: str, select: str, params: dict[str, Any] | None = None) -> int:
        """Append the rows of ``select`` (run in :attr:`work`) to store table ``table``;
        return how many."""
        if self._shared:
            self.store.wrote(table)
            row = self.work.execute(f"INSERT INTO {table} BY NAME {select}", params).fetchone()
            return int(row[0]) if row else 0
        data = self.work.execute(select, params).to_arrow_table()
        self.store.insert(table, data)
        return int(data.num_rows)

    @contextmanager
    def watch(self, report: Callable[[int], None], *, every: float = 0.25) -> Iterator[None]:
        """While the block runs, tell ``report`` how far (percent, DuckDB's own estimate)
        the statement running in :attr:`work` is, from a background thread polling every
        ``every`` seconds. DuckDB prints nothing (its own bar stays off)."""
        self.work.execute("SET enable_progress_bar = true")
        self.work.execute("SET enable_progress_bar_print = false")
        stop = threading.Event()

        def poll() -> None:
            last = -1
            while not stop.wait(every):
                done = int(self.work.query_progress())
                if done >= 0 and done != last:
                    last = done
                    report(done)

        thread = threading.Thread(target=poll, name="tenure-import-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.work.execute("SET enable_progress_bar = false")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around a file's writes on a DuckDB store (elsewhere: none)."""
        if not self._shared:
            yield
            return
        self.work.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.work.execute("ROLLBACK")
            raise
        self.work.execute("COMMIT")

    def stored(self, name: str, column: str, keys: str | ir.Table) -> str:
        """The name, in :attr:`work`, of store table ``name`` holding (at least) its rows whose
        ``column`` is among ``keys`` (a one-column SELECT run in :attr:`work`, or an Ibis
        expression over :attr:`ibis`): the table itself when :attr:`reads_store`, else a
        temporary copy of those rows (dropped by :meth:`drop_copies`)."""
        if self._shared:
            return name
        if isinstance(keys, str):
            wanted = self.work.execute(keys).to_arrow_table()
        else:
            wanted = self.ibis.to_pyarrow(keys)
        t = self.store.table(name)
        rows = t.filter(t[column].isin(ibis.memtable(wanted)[wanted.column_names[0]]))
        copy = f"__ex_{name}_{uuid.uuid4().hex[:8]}"
        self.work.register(copy + "_arrow", rows.to_pyarrow())
        self.work.execute(f"CREATE TEMP TABLE {copy} AS SELECT * FROM {copy}_arrow")
        self.work.unregister(copy + "_arrow")
        self._copies.append(copy)
        return copy

    def drop_copies(self) -> None:
        """Drop the copies :meth:`stored` made."""
        for copy in self._copies:
            self.work.execute(f"DROP TABLE IF EXISTS {copy}")
        self._copies.clear()

    def replace_rows(self, table: str, key: Sequence[str], new: str) -> int:
        """Replace the stored rows of canonical ``table`` whose ``key`` is in table ``new`` (in
        :attr:`work`, with ``table``'s columns) by the rows of ``new``; return how many."""
        if self._shared:
            # null-safe: a key field may be empty (spend's campaign)
            on = " AND ".join(f"{table}.{_q(k)} IS NOT DISTINCT FROM n.{_q(k)}" for k in key)
            self.store.wrote(table)
            self.work.execute(f"DELETE FROM {table} USING {new} n WHERE {on}")
            return self.emit(table, f"SELECT * FROM {new}")
        rows: pa.Table = self.work.execute(f"SELECT * FROM {new}").to_arrow_table()
        return self.store.upsert(table, key, rows)


@contextmanager
def open_staging(store: StoreLike) -> Iterator[Staging]:
    """A :class:`Staging` for ``store``: on DuckDB the store's own connection, with
    ``preserve_insertion_order`` on for the import (row order gives line numbers); else a
    private in-memory DuckDB, closed afterwards."""
    if store.con.name != "duckdb":
        con = duckdb.connect()
        try:
            yield Staging(store, con, shared=False)
        finally:
            con.close()
        return
    con = store.con.con
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    before = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = true")
    try:
        yield Staging(store, con, shared=True)
    finally:
        if not before:
            con.execute("SET preserve_insertion_order = false")

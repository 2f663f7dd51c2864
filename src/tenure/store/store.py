"""The project store: one Ibis backend holding the canonical tables.

``Store()`` opens ``./tenure.duckdb`` (zero set-up); ``Store("pyspark://local[2]")`` a
PySpark session in local mode on the warehouse ``./tenure-warehouse``, whose catalog persists
(:mod:`tenure.store.spark`); any other URL goes to ``ibis.connect``. A bare path (no
``scheme://``) is a DuckDB file, used as written: ``Store("shop")`` and ``tenure --store shop``
open the file ``shop``, ``Store("shop.duckdb")`` the file ``shop.duckdb`` (no suffix is added).
Opening a store applies pending migrations, so an older file upgrades itself.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace as replace_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.config import Settings, load_settings
from tenure.errors import (
    StoreError,
    StoreLockedError,
    StoreReadOnlyError,
    StoreUrlError,
    TenureError,
    UnknownTableError,
    translate_driver_error,
)
from tenure.store import stamps
from tenure.store.derived import DERIVED
from tenure.store.indexes import create_indexes
from tenure.store.keyed import (
    KeyedRead,
    duckdb_has_table,
    duckdb_rows_where_in,
    duckdb_rows_where_in_all,
)
from tenure.store.migrations import LATEST_VERSION, current_version, migrate
from tenure.store.outbox import claim_messages, update_claimed
from tenure.store.owner import owner_message
from tenure.store.rows import Predicate, delete_where, upsert
from tenure.store.schema import TABLES, TableSpec
from tenure.store.spark import connect_pyspark
from tenure.store.staging import Staging, open_staging
from tenure.store.tables import (
    create_scratch,
    drop_upload_table,
    duckdb_settings,
    replace_table,
    scratch_name,
    transaction,
    upload_table,
)
from tenure.store.versions import CATALOG, DataVersions, versions_for

#: The column holding a canonical row's load time (when it was stored).
LOAD_TIME = "imported_at"


def _connect_duckdb(url: str, read_only: bool = False) -> tuple[BaseBackend, str]:
    rest = url[len("duckdb://") :]
    if rest in ("", ":memory:"):
        return ibis.duckdb.connect(), ":memory:"
    path = Path(rest).expanduser()
    if read_only and not path.is_file():
        raise StoreUrlError(
            f"No store file {str(path)!r}: a store opened read-only (--read-only, "
            "TENURE_READ_ONLY) is never created.",
            hint="Check --store or TENURE_STORE_URL; without --read-only a new store is made.",
        )
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = ibis.duckdb.connect(str(path), read_only=read_only)
    except (duckdb.IOException, OSError) as exc:
        raise open_error(exc, path, url, read_only=read_only) from exc
    con.raw_sql("SET enable_progress_bar = false")  # the library never prints
    return con, str(path.resolve())


def unwritable(path: Path) -> str | None:
    """Why this process cannot write the DuckDB file ``path`` (or create it), if it cannot:
    a read-only file system, or no write permission on the file or its directory (DuckDB
    writes a ``.wal`` file beside it)."""
    target = path if path.exists() else next((p for p in path.parents if p.exists()), None)
    if target is None:
        return None
    statvfs = getattr(os, "statvfs", None)  # not on Windows
    if statvfs is not None and statvfs(target).f_flag & os.ST_RDONLY:
        return f"{target} is on a read-only file system"
    for place in dict.fromkeys([target, path.parent if path.exists() else target]):
        if not os.access(place, os.W_OK):
            kind = "directory" if place.is_dir() else "file"
            return f"you have no write permission on the {kind} {place}"
    return None


def open_error(exc: BaseException, path: Path, url: str, *, read_only: bool) -> TenureError:
    """The error to show when DuckDB cannot open the file ``path``: another process holds it
    (DuckDB names it), the file cannot be written (a read-only file system, no permission:
    :func:`unwritable`), or what DuckDB said."""
    said = " ".join(str(exc).split())
    served = owner_message(path) if "lock" in said.lower() else None
    if served is not None:  # `tenure serve` owns it: say so, and what to do
        return StoreLockedError(served[0], hint=served[1])
    holder = re.search(r"held in (\S+) \(PID (\d+)\)", said)  # DuckDB names the holder
    if holder is not None:
        program, pid = Path(holder.group(1)).name, holder.group(2)
        return StoreLockedError(
            f"Cannot open the store {url!r}: another process holds the file "
            f"({program}, PID {pid}).",
            hint="Wait for it to finish, or stop it, then try again. Commands that only read "
            "can share a store while nothing writes to it: run each with `tenure --read-only`.",
        )
    why = None if read_only else unwritable(path)
    if why is not None:
        return StoreError(
            f"Cannot open the store {url!r} for writing: {why}.",
            hint="To query it, open it read-only: `tenure --read-only COMMAND ...` (or "
            "TENURE_READ_ONLY=1); to change it, copy the file to a place you can write.",
        )
    return StoreError(
        f"Cannot open the store {url!r}: {said}",
        hint="Check --store or TENURE_STORE_URL, and that the file is a DuckDB database.",
    )


def as_store_url(value: str) -> str:
    """The store URL ``value`` names: a URL as is, a bare path (no ``scheme://``) as the
    DuckDB file at that path, exactly (``shop`` -> ``duckdb://shop``; no suffix added)."""
    return value if "://" in value else f"duckdb://{value}"


def connect(url: str, *, read_only: bool = False) -> tuple[BaseBackend, str]:
    """Open the Ibis backend a store URL (or a bare DuckDB file path) names; return it and a
    human-readable location. ``read_only``: a DuckDB file is opened read-only (several
    processes may read it while none writes)."""
    url = as_store_url(url)
    scheme = url.split("://", 1)[0]
    try:
        if scheme == "duckdb":
            return _connect_duckdb(url, read_only)
        if scheme in ("pyspark", "spark"):
            return connect_pyspark(url)
        return ibis.connect(url), url
    except Exception as exc:
        translated = translate_driver_error(exc, store_url=url)
        if translated is not None:
            raise translated from exc
        if isinstance(exc, TenureError):
            raise
        raise StoreUrlError(
            f"Cannot open the store {url!r}: {' '.join(str(exc).split())}",
            hint="Check --store or TENURE_STORE_URL; supported: duckdb://file.duckdb (or a "
            "bare file path), pyspark://local[2]?warehouse=DIR, or any URL ibis.connect "
            "accepts.",
        ) from exc


class Store:
    """A Tenure store: the canonical tables on one Ibis backend.

    ``url``: a store URL (``duckdb://shop.duckdb``, ``pyspark://local[2]?warehouse=DIR``, any
    ``ibis.connect`` URL) or a bare path to a DuckDB file; default: the ``store_url`` setting.
    ``settings``: default ``load_settings(store_url=url)``, so ``tenure.toml`` and
    ``TENURE_*`` apply and ``store.settings.store_url`` is this store's URL."""

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        backend: BaseBackend | None = None,
        upgrade: bool = True,
        read_only: bool | None = None,
    ) -> None:
        if settings is None:
            settings = load_settings(store_url=as_store_url(url) if url else None)
        self.settings = settings
        self.url = as_store_url(url or settings.store_url)
        #: opened read-only (``read_only``, default the ``read_only`` setting): every write
        #: raises StoreReadOnlyError, and a DuckDB file is opened read-only
        self.read_only = settings.read_only if read_only is None else read_only
        if backend is not None:
            self.con, self.location = backend, f"{backend.name} backend"
        else:
            self.con, self.location = connect(self.url, read_only=self.read_only)
        #: canonical tables shadowed by scratch tables (:meth:`shadowed`): name -> scratch name
        self.shadows: dict[str, str] = {}
        #: the data version of each table, bumped by every write below, and the reads a
        #: computation makes (:mod:`tenure.store.versions`, :func:`tenure.store.cache.cached`)
        self.versions: DataVersions = versions_for(
            self.location if backend is None else f"backend:{id(backend)}"
        )
        self.migrations_applied = (
            migrate(self.con, store_url=self.url, read_only=self.read_only) if upgrade else []
        )
        #: whether the store keeps the data versions of its tables (:mod:`tenure.store.stamps`)
        self.keeps_versions = self.is_duckdb and stamps.TABLE in self.con.list_tables()

    # -- information ------------------------------------------------------------------
    @property
    def backend_name(self) -> str:
        """``duckdb``, ``pyspark``, ... (the Ibis backend's name)."""
        return str(self.con.name)

    @property
    def is_duckdb(self) -> bool:
        return self.backend_name == "duckdb"

    @property
    def file(self) -> Path | None:
        """The store's DuckDB file; None for a store without one (in memory, Spark)."""
        if not self.is_duckdb or self.location == ":memory:":
            return None
        path = Path(self.location)
        return path if path.is_file() else None

    @property
    def transactional(self) -> bool:
        """Whether the engine rolls a failed write back (DuckDB); elsewhere the writers keep
        a copy of what they empty (:meth:`delete_where`, :meth:`upsert`)."""
        return self.is_duckdb

    @property
    def version(self) -> int:
        """The data-model version recorded in the store."""
        return current_version(self.con)

    @property
    def up_to_date(self) -> bool:
        return self.version == LATEST_VERSION

    def check_writable(self, table: str) -> None:
        """Raise StoreReadOnlyError when the store was opened read-only: ``table`` was to be
        written."""
        if self.read_only and table not in self.shadows:
            error = StoreReadOnlyError(
                f"The store {self.location} is open read-only (--read-only or "
                f"TENURE_READ_ONLY), so {table} cannot be written.",
                hint="Open it without read_only (TENURE_READ_ONLY unset) where you can write it.",
            )
            error.table = table
            raise error

    # -- tables -----------------------------------------------------------------------
    @staticmethod
    def spec(name: str) -> TableSpec:
        """The canonical definition of table ``name``."""
        try:
            return TABLES[name]
        except KeyError:
            raise UnknownTableError(
                f"No canonical table named {name!r}.",
                hint=f"Known tables: {', '.join(sorted(TABLES))}.",
            ) from None

    def table(self, name: str) -> ibis.Table:
        """The Ibis table expression of canonical table ``name``."""
        self.spec(name)
        self.versions.read(name)
        return self.con.table(self.physical(name))

    def physical(self, name: str) -> str:
        """The engine's table holding ``name``: its scratch shadow inside :meth:`shadowed`."""
        return self.shadows.get(name, name)

    @contextmanager
    def shadowed(self, *names: str) -> Iterator[None]:
        """Canonical tables ``names`` replaced for the block by empty scratch tables of the
        same schema: every read and write of them through the Store goes to the scratch
        copy and the real tables are untouched (a flow backtest's dry run). A read-only
        store writes its shadows."""
        made = {}
        for name in names:
            spec = self.spec(name)
            made[name] = create_scratch(
                self.con, scratch_name(f"shadow_{name}"), schema=spec.schema
            ).get_name()
        self.shadows.update(made)
        try:
            yield
        finally:
            for name, scratch in made.items():
                self.shadows.pop(name, None)
                self.con.drop_table(scratch, force=True)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute())

    def counts(self) -> dict[str, int]:
        """Row count of every canonical table."""
        return {name: self.count(name) for name in TABLES}

    def derived_counts(self) -> dict[str, int | None]:
        """Row count of every derived table (:data:`tenure.store.derived.DERIVED`); None
        for one not built yet."""
        present = set(self.tables())
        self.versions.read(*DERIVED)
        return {
            name: int(self.con.table(name).count().execute()) if name in present else None
            for name in DERIVED
        }

    def insert(self, name: str, data: pa.Table | pd.DataFrame | ibis.Table) -> None:
        """Append rows to canonical table ``name``, cast to its schema, in its column order.
        Rows without an ``imported_at`` column (where the table has one) are stamped with
        the time of this insert: the load time the incremental run reads (importers set it
        themselves, to the start of the import). A column the rows lack is null (a column
        a later migration added, that the writer does not know of)."""
        self.check_writable(name)
        spec = self.spec(name)
        self.wrote(name)
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(data, preserve_index=False)
        loaded = datetime.now(UTC).replace(tzinfo=None)
        if isinstance(data, pa.Table):
            if LOAD_TIME in spec.columns and LOAD_TIME not in data.column_names:
                stamp = pa.array([loaded] * data.num_rows, pa.timestamp("us"))
                data = data.append_column(LOAD_TIME, stamp)
            missing = [c for c in spec.columns if c not in data.column_names]
            for column in missing:
                data = data.append_column(
                    column, pa.nulls(data.num_rows, spec.schema[column].to_pyarrow())
                )
            data = data.select(spec.columns).cast(spec.schema.to_pyarrow())
            if data.num_rows == 0:
                return
            if self.backend_name == "pyspark":
                self._insert_spark(self.physical(name), data)
            elif self.is_duckdb:
                self._insert_duckdb(self.physical(name), data)
            else:
                self.con.insert(self.physical(name), data)
            return
        if LOAD_TIME in spec.columns and LOAD_TIME not in data.columns:
            data = data.mutate(**{LOAD_TIME: ibis.literal(loaded, type="timestamp")})
        expr = data.select(
            *[
                (data[c] if c in data.columns else ibis.null()).cast(spec.schema[c]).name(c)
                for c in spec.columns
            ]
        )
        self.con.insert(self.physical(name), expr)

    def _insert_duckdb(self, name: str, data: pa.Table) -> None:
        """Arrow into DuckDB, unregistered afterwards (Ibis 12 keeps memtables until exit)."""
        raw = self.con.con
        view = f"_tenure_insert_{uuid.uuid4().hex}"
        raw.register(view, data)
        try:
            raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {view}")
        finally:
            raw.unregister(view)

    def _insert_spark(self, name: str, data: pa.Table) -> None:
        """Arrow straight into Spark: Ibis 12's memtable path fails on null decimals."""
        session = self.con._session
        view = f"_tenure_insert_{uuid.uuid4().hex}"
        session.createDataFrame(data).createOrReplaceTempView(view)
        try:
            self.con.insert(name, self.con.table(view))
        finally:
            session.catalog.dropTempView(view)

    def truncate(self, name: str) -> None:
        """Delete every row of canonical table ``name`` (keeps the table)."""
        self.check_writable(name)
        spec = self.spec(name)
        self.wrote(name)
        if name in self.shadows:
            shadow = self.shadows[name]
            self.con.drop_table(shadow, force=True)
            create_scratch(self.con, shadow, schema=spec.schema)
            return
        if self.backend_name == "pyspark":  # Ibis 12 cannot overwrite a table on Spark
            self.con.drop_table(name, force=True)
            self.con.create_table(name, schema=spec.schema)
            return
        self.con.create_table(name, schema=spec.schema, overwrite=True)
        create_indexes(self.con, name)  # the table created again has lost them

    # -- any table: derived, internal, scratch -------------------------------------------
    def exists(self, name: str) -> bool:
        """Whether table ``name`` (canonical, derived or internal) is in the store."""
        self.versions.read(name)
        if self.is_duckdb:
            return duckdb_has_table(self.con, self.physical(name))
        return self.physical(name) in self.con.list_tables()

    def read(self, name: str) -> ibis.Table:
        """Any stored table by name (canonical, derived, internal); a clear error if absent."""
        if not self.exists(name):
            raise UnknownTableError(
                f"The store has no table {name!r} yet.",
                hint="Derived tables are built by `tenure run` (or `tenure refresh`).",
            )
        self.versions.read(name)
        return self.con.table(self.physical(name))

    def rows_where_in(
        self,
        name: str,
        column: str,
        values: Sequence[str],
        *,
        lower: bool = False,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The rows of table ``name`` whose ``column`` (lower-cased with ``lower``) is one of
        ``values``, as Arrow (every column, or ``columns``): one person's rows, read through
        the column's index where the engine has one (:mod:`tenure.store.indexes`; on DuckDB
        one statement with bound values, :mod:`tenure.store.keyed`)."""
        wanted = [v for v in values if v is not None]
        if self.is_duckdb:
            self.versions.read(name)
            return duckdb_rows_where_in(
                self.con, self.physical(name), column, wanted, lower=lower, columns=columns
            )
        table = self.read(name)
        key = table[column].lower() if lower else table[column]
        found = table.filter(key.isin(wanted))
        return (found.select(*columns) if columns else found).to_pyarrow()

    def rows_where_in_all(self, reads: Sequence[KeyedRead]) -> list[pa.Table]:
        """The answers of several :meth:`rows_where_in` reads, in the order asked. On DuckDB
        they run at once, each on a cursor of its own (a person's rows are scattered through
        the tables, so each read mostly waits for blocks to load: run together, the waits
        overlap); they see what is committed. Elsewhere one after another."""
        if not self.is_duckdb:
            return [
                self.rows_where_in(r.table, r.column, r.values, lower=r.lower, columns=r.columns)
                for r in reads
            ]
        for r in reads:
            self.versions.read(r.table)
        physical = [replace_field(r, table=self.physical(r.table)) for r in reads]
        return duckdb_rows_where_in_all(self.con, physical)

    def replace(self, name: str, expr: ibis.Table, *, scratch: bool = False) -> ibis.Table:
        """Write ``expr`` as table ``name``, replacing it; return the stored table.
        ``scratch``: read for a short while and dropped (stored without compression)."""
        self.check_writable(name)
        self.wrote(name, CATALOG)
        stored = replace_table(self.con, name, expr, scratch=scratch)
        if not scratch:
            create_indexes(self.con, name)  # a derived table's person index
        return stored

    def create(self, name: str, schema: ibis.Schema) -> ibis.Table:
        """Create empty table ``name`` with ``schema`` if it does not exist; return it."""
        if not self.exists(name):
            self.check_writable(name)
            self.wrote(name, CATALOG)
            self.con.create_table(name, schema=schema)
        return self.con.table(name)

    def append(self, name: str, data: pa.Table | pd.DataFrame | ibis.Table) -> None:
        """Append rows to a (non-canonical) table, in its column order."""
        self.check_writable(name)
        self.wrote(name)
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(data, preserve_index=False)
        if isinstance(data, pa.Table):
            if data.num_rows == 0:
                return
            data = ibis.memtable(data)
        self.con.insert(name, data)

    def drop(self, name: str) -> None:
        """Drop table ``name`` if it exists."""
        if name in TABLES or name in DERIVED:  # a read-only store still drops its scratch
            self.check_writable(name)
        self.wrote(name, CATALOG)
        self.con.drop_table(name, force=True)

    def tables(self) -> list[str]:
        """The names of every table in the store (canonical, derived, internal, scratch)."""
        self.versions.read(CATALOG)
        return list(self.con.list_tables())

    def scratch_table(self, prefix: str, expr: ibis.Table | None = None, **kw: Any) -> ibis.Table:
        """A new scratch table ``_tenure_<prefix>_<hex>`` (temporary on DuckDB, so a crash
        leaves nothing; the caller drops it with :meth:`drop`). ``expr`` fills it, or
        ``schema=`` makes it empty."""
        name = scratch_name(prefix)
        return create_scratch(self.con, name, expr, **kw)

    @contextmanager
    def scratch(self, prefix: str, expr: ibis.Table | None = None, **kw: Any) -> Iterator[str]:
        """A scratch table for the duration of the block (temporary on DuckDB, dropped at
        the end everywhere); yields its name. ``expr`` fills it, or ``schema=`` makes it empty."""
        name = self.scratch_table(prefix, expr, **kw).get_name()
        try:
            yield name
        finally:
            self.drop(name)

    def upload(self, name: str, data: pa.Table | pd.DataFrame) -> ibis.Table:
        """Local data as temporary table ``name`` of the engine (replacing one of that name),
        to join with stored tables; :meth:`drop_upload` removes it."""
        return upload_table(self.con, name, data)

    def drop_upload(self, name: str) -> None:
        """Drop a table made by :meth:`upload` (nothing happens when it is gone)."""
        drop_upload_table(self.con, name)

    # -- rewriting some rows ----------------------------------------------------------------
    def delete_where(self, name: str, predicate: Predicate) -> int:
        """Delete the rows of table ``name`` (canonical or derived) that ``predicate(table)``
        picks (null picks nothing); return how many (:mod:`tenure.store.rows`)."""
        self.check_writable(name)
        self.wrote(name)
        return delete_where(self, name, predicate)

    def upsert(self, name: str, key: Sequence[str], rows: pa.Table) -> int:
        """Replace the rows of canonical table ``name`` with the ``key`` values of ``rows`` by
        ``rows`` (new keys are added); return the rows written (:mod:`tenure.store.rows`)."""
        self.check_writable(name)
        self.wrote(name)
        return upsert(self, name, key, rows)

    # -- the outbox (tenure.deliver) ------------------------------------------------------
    def claim_messages(
        self,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        channels: Sequence[str],
    ) -> pa.Table:
        """Claim due ``messages`` of ``channels`` for ``owner`` under a lease, atomically
        (:func:`tenure.store.outbox.claim_messages`); return the claimed rows."""
        self.check_writable("messages")
        self.wrote("messages")
        return claim_messages(
            self, owner=owner, now=now, lease_until=lease_until, limit=limit, channels=channels
        )

    def update_claimed(self, rows: pa.Table, *, owner: str) -> set[str]:
        """Write ``rows`` over the ``messages`` still ``sending`` under ``owner``'s lease
        (:func:`tenure.store.outbox.update_claimed`); return the keys written."""
        self.check_writable("messages")
        self.wrote("messages")
        return update_claimed(self, rows, owner=owner)

    def wrote(self, *names: str) -> None:
        """Tables ``names`` are being written: their data versions move on, so a result
        computed from them is computed again (:func:`tenure.store.cache.cached`). Every write
        method above calls it; a store module writing through the raw connection
        (:mod:`tenure.store.staging`) calls it itself. The versions kept in the store move
        on too (:mod:`tenure.store.stamps`; not those of a table shadowed by a scratch one)."""
        self.versions.bump(*names)
        if self.keeps_versions and not self.read_only:
            stamps.bump_persisted(self.con.con, (n for n in names if n not in self.shadows))

    def data_versions(self, tables: Iterable[str]) -> dict[str, int] | None:
        """The versions of ``tables`` kept in the store (:mod:`tenure.store.stamps`); None
        for a store that keeps none (not DuckDB, or older than migration 18)."""
        if not self.keeps_versions:
            return None
        return stamps.persisted_versions(self.con.con, tables)

    def compact_data_versions(self) -> int:
        """Fold the log of kept data versions into one row per table
        (:func:`tenure.store.stamps.compact_persisted`); return the rows removed."""
        if not self.keeps_versions or self.read_only:
            return 0
        return stamps.compact_persisted(self.con.con)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block where the engine has them (DuckDB)."""
        with transaction(self.con):
            yield

    @contextmanager
    def staging(self) -> Iterator[Staging]:
        """The DuckDB connection an import reads and checks files in, and the ways its rows
        reach the store (:mod:`tenure.store.staging`)."""
        self.check_writable("the imported tables")
        with open_staging(self) as staging:
            yield staging

    @contextmanager
    def engine_settings(self, **settings: str) -> Iterator[None]:
        """Engine settings for the duration of the block (DuckDB ``SET``; ignored elsewhere).
        Values are Tenure's own constants, never user input."""
        with duckdb_settings(self.con, settings):
            yield

    # -- facts about the store ------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        """The value of store fact ``key`` (table ``store_meta``), or None when unset."""
        t = self.table("store_meta")
        rows = t.filter(t.name == key).select("value").to_pyarrow().column("value").to_pylist()
        return rows[-1] if rows else None

    def metas(self) -> dict[str, str]:
        """Every store fact, key -> value."""
        t = self.table("store_meta").to_pyarrow()
        return dict(zip(t.column("name").to_pylist(), t.column("value").to_pylist(), strict=True))

    def set_meta(self, key: str, value: str | None, *, by: str) -> None:
        """Set (or, with ``value=None``, remove) store fact ``key``; ``by`` says what set it."""
        self.check_writable("store_meta")
        t = self.table("store_meta")
        kept = t.filter(t.name != key).to_pyarrow()
        rows = kept.to_pylist()
        if value is not None:
            now = datetime.now(UTC).replace(tzinfo=None)
            rows.append({"name": key, "value": value, "set_at": now, "set_by": by})
        self.truncate("store_meta")
        if rows:
            self.insert("store_meta", pa.Table.from_pylist(rows, schema=kept.schema))

    # -- life cycle -------------------------------------------------------------------
    def close(self) -> None:
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect is not None and self.backend_name == "duckdb":
            disconnect()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r}, backend={self.backend_name}, version={self.version})"

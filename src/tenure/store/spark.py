"""Opening a PySpark store so that it reopens: a warehouse with a catalog that persists.

Spark's default catalog lives in memory: the tables' data stay in the warehouse directory, but
the next process no longer knows them (and refuses to create them again over their data). A
Tenure store on Spark therefore keeps its catalog in the warehouse itself: Spark's Hive
catalog with an embedded Derby metastore in ``<warehouse>/metastore_db`` (the Hive and Derby
jars ship with PySpark). Every process that opens the warehouse sees the same tables.

Embedded Derby admits one process (one JVM) at a time, like a DuckDB file; Tenure takes a
lock on ``<warehouse>/.tenure.lock`` before starting Spark, so a second process is told
which process holds the store instead of failing deep inside the metastore.

URL options (``pyspark://MASTER?key=value&...``):

- ``warehouse``: the directory of the tables and the catalog (default ``./tenure-warehouse``);
  a remote warehouse (``hdfs://``, ``s3a://``...) needs a metastore service passed as a Spark
  setting (``spark.hadoop.hive.metastore.uris=thrift://...``).
- ``catalog``: ``hive`` (the default, persistent) or ``in-memory`` (one process only: the
  tables vanish with the process; the warehouse defaults to a temporary directory).
- ``shuffle_partitions``: ``spark.sql.shuffle.partitions`` (default 4).
- any other ``key=value``: a Spark setting.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

import ibis
from ibis.backends import BaseBackend

from tenure.errors import ConfigError, StoreError, StoreLockedError

#: Where ``pyspark://local[2]`` keeps its tables and catalog: relative to the working directory,
#: like the default ``duckdb://tenure.duckdb``.
DEFAULT_WAREHOUSE = "tenure-warehouse"
CATALOGS = ("hive", "in-memory")
LOCK_FILE = ".tenure.lock"
METASTORE_DIR = "metastore_db"

#: Lock files this process holds, by path: opening the same warehouse twice in one process is
#: fine (one Spark session serves both); the locks are released when the process ends.
_HELD: dict[Path, IO[str]] = {}


@dataclass
class SparkUrl:
    """A ``pyspark://`` URL taken apart."""

    master: str
    catalog: str
    warehouse: str | None
    settings: dict[str, str] = field(default_factory=dict)


def parse_spark_url(url: str) -> SparkUrl:
    """Master, catalog, warehouse and extra Spark settings of a ``pyspark://`` URL."""
    # Not urlsplit: it reads the brackets of ``local[2]`` as an IPv6 host.
    rest = url.split("://", 1)[1]
    master, _, query = rest.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    catalog = options.pop("catalog", "hive")
    if catalog not in CATALOGS:
        raise ConfigError(
            f"The store URL {url!r} asks for catalog {catalog!r}.",
            hint=f"Use one of: {', '.join(CATALOGS)} (hive, the default, persists the store).",
        )
    options.setdefault("spark.sql.shuffle.partitions", options.pop("shuffle_partitions", "4"))
    return SparkUrl(
        master=master.rstrip("/") or "local[2]",
        catalog=catalog,
        warehouse=options.pop("warehouse", None),
        settings=options,
    )


def _local_path(warehouse: str) -> Path | None:
    """The directory of a local warehouse (a path or ``file:`` URL), None for a remote one."""
    if warehouse.startswith("file:"):
        warehouse = warehouse[len("file:") :].lstrip("/")
        warehouse = "/" + warehouse
    elif "://" in warehouse:
        return None
    return Path(warehouse).expanduser().resolve()


def hold_warehouse_lock(warehouse: Path, *, store_url: str) -> bool:
    """Lock ``warehouse`` for this process (until it ends), or raise StoreLockedError.
    Returns False when this process held the lock already."""
    path = warehouse / LOCK_FILE
    if path in _HELD:
        return False
    warehouse.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        _lock(handle)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StoreLockedError(
            f"Cannot open the store {store_url!r}: the Spark warehouse {warehouse} is in use "
            f"by another process (pid {holder}).",
            hint="A Spark store admits one process at a time (its catalog is an embedded "
            "Derby database): wait for the other command to finish, or stop it.",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _HELD[path] = handle
    return True


def release_warehouse_lock(warehouse: Path) -> None:
    """Give up this process's lock on ``warehouse`` (no-op when it holds none)."""
    handle = _HELD.pop(warehouse / LOCK_FILE, None)
    if handle is not None:
        handle.close()  # closing the file releases the lock


def _lock(handle: IO[str]) -> None:
    """An exclusive, non-blocking lock on an open file; OSError when another process has it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


@functools.cache
def _temporary_warehouse() -> Path:
    """A fresh directory for this process's one-process store, removed when the process ends."""
    path = Path(tempfile.mkdtemp(prefix="tenure-spark-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _table_dirs(warehouse: Path) -> list[str]:
    return sorted(p.name for p in warehouse.iterdir() if p.is_dir() and p.name[0] != ".")


def _refuse_orphan_tables(plan: SparkPlan, *, store_url: str) -> None:
    """Refuse, before Spark starts, table directories the catalog cannot reopen: any in an
    in-memory store's warehouse, and those of a warehouse without its metastore (written with
    the in-memory catalog, e.g. by Tenure before the catalog persisted)."""
    warehouse = _local_path(plan.warehouse)
    if warehouse is None or not warehouse.is_dir():
        return
    in_memory = plan.url.catalog == "in-memory"
    derby = "derby" in plan.settings.get("spark.hadoop.javax.jdo.option.ConnectionURL", "")
    if not in_memory and not (derby and not (warehouse / METASTORE_DIR).exists()):
        return
    left = [name for name in _table_dirs(warehouse) if name != METASTORE_DIR]
    if not left:
        return
    shown = ", ".join(left[:3]) + (", ..." if len(left) > 3 else "")
    if in_memory:
        raise StoreError(
            f"The store {store_url!r} uses the in-memory catalog, which cannot reopen the "
            f"tables already in {warehouse} ({shown}).",
            hint="Drop `catalog=in-memory` from the URL (the default Hive catalog reopens a "
            "warehouse it created), or point `warehouse=` at an empty directory.",
        )
    raise StoreError(
        f"The Spark warehouse {warehouse} holds tables ({shown}) but no catalog "
        f"({METASTORE_DIR}): it was written with Spark's in-memory catalog, whose tables "
        "cannot be reopened.",
        hint="Import the files again into a new warehouse (`warehouse=` another directory).",
    )


def _hive_settings(warehouse: Path, settings: dict[str, str]) -> dict[str, str]:
    """Spark settings for a Hive catalog whose Derby metastore lives inside ``warehouse``."""
    if ";" in str(warehouse):
        raise ConfigError(
            f"The Spark warehouse path {str(warehouse)!r} contains ';', which the metastore's "
            "JDBC URL cannot hold.",
            hint="Choose a warehouse directory without ';' in its path.",
        )
    java = f"-Dderby.system.home={warehouse} -Dderby.stream.error.file={warehouse}/derby.log"
    user_java = settings.get("spark.driver.extraJavaOptions")
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={warehouse / METASTORE_DIR};create=true"
        ),
        "spark.driver.extraJavaOptions": f"{user_java} {java}" if user_java else java,
    }


def _has_metastore(settings: dict[str, str]) -> bool:
    keys = ("spark.hadoop.hive.metastore.uris", "spark.hadoop.javax.jdo.option.ConnectionURL")
    return any(key in settings for key in keys)


@dataclass
class SparkPlan:
    """What opening a Spark store takes: the session's settings and the warehouse to lock."""

    url: SparkUrl
    settings: dict[str, str]
    warehouse: str
    lock: Path | None  # a local warehouse with a Hive catalog: one process at a time


def plan_spark(url: str) -> SparkPlan:
    """Every Spark setting the store ``url`` needs, and the warehouse it uses."""
    parsed = parse_spark_url(url)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # the library never prints
    }
    settings.update(parsed.settings)
    if parsed.catalog == "in-memory":
        local = _local_path(parsed.warehouse) if parsed.warehouse else _temporary_warehouse()
        warehouse = str(local) if local is not None else str(parsed.warehouse)
        settings["spark.sql.catalogImplementation"] = "in-memory"
        settings["spark.sql.warehouse.dir"] = warehouse
        return SparkPlan(parsed, settings, warehouse, None)
    warehouse = parsed.warehouse or DEFAULT_WAREHOUSE
    local = _local_path(warehouse)
    settings["spark.sql.catalogImplementation"] = "hive"
    settings["spark.sql.warehouse.dir"] = str(local) if local is not None else warehouse
    if _has_metastore(parsed.settings):
        return SparkPlan(parsed, settings, settings["spark.sql.warehouse.dir"], local)
    if local is None:
        raise StoreError(
            f"The store {url!r} keeps its tables in the remote warehouse {warehouse!r}, "
            "but names no metastore to remember them across processes.",
            hint="Add spark.hadoop.hive.metastore.uris=thrift://HOST:9083 to the URL, or "
            "use a local warehouse directory (its catalog then lives inside it).",
        )
    settings.update(_hive_settings(local, parsed.settings))
    return SparkPlan(parsed, settings, str(local), local)


def _same_place(configured: str, wanted: str) -> bool:
    a, b = _local_path(configured), _local_path(wanted)
    return a == b if a is not None and b is not None else configured == wanted


def _check_session(session: Any, settings: dict[str, str], url: str) -> None:
    """One process runs one Spark session: refuse a URL the running session does not serve."""
    conf = session.conf
    warehouse = conf.get("spark.sql.warehouse.dir", "")
    catalog = conf.get("spark.sql.catalogImplementation", "in-memory")
    wanted_catalog = settings["spark.sql.catalogImplementation"]
    if _same_place(warehouse, settings["spark.sql.warehouse.dir"]) and catalog == wanted_catalog:
        return
    raise StoreError(
        f"Cannot open the store {url!r}: this process already runs a Spark session on the "
        f"warehouse {warehouse} ({catalog} catalog), and Spark fixes both when it starts.",
        hint="Open one Spark warehouse per process (run the other store in a new process).",
    )


#: Leading or trailing whitespace (space, tab, newline, return, vertical tab, form feed).
EDGE_SPACE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def _strip_by_regex(self: Any, op: Any, *, arg: Any) -> Any:
    """Ibis's ``strip()`` on PySpark, through a regular expression: Ibis compiles it to
    ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark reads the unknown string escapes ``\\v``
    and ``\\f`` as the letters v and f, so it also cut a leading or trailing "v" or "f" off
    every value (ids ending in f lost it). A regular expression's escapes reach Java's regex
    engine intact."""
    import sqlglot.expressions as sge

    return self.f.regexp_replace(arg, sge.convert(EDGE_SPACE), sge.convert(""))


def _mend_pyspark_compiler() -> None:
    """Patch Ibis's PySpark compiler where it gives other answers than DuckDB's (idempotent)."""
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    PySparkCompiler.visit_Strip = _strip_by_regex


def connect_pyspark(url: str) -> tuple[BaseBackend, str]:
    """Open (or create) the Spark store ``url`` names; return the backend and its location."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise StoreError(
            f"The store URL {url!r} needs PySpark, which is not installed.",
            hint="pip install 'tenure[spark]' (and Java 17).",
        ) from exc
    plan = plan_spark(url)
    locked = plan.lock is not None and hold_warehouse_lock(plan.lock, store_url=url)
    running = SparkSession.getActiveSession()
    try:
        if running is not None:
            _check_session(running, plan.settings, url)
        else:
            _refuse_orphan_tables(plan, store_url=url)
    except StoreError:
        if locked and plan.lock is not None:
            release_warehouse_lock(plan.lock)
        raise
    # Spark's Python workers must run this interpreter (docs/configuration.md, "Spark stores")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(plan.url.master).appName("tenure")
    for key, value in plan.settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _check_session(session, plan.settings, url)
    location = f"pyspark {plan.url.master}, warehouse {plan.warehouse} ({plan.url.catalog} catalog)"
    _mend_pyspark_compiler()
    return ibis.pyspark.connect(session), location

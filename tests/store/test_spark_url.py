"""What a ``pyspark://`` URL asks of Spark, and the one-process lock on a warehouse.

These run without starting Spark (a JVM takes seconds): the settings are checked as planned,
and a locked or unusable warehouse is refused before Spark starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app, err_console
from tenure.errors import ConfigError, StoreError, StoreLockedError
from tenure.store.spark import (
    DEFAULT_WAREHOUSE,
    LOCK_FILE,
    hold_warehouse_lock,
    plan_spark,
    release_warehouse_lock,
)

runner = CliRunner()


def test_default_url_keeps_a_hive_catalog_inside_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_spark("pyspark://local[2]")
    warehouse = tmp_path / DEFAULT_WAREHOUSE
    assert plan.url.master == "local[2]" and plan.url.catalog == "hive"
    assert plan.warehouse == str(warehouse) and plan.lock == warehouse
    assert plan.settings["spark.sql.warehouse.dir"] == str(warehouse)
    assert plan.settings["spark.sql.catalogImplementation"] == "hive"
    assert plan.settings["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true"
    )
    assert (
        f"-Dderby.stream.error.file={warehouse}/derby.log"
        in (plan.settings["spark.driver.extraJavaOptions"])
    )
    assert plan.settings["spark.sql.shuffle.partitions"] == "4"


def test_url_options_become_spark_settings(tmp_path: Path) -> None:
    url = (
        f"pyspark://local[1]?warehouse={tmp_path}/wh&shuffle_partitions=2"
        "&spark.driver.memory=1g&spark.driver.extraJavaOptions=-Dx=1"
    )
    plan = plan_spark(url)
    assert plan.url.master == "local[1]" and plan.lock == tmp_path / "wh"
    assert plan.settings["spark.sql.shuffle.partitions"] == "2"
    assert plan.settings["spark.driver.memory"] == "1g"
    java = plan.settings["spark.driver.extraJavaOptions"]
    assert java.startswith("-Dx=1 ") and "derby.system.home" in java


def test_in_memory_catalog_is_one_process_in_a_temporary_warehouse() -> None:
    plan = plan_spark("pyspark://local[2]?catalog=in-memory")
    assert plan.lock is None and plan.url.catalog == "in-memory"
    assert plan.settings["spark.sql.catalogImplementation"] == "in-memory"
    assert Path(plan.warehouse).name.startswith("tenure-spark-")
    assert plan_spark("pyspark://local[2]?catalog=in-memory").warehouse == plan.warehouse


def test_unknown_catalog_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="catalog 'derby'") as info:
        plan_spark("pyspark://local[2]?catalog=derby")
    assert "hive, in-memory" in (info.value.hint or "")


def test_remote_warehouse_needs_a_metastore() -> None:
    with pytest.raises(StoreError, match="names no metastore") as info:
        plan_spark("pyspark://local[2]?warehouse=s3a://bucket/wh")
    assert "spark.hadoop.hive.metastore.uris" in (info.value.hint or "")
    plan = plan_spark(
        "pyspark://local[2]?warehouse=s3a://bucket/wh"
        "&spark.hadoop.hive.metastore.uris=thrift://meta:9083"
    )
    assert plan.lock is None and plan.settings["spark.sql.warehouse.dir"] == "s3a://bucket/wh"
    assert "spark.hadoop.javax.jdo.option.ConnectionURL" not in plan.settings


def test_the_lock_is_held_once_per_process(tmp_path: Path) -> None:
    hold_warehouse_lock(tmp_path, store_url="u")
    hold_warehouse_lock(tmp_path, store_url="u")  # the same process: no conflict
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    release_warehouse_lock(tmp_path)
    release_warehouse_lock(tmp_path)


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A warehouse whose lock another process holds until the test ends."""
    warehouse = tmp_path / "wh"
    code = (
        "import sys; from pathlib import Path; from tenure.store.spark import "
        f"hold_warehouse_lock; hold_warehouse_lock(Path({str(warehouse)!r}), store_url='x'); "
        "print('locked', flush=True); sys.stdin.read()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    try:
        yield warehouse, holder.pid
    finally:
        holder.communicate(timeout=30)


@pytest.mark.slow
def test_second_process_on_a_warehouse_is_told_who_holds_it(locked: tuple[Path, int]) -> None:
    pytest.importorskip("pyspark")
    warehouse, pid = locked
    url = f"pyspark://local[2]?warehouse={warehouse}"
    with pytest.raises(StoreLockedError) as info:
        Store(url)
    assert info.value.message == (
        f"Cannot open the store {url!r}: the Spark warehouse {warehouse} is in use by another "
        f"process (pid {pid})."
    )
    assert info.value.transient


def test_cli_on_a_locked_warehouse_prints_the_message(
    locked: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setattr(err_console, "width", 400)
    warehouse, pid = locked
    result = runner.invoke(
        app, ["store", "info", "--store", f"pyspark://local[2]?warehouse={warehouse}"]
    )
    assert result.exit_code == 1
    assert f"is in use by another process (pid {pid})" in result.output
    assert "one process at a time" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ("in-memory", "uses the in-memory catalog, which cannot reopen the tables already in"),
        ("hive", "holds tables (_tenure_migrations, orders) but no catalog (metastore_db)"),
    ],
)
def test_tables_the_catalog_cannot_reopen_are_refused(
    tmp_path: Path, catalog: str, message: str
) -> None:
    """Refused before Spark starts; in a new process (this one may run a Spark session)."""
    pytest.importorskip("pyspark")
    for table in ("orders", "_tenure_migrations"):
        (tmp_path / "wh" / table).mkdir(parents=True)
    url = f"pyspark://local[2]?catalog={catalog}&warehouse={tmp_path / 'wh'}"
    code = "import sys; from tenure.cli import main; sys.argv[0] = 'tenure'; main()"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env["TENURE_CONFIG"] = str(tmp_path / "none.toml")
    env["COLUMNS"] = "400"  # Rich wraps at the terminal width
    done = subprocess.run(
        [sys.executable, "-c", code, "store", "info", "--store", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr

"""The store: opening, migrations, upgrades, refusals, inserts cast to the canonical schema."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pytest

from tenure import Store
from tenure.errors import StoreLockedError, StoreVersionError, UnknownTableError
from tenure.store.migrations import LATEST_VERSION, MIGRATIONS_TABLE, add_column, migrate
from tenure.store.schema import CORE_TABLES, TABLES, V2_TABLES, V3_TABLES, V4_TABLES
from tests.conftest import comparable


def test_new_store_has_every_canonical_table_at_latest_version(store: Store) -> None:
    assert store.version == LATEST_VERSION
    assert store.up_to_date
    assert set(TABLES) <= set(store.con.list_tables())
    assert store.counts() == dict.fromkeys(TABLES, 0)
    for name, spec in TABLES.items():
        assert comparable(store.table(name).schema()) == comparable(spec.schema), name


def test_default_store_is_tenure_duckdb_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Store() as st:
        assert st.url == "duckdb://tenure.duckdb"
        assert st.location == str(tmp_path / "tenure.duckdb")
    assert (tmp_path / "tenure.duckdb").is_file()


def test_reopening_applies_nothing_and_keeps_rows(store_url: str) -> None:
    with Store(store_url) as st:
        assert [m.version for m in st.migrations_applied] == list(range(1, LATEST_VERSION + 1))
        st.insert("fx_rates", pa.table({"currency": ["EUR"], "rate": [Decimal("1.08")]}))
    with Store(store_url) as st:
        assert st.migrations_applied == []
        assert st.count("fx_rates") == 1
        log = st.con.table(MIGRATIONS_TABLE).to_pandas()
        assert log.version.tolist() == list(range(1, LATEST_VERSION + 1))


def test_version_1_store_upgrades_itself(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = ibis.duckdb.connect(str(path))
    migrate(con, store_url=str(path), target=1)
    assert {t.name for t in V2_TABLES}.isdisjoint(con.list_tables())
    con.disconnect()
    with Store(f"duckdb://{path}") as st:
        assert [m.version for m in st.migrations_applied] == list(range(2, LATEST_VERSION + 1))
        assert st.version == LATEST_VERSION
        assert {t.name for t in CORE_TABLES + V2_TABLES + V3_TABLES + V4_TABLES} <= set(
            st.con.list_tables()
        )


def _v4_store_with_an_import(path: Path) -> None:
    con = ibis.duckdb.connect(str(path))
    migrate(con, store_url=str(path), target=4)
    assert "suppressed" not in con.table("imports").columns  # as version 4 made it
    row = {"import_id": "imp-old", "entity": "orders", "rows_read": 3, "stored": 2}
    con.con.execute(
        "INSERT INTO imports (import_id, entity, rows_read, stored, already_present, "
        "quarantined) VALUES ($import_id, $entity, $rows_read, $stored, 0, 1)",
        row,
    )
    con.disconnect()


def test_version_4_import_log_gains_a_suppressed_column(tmp_path: Path) -> None:
    path = tmp_path / "v4.duckdb"
    _v4_store_with_an_import(path)
    with Store(f"duckdb://{path}") as st:
        assert [m.version for m in st.migrations_applied] == list(range(5, LATEST_VERSION + 1))
        assert comparable(st.table("imports").schema()) == comparable(TABLES["imports"].schema)
        rows = st.table("imports").to_pyarrow().to_pylist()
        assert [(r["import_id"], r["stored"], r["quarantined"], r["suppressed"]) for r in rows] == [
            ("imp-old", 2, 1, 0)
        ]
        assert "_tenure_migrate_imports" not in st.con.list_tables()


def test_version_6_import_log_gains_an_updated_column(tmp_path: Path) -> None:
    """Migration 7: runs logged before it updated nothing (0)."""
    path = tmp_path / "v6.duckdb"
    _v4_store_with_an_import(path)
    con = ibis.duckdb.connect(str(path))
    migrate(con, store_url=str(path), target=6)
    assert "updated" not in con.table("imports").columns  # as version 6 made it
    con.disconnect()
    with Store(f"duckdb://{path}") as st:
        assert [m.version for m in st.migrations_applied] == list(range(7, LATEST_VERSION + 1))
        assert comparable(st.table("imports").schema()) == comparable(TABLES["imports"].schema)
        rows = st.table("imports").to_pyarrow().to_pylist()
        assert [(r["import_id"], r["stored"], r["suppressed"], r["updated"]) for r in rows] == [
            ("imp-old", 2, 0, 0)
        ]
        assert "_tenure_migrate_imports" not in st.con.list_tables()


def test_version_9_products_gain_active_and_inventory_unknown(tmp_path: Path) -> None:
    """Migration 10: products stored before it are neither active nor inactive, their stock
    unknown (null, never 0 or false); new rows carry both flags."""
    path = tmp_path / "v9.duckdb"
    con = ibis.duckdb.connect(str(path))
    migrate(con, store_url=str(path), target=9)
    assert {"active", "inventory"}.isdisjoint(con.table("products").columns)
    con.con.execute(
        "INSERT INTO products (product_id, title, price, currency) "
        "VALUES ('P1', 'Linen Shirt', 49.99, 'EUR')"
    )
    con.disconnect()
    with Store(f"duckdb://{path}") as st:
        assert [m.version for m in st.migrations_applied] == list(range(10, LATEST_VERSION + 1))
        assert comparable(st.table("products").schema()) == comparable(TABLES["products"].schema)
        st.insert(
            "products",
            pa.table({"product_id": ["P2"], "active": [False], "inventory": [0]}),
        )
        rows = st.table("products").order_by("product_id").to_pyarrow().to_pylist()
        assert [(r["product_id"], r["title"], r["active"], r["inventory"]) for r in rows] == [
            ("P1", "Linen Shirt", None, None),
            ("P2", None, False, 0),
        ]
        assert "_tenure_migrate_products" not in st.con.list_tables()


def test_version_10_gains_feedback_referrals_and_referral_columns(tmp_path: Path) -> None:
    """Migration 11: the feedback and referrals tables; customers and orders stored before
    it keep their rows, with ``referred_by`` / ``referral_code`` unknown (null)."""
    path = tmp_path / "v10.duckdb"
    con = ibis.duckdb.connect(str(path))
    migrate(con, store_url=str(path), target=10)
    assert {"feedback", "referrals"}.isdisjoint(con.list_tables())
    con.con.execute("INSERT INTO customers (customer_id, email) VALUES ('C1', 'a@x.com')")
    con.con.execute("INSERT INTO orders (order_id, customer_id, total) VALUES ('O1', 'C1', 10)")
    con.disconnect()
    with Store(f"duckdb://{path}") as st:
        assert [m.version for m in st.migrations_applied] == list(range(11, LATEST_VERSION + 1))
        for name in ("feedback", "referrals", "customers", "orders"):
            assert comparable(st.table(name).schema()) == comparable(TABLES[name].schema)
        customers = st.table("customers").to_pyarrow().to_pylist()
        assert [(r["customer_id"], r["email"], r["referred_by"]) for r in customers] == [
            ("C1", "a@x.com", None)
        ]
        orders = st.table("orders").to_pyarrow().to_pylist()
        assert [(r["order_id"], r["referral_code"]) for r in orders] == [("O1", None)]


@pytest.mark.parametrize("stop_after", ["copy", "drop", "create"])
def test_interrupted_add_column_finishes_without_losing_rows(
    tmp_path: Path, stop_after: str
) -> None:
    """The migration's steps, cut short after each one, then run again."""
    path = tmp_path / "v4.duckdb"
    _v4_store_with_an_import(path)
    con = ibis.duckdb.connect(str(path))
    old = con.table("imports")
    con.create_table("_tenure_migrate_imports", old.mutate(suppressed=ibis.literal(0, "int64")))
    if stop_after in ("drop", "create"):
        con.drop_table("imports")
    if stop_after == "create":
        con.create_table("imports", schema=TABLES["imports"].schema)
    add_column(con, "imports", "suppressed", "int64", 0)
    rows = con.table("imports").to_pyarrow().to_pylist()
    assert [(r["import_id"], r["suppressed"]) for r in rows] == [("imp-old", 0)]
    assert "_tenure_migrate_imports" not in con.list_tables()
    con.disconnect()


def test_store_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    with Store(f"duckdb://{path}") as st:
        st.con.raw_sql(
            f"INSERT INTO {MIGRATIONS_TABLE} VALUES ({LATEST_VERSION + 1}, 'future', now())"
        )
    with pytest.raises(StoreVersionError, match=f"version {LATEST_VERSION + 1}") as info:
        Store(f"duckdb://{path}")
    assert "Upgrade Tenure" in str(info.value.hint)


def test_locked_store_is_a_transient_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    Store(f"duckdb://{path}").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as info:
            Store(f"duckdb://{path}")
        assert info.value.transient
        assert "another process holds the file" in info.value.message
        assert f"PID {holder.pid})" in info.value.message  # DuckDB names the holder
        assert "serve" not in str(info.value)  # no such command yet
    finally:
        holder.kill()
        holder.wait()


def test_insert_casts_to_schema_and_fills_missing_columns(store: Store) -> None:
    rows = pa.table(
        {
            "total": ["12.3456", "7"],
            "order_id": ["A", "B"],
            "currency": ["USD", "USD"],
        }
    )
    store.insert("orders", rows)
    df = store.table("orders").order_by("order_id").to_pandas()
    assert df.order_id.tolist() == ["A", "B"]
    assert df.total.tolist() == [Decimal("12.3456"), Decimal("7.0000")]
    assert df.customer_id.isna().all()
    assert store.table("orders").schema()["total"] == TABLES["orders"].schema["total"]


def test_money_is_decimal_never_float() -> None:
    for spec in TABLES.values():
        for column, dtype in spec.schema.items():
            assert not (dtype.is_floating() and column in {"total", "cost", "price", "unit_price"})
    assert TABLES["orders"].schema["total"].is_decimal()


def test_unknown_table_names_the_known_ones(store: Store) -> None:
    with pytest.raises(UnknownTableError, match="'ordres'") as info:
        store.table("ordres")
    assert "orders" in str(info.value.hint)


def test_truncate_keeps_the_table(store: Store) -> None:
    store.insert("fx_rates", pa.table({"currency": ["EUR"], "rate": [Decimal("1.1")]}))
    store.truncate("fx_rates")
    assert store.count("fx_rates") == 0
    assert comparable(store.table("fx_rates").schema()) == comparable(TABLES["fx_rates"].schema)


def test_bare_duckdb_path_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bare.duckdb"
    with Store(str(path)) as st:
        assert st.is_duckdb
    assert duckdb.connect(str(path)).sql(f"select count(*) from {MIGRATIONS_TABLE}").fetchone()


def test_store_facts_are_set_replaced_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "meta.duckdb"
    with Store(f"duckdb://{path}") as st:
        assert st.meta("reporting_currency") is None
        st.set_meta("reporting_currency", "GBP", by="first import")
        st.set_meta("as_of", "2025-12-31", by="demo")
        st.set_meta("reporting_currency", "EUR", by="tenure store set")
    with Store(f"duckdb://{path}") as st:
        assert st.metas() == {"as_of": "2025-12-31", "reporting_currency": "EUR"}
        st.set_meta("as_of", None, by="test")
        assert st.metas() == {"reporting_currency": "EUR"}


# -- Store(url): the URL forms, and settings loaded for that store ---------------------------
@pytest.mark.parametrize(
    ("given", "url", "file"),
    [
        ("shop", "duckdb://shop", "shop"),  # a bare path is a DuckDB file, used as written
        ("shop.duckdb", "duckdb://shop.duckdb", "shop.duckdb"),
        ("duckdb://shop.duckdb", "duckdb://shop.duckdb", "shop.duckdb"),
        ("data/shop.db", "duckdb://data/shop.db", "data/shop.db"),
    ],
)
def test_store_url_forms_open_a_duckdb_file(
    given: str, url: str, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Store(given) as st:
        assert (st.url, st.location) == (url, str(tmp_path / file))
        assert st.settings.store_url == url
        assert st.backend_name == "duckdb"
        st.insert("fx_rates", pa.table({"currency": ["EUR"], "rate": [Decimal("1.08")]}))
    assert (tmp_path / file).is_file()
    with Store(url) as st:  # the same file under its URL
        assert st.count("fx_rates") == 1


def test_cli_store_option_and_library_open_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tenure.cli import app

    monkeypatch.chdir(tmp_path)
    with Store("shop") as st:
        st.insert("fx_rates", pa.table({"currency": ["EUR"], "rate": [Decimal("1.08")]}))
    result = CliRunner().invoke(app, ["store", "info", "--store", "shop", "--json"])
    assert result.exit_code == 0, result.output
    assert '"location": "' + str(tmp_path / "shop") + '"' in result.output
    assert '"fx_rates": 1' in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop"]


def test_store_url_loads_the_settings_for_that_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Store(url)`` loads the settings for that store, as ``load_settings(store_url=url)``
    does: tenure.toml and TENURE_* still apply; the URL given wins over the store_url
    setting."""
    from tenure import load_settings

    config = tmp_path / "tenure.toml"
    config.write_text('store_url = "duckdb://other.duckdb"\nreporting_currency = "EUR"\n')
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    monkeypatch.setenv("TENURE_TIMEZONE", "Europe/Paris")
    url = f"duckdb://{tmp_path / 'shop.duckdb'}"
    with Store(url) as st:
        assert st.settings == load_settings(store_url=url)
        assert (st.url, st.settings.store_url) == (url, url)
        assert (st.settings.reporting_currency, st.settings.timezone) == ("EUR", "Europe/Paris")
    monkeypatch.chdir(tmp_path)
    with Store() as st:  # no URL: the setting's
        assert st.url == "duckdb://other.duckdb"
        assert st.location == str(tmp_path / "other.duckdb")


def test_bare_store_url_setting_is_a_duckdb_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TENURE_STORE_URL", "shop")
    with Store() as st:
        assert (st.url, st.location) == ("duckdb://shop", str(tmp_path / "shop"))


@pytest.mark.spark
@pytest.mark.slow
def test_store_url_opens_a_spark_store(spark_store: Store) -> None:
    assert spark_store.url.startswith("pyspark://local[2]?warehouse=")
    assert spark_store.settings.store_url == spark_store.url
    assert spark_store.backend_name == "pyspark"


def test_exists_sees_canonical_derived_and_scratch_tables(tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'e.duckdb'}") as s:
        assert s.exists("orders") and not s.exists("customer_facts")
        scratch = s.scratch_table("probe", schema=ibis.schema({"a": "int64"}))
        name = scratch.get_name()
        assert s.exists(name) and name in s.tables()  # a temporary table too
        s.drop(name)
        assert not s.exists(name)
        assert not s.exists("orders' OR 1=1 --")  # a bound value, never SQL text

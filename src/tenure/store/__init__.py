"""The store: canonical tables on an Ibis backend (DuckDB file by default), with migrations."""

from tenure.store.cache import cached, refresh_cached
from tenure.store.currency import minor_unit, reporting_currency, round_money
from tenure.store.keyed import KeyedRead
from tenure.store.migrations import LATEST_VERSION, MIGRATIONS, migrate
from tenure.store.schema import TABLES, TableSpec
from tenure.store.store import Store, connect

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "TABLES",
    "KeyedRead",
    "Store",
    "TableSpec",
    "cached",
    "connect",
    "migrate",
    "minor_unit",
    "refresh_cached",
    "reporting_currency",
    "round_money",
]

"""Shared fixtures: real DuckDB files in a temporary directory, never the working directory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tenure import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's tenure.toml or TENURE_* variables."""
    import os

    for key in list(os.environ):
        if key.startswith("TENURE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TENURE_CONFIG", str(tmp_path / "no-such-tenure.toml"))


@pytest.fixture(scope="session")
def spark_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One PySpark local-mode store for the whole run (a Spark session takes ~5 s to start;
    its catalog is shared, so Spark tests look only at their own rows)."""
    pytest.importorskip("pyspark")
    warehouse = tmp_path_factory.mktemp("warehouse")
    url = f"pyspark://local[2]?warehouse={warehouse}"
    with Store(url) as store:
        yield store


def copy_tables(source: Store, target: Store, names: Iterable[str]) -> None:
    """Canonical tables ``names`` of ``target`` emptied, then given the rows of ``source``'s
    (a DuckDB store's rows copied into the shared Spark store, for parity tests)."""
    for name in names:
        target.truncate(name)
        rows = source.table(name).to_pyarrow()
        if rows.num_rows:
            target.insert(name, rows)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"duckdb://{tmp_path / 'store.duckdb'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as st:
        yield st


def comparable(schema: object) -> dict[str, str]:
    """A schema as {column: type} with timestamp precision ignored (backends report 6 or None)."""
    import ibis.expr.datatypes as dt

    out = {}
    for name, dtype in schema.items():  # type: ignore[attr-defined]
        out[name] = "timestamp" if isinstance(dtype, dt.Timestamp) else str(dtype)
    return out


CDNOW_MASTER = FIXTURES / "cdnow" / "CDNOW_master.txt"


@pytest.fixture(scope="session")
def cdnow_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """CDNOW master imported once per run (``--preset cdnow``) into a real DuckDB file; tests
    that change it work on a copy. Its clock is frozen at the data's end (store fact
    ``as_of`` = 1998-06-30, as the literature analyses it), so the published numbers hold
    whatever day the tests run; a real user passes ``--as-of`` or sets ``as_of``."""
    from tenure.ingest import import_file

    url = f"duckdb://{tmp_path_factory.mktemp('cdnow') / 'cdnow.duckdb'}"
    with Store(url) as store:
        import_file(store, "orders", [CDNOW_MASTER], preset="cdnow")
        freeze_clock(store)
    return url


def freeze_clock(store: Store) -> None:
    """Record the day of the store's latest order as its frozen clock (store fact ``as_of``):
    a historical export analysed as of its end, not as of today."""
    latest = store.table("orders").ordered_at.max().execute()
    store.set_meta("as_of", latest.date().isoformat(), by="tests: historical export")


@pytest.fixture
def cdnow(cdnow_url: str) -> Iterator[Store]:
    with Store(cdnow_url) as store:
        yield store


@pytest.fixture(scope="session")
def demo_url(ran_demo_url: str) -> str:
    """A small demo store (800 customers, one year, seed 7) brought up to date by
    ``tenure run`` once per test run: the store the CLI's rendering and lookup tests print
    from. Tests that change it work on a copy (``shutil.copy`` of the file). The same store
    is ``ran_demo_url``, its name where a package has a ``demo_url`` of its own
    (tests/analytics)."""
    return ran_demo_url


@pytest.fixture(scope="session")
def ran_demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The store of ``demo_url`` (:func:`tests.cli.cli_examples.build_demo`)."""
    from tests.cli.cli_examples import build_demo

    return build_demo(f"duckdb://{tmp_path_factory.mktemp('demo') / 'demo.duckdb'}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A Spark test is a slow test: each pays a Spark session's start and Spark's per-query
    overhead (seconds), so the fast lane (``pytest -m "not slow"``, docs/testing.md) leaves
    them to the full run."""
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(pytest.mark.slow)


def examples(full: int, fast: int = 5) -> pytest.MarkDecorator:
    """Parametrize a property test's ``examples``: ``fast`` Hypothesis examples in the fast
    lane, ``full`` in the full suite (that case is marked slow). The test applies them with
    ``settings(max_examples=examples)`` to its ``@given`` check."""
    return pytest.mark.parametrize(
        "examples",
        [
            pytest.param(fast, id=f"{fast}-examples"),
            pytest.param(full, id=f"{full}-examples", marks=pytest.mark.slow),
        ],
    )

"""The as-of day (issue 11, item 2): today (or --as-of, the `as_of` setting, the store's frozen
clock), never the largest date in the data, so one order typed as 2099 changes nothing.

"Today" is frozen through :func:`tenure.analytics.base.today`, the one clock every default
reads, so these tests do not depend on the day they run."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tenure import Store, load_settings
from tenure.analytics import as_of_note, customer_facts, kpis, store_end
from tenure.analytics import base as analytics_base
from tenure.analytics.status import status_counts
from tenure.cli import app
from tenure.errors import StoreError
from tenure.pipeline import refresh

TODAY = date(2025, 7, 15)
LAST = date(2025, 6, 30)


@pytest.fixture(autouse=True)
def _frozen_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analytics_base, "today", lambda: TODAY)


def _orders(rows: list[tuple[str, str, datetime]]) -> pa.Table:
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "ordered_at": pa.array([r[2] for r in rows], pa.timestamp("us")),
            "total": pa.array(["40.00"] * len(rows)).cast(pa.decimal128(18, 4)),
            "currency": ["USD"] * len(rows),
        }
    )


def _fill(store: Store) -> None:
    """20 customers, each buying every 30 days for a year up to 2025-06-30; then one order
    dated 2099-01-05 inserted directly (as a typo that bypassed the importer would be)."""
    rows = []
    for c in range(20):
        for k in range(12):
            day = LAST - timedelta(days=30 * k + c)
            rows.append((f"o{c}-{k}", f"c{c:02d}", datetime(day.year, day.month, day.day, 12)))
    store.insert("orders", _orders(rows))
    store.insert("orders", _orders([("typo", "c00", datetime(2099, 1, 5, 9))]))


@pytest.fixture
def shop_path(tmp_path: Path) -> Path:
    path = tmp_path / "shop.duckdb"
    with Store(f"duckdb://{path}") as st:
        _fill(st)
    return path


@pytest.fixture
def shop(shop_path: Path) -> Store:
    url = f"duckdb://{shop_path}"
    return Store(url)


@pytest.mark.slow
def test_a_2099_order_does_not_move_the_present(shop: Store) -> None:
    with shop:
        assert store_end(shop) == TODAY
        result = refresh(shop)
        assert result.as_of == TODAY
        rows = status_counts(shop).to_dict("records")
        statuses = {r["status"]: r["persons"] for r in rows}
        assert "lapsed" not in statuses and sum(statuses.values()) == 20, statuses
        facts = customer_facts(shop).to_pandas().set_index("person_id")
        assert facts.loc["c00", "orders"] == 12  # the 2099 order is not one of them
        assert facts["days_since_last_order"].max() == 15 + 19
        months = kpis(shop, grain="month")
        assert months.attrs["as_of"] == TODAY
        assert months["period"].iloc[-1] == "2025-07" and len(months) == 13
        note = as_of_note(shop)
    assert note == (
        "1 order(s) are dated after today (2025-07-15), the latest on 2099-01-05: they are "
        "not analysed. Fix their dates and import them again."
    )


def test_the_setting_and_the_store_fact_freeze_the_clock(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 's.duckdb'}"
    with Store(url) as store:
        _fill(store)
        store.set_meta("as_of", "2025-06-30", by="demo")
        assert store_end(store) == LAST
    with Store(url, settings=load_settings(store_url=url, as_of="2025-01-31")) as store:
        assert store_end(store) == date(2025, 1, 31)  # the setting beats the store fact
        store.set_meta("as_of", None, by="test")
        assert store_end(store) == date(2025, 1, 31)
    with Store(url) as store:
        assert store_end(store) == TODAY
        store.set_meta("as_of", "30/06/2025", by="test")
        with pytest.raises(StoreError, match="'30/06/2025', not a date"):
            store_end(store)


def test_stale_data_is_named_once_with_the_as_of_to_pass(shop: Store) -> None:
    with shop:
        note = as_of_note(shop, date(2026, 1, 1))
        recent = as_of_note(shop, LAST)
    assert recent is not None and recent.startswith("1 order(s) are dated after today")
    assert note is not None
    assert note.startswith(
        "The latest order (2025-06-30) is 185 days before the as-of day 2026-01-01: "
        "customers are judged as of that day, so most look lapsed. To analyse the data as of "
        "its end, pass --as-of 2025-06-30"
    )


@pytest.mark.slow
def test_commands_use_today_and_print_the_note_on_stderr(shop_path: Path) -> None:
    runner = CliRunner()
    store = str(shop_path)
    for command in (["refresh", "--json", "--no-progress"], ["status", "--json"], ["kpis"]):
        result = runner.invoke(app, [*command, "--store", store])
        assert result.exit_code == 0, result.output
        assert result.stderr.count("dated after today (2025-07-15)") == 1, command
        assert "2099" not in result.stdout
    doc = json.loads(runner.invoke(app, ["status", "--json", "--store", store]).stdout)
    assert "lapsed" not in {d["status"] for d in doc}
    refreshed = json.loads(runner.invoke(app, ["refresh", "--json", "--store", store]).stdout)
    assert refreshed["as_of"] == "2025-07-15"


def test_the_demo_records_its_last_day_as_the_frozen_clock(tmp_path: Path) -> None:
    from tenure.demo import generate_demo

    url = f"duckdb://{tmp_path / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=30, seed=2, start=date(2024, 3, 1), days=60)
        assert store.meta("as_of") == "2024-04-29"
        assert store_end(store) == date(2024, 4, 29) and as_of_note(store) is None

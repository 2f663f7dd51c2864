"""Degenerate stores build every page without a crash, unknown numbers unknown (None), never
0: an empty store, one customer with one order, a store without churn (every buyer of last
year came back), and a single-currency EUR store."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tenure import Store
from tenure.dashboard.model import Metric, Page
from tenure.dashboard.pages import PAGES, build_page, default_window
from tenure.dashboard.pages import profile as profile_page
from tenure.identity import resolve_identities
from tenure.ingest import import_file

#: Each store builds all eight pages (~13 s on a loaded 2-core machine): the full run checks them.
pytestmark = pytest.mark.slow


def write_orders(path: Path, rows: list[tuple[str, str, date, str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "ordered_at", "currency", "total"])
        for order, customer, day, currency, total in rows:
            at = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
            w.writerow([order, customer, at.isoformat(sep=" "), currency, total])
    return path


def build_all(store: Store) -> dict[str, Page]:
    window = default_window(store)
    return {key: build_page(key, store, store.settings, window) for key in PAGES}


def cards(page: Page) -> dict[str, Metric]:
    return {m.key: m for s in page.sections for m in s.metrics}


def freeze(store: Store, day: date) -> None:
    store.set_meta("as_of", day.isoformat(), by="tests: dashboard")


def test_an_empty_store_builds_every_page(store: Store) -> None:
    pages = build_all(store)
    overview = cards(pages["overview"])
    assert overview["revenue"].value is None or overview["revenue"].value == 0
    assert overview["cac"].value is None and overview["clv"].value is None
    notes = [n for s in pages["predictions"].sections for n in s.notes]
    assert any("No predictions yet" in n for n in notes)
    assert not pages["cohorts"].sections[0].charts[0].series


def test_one_customer(tmp_path: Path, store: Store) -> None:
    day = date(2024, 3, 10)
    import_file(
        store, "orders", [write_orders(tmp_path / "o.csv", [("o1", "c1", day, "USD", "42.50")])]
    )
    freeze(store, day)
    pages = build_all(store)
    overview = cards(pages["overview"])
    assert overview["revenue"].value == 42.5
    assert overview["orders"].value == 1 and overview["new_customers"].value == 1
    assert overview["retention_rate"].value is None  # no buyer in the previous month
    assert overview["cac"].value is None  # no spend: unknown
    notes = [n for s in pages["overview"].sections for n in s.notes]
    assert any("No marketing spend" in n for n in notes)
    rfm = next(t for s in pages["customers"].sections for t in s.tables if t.key == "rfm")
    assert sum(r[4] for r in rfm.rows if isinstance(r[4], int)) == 1
    resolve_identities(store)
    profile = profile_page.build(store, store.settings, default_window(store), "c1")
    orders = next(t for s in profile.sections for t in s.tables if t.key == "orders")
    assert [r[0] for r in orders.rows] == ["o1"]
    assert cards(profile)["orders"].value is None  # no refresh yet: unknown, not 0


def test_no_churn(tmp_path: Path, store: Store) -> None:
    """Every customer buys every month for two years: retention 1, churn 0, and the simple
    CLV unknown (an unbounded retention time is not capped)."""
    rows = []
    for month in range(24):
        day = date(2023 + month // 12, month % 12 + 1, 5)
        rows += [(f"o{month}-{c}", f"c{c}", day, "USD", "10.00") for c in range(3)]
    import_file(store, "orders", [write_orders(tmp_path / "o.csv", rows)])
    freeze(store, date(2024, 12, 31))
    overview = cards(build_all(store)["overview"])
    assert overview["retention_rate"].value == 1.0
    assert overview["churn_rate"].value == 0.0
    assert overview["clv"].value is None and overview["clv_cac"].value is None


@pytest.mark.parametrize("currency", ["EUR"])
def test_a_single_currency_store_reports_in_it(tmp_path: Path, store: Store, currency: str) -> None:
    day = date(2024, 5, 20)
    rows = [("o1", "c1", day, currency, "19.99"), ("o2", "c2", day, currency, "5.01")]
    import_file(store, "orders", [write_orders(tmp_path / "o.csv", rows)])
    freeze(store, day)
    pages = build_all(store)
    assert {p.currency for p in pages.values()} == {currency}
    assert cards(pages["overview"])["revenue"].value == 25.0

"""The store's currency, unknown money as null, and the money warnings (issue 11, items 1, 4).

A generated one-year GBP shop without fx_rates used to report every amount as 0 (its orders
were "not USD"); it now reports in GBP, decided at its first import of orders."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store, load_settings
from tenure.analytics import customer_facts, kpis
from tenure.analytics.money import money_report, money_warnings
from tenure.analytics.rfm import rfm
from tenure.ingest import import_file
from tenure.store import reporting_currency, round_money
from tenure.store.currency import resolve_reporting_currency, set_reporting_currency

START = date(2024, 1, 1)


def gbp_shop(path: Path, *, customers: int = 60, orders: int = 400, seed: int = 11) -> Path:
    """A one-year GBP shop: ``orders`` orders of ``customers`` customers, amounts in pence
    (the float sum of such amounts carries binary noise, the decimal sum does not)."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, customers, size=orders)
    day = rng.integers(0, 365, size=orders)
    pence = rng.integers(99, 250_00, size=orders)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "ordered_at", "currency", "total"])
        for i in range(orders):
            at = datetime.combine(START + timedelta(days=int(day[i])), datetime.min.time())
            w.writerow([f"o{i}", f"c{who[i]}", at.isoformat(sep=" "), "GBP", _pounds(pence[i])])
    return path


def _pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def exact_totals(path: Path) -> pd.DataFrame:
    """The file's orders with their totals as exact decimals."""
    frame = pd.read_csv(path, dtype=str)
    frame["total"] = [Decimal(v) for v in frame["total"]]
    frame["day"] = [date.fromisoformat(v[:10]) for v in frame["ordered_at"]]
    return frame


@pytest.fixture
def gbp(tmp_path: Path, store: Store) -> Iterator[tuple[Store, Path]]:
    path = gbp_shop(tmp_path / "gbp.csv")
    import_file(store, "orders", [path])
    yield store, path


@pytest.mark.slow
def test_one_currency_store_reports_in_it(gbp: tuple[Store, Path]) -> None:
    store, path = gbp
    exact = exact_totals(path)
    assert store.meta("reporting_currency") == "GBP"
    assert resolve_reporting_currency(store).source == "store"
    k = kpis(store, as_of=date(2024, 12, 31))
    assert k.attrs["currency"] == "GBP"
    assert round_money(k["revenue"].sum(), "GBP") == sum(exact["total"])
    facts = customer_facts(store).to_pandas().set_index("person_id")
    per_person = exact.groupby("customer_id")["total"].sum()
    for person, total in per_person.items():
        assert round_money(facts.loc[person, "revenue"], "GBP") == total
        assert facts.loc[person, "margin"] == pytest.approx(float(total) * 0.3, abs=1e-6)
    scored = rfm(store).to_pandas().set_index("person_id")
    assert scored["margin"].notna().all()
    assert scored["margin"].to_dict() == pytest.approx(facts["margin"].to_dict(), abs=1e-9)
    assert money_warnings(store) == []
    assert money_warnings(store, spend=True) == [
        "No marketing spend recorded: spend, CAC, CLV:CAC and payback are blank. "
        "Import it with `tenure import spend FILE`."
    ]
    assert k["cac"].isna().all() and k["spend"].isna().all()


def test_first_import_decides_once_and_the_setting_wins(tmp_path: Path, store_url: str) -> None:
    path = gbp_shop(tmp_path / "gbp.csv", orders=20)
    eur = tmp_path / "eur.csv"
    eur.write_text("order_id,customer_id,ordered_at,currency,total\nx1,z,2024-03-01,EUR,5.00\n")
    with Store(store_url) as store:
        assert reporting_currency(store) == "USD"  # nothing imported yet: the default
        result = import_file(store, "orders", [path])
        assert result.currency_note == (
            "Reporting currency: GBP (the currency of every order), recorded in the store."
        )
        again = import_file(store, "orders", [eur])  # decided already: not changed
        assert again.currency_note is None
        assert reporting_currency(store) == "GBP"
        set_reporting_currency(store, "eur")
        assert resolve_reporting_currency(store).set_by == "tenure store set"
        assert reporting_currency(store) == "EUR"
    settings = load_settings(store_url=store_url, reporting_currency="usd")
    with Store(store_url, settings=settings) as store:
        assert resolve_reporting_currency(store).source == "setting"
        assert reporting_currency(store) == "USD"


def _mixed(store: Store) -> None:
    rows = [
        ("g1", "ann", "2024-01-05", "GBP", "10.10"),
        ("g2", "ann", "2024-02-05", "GBP", "20.20"),
        ("g3", "bob", "2024-02-07", "GBP", "0.30"),
        ("e1", "eve", "2024-03-01", "EUR", "5.00"),
        ("e2", "eve", "2024-03-09", "EUR", "7.00"),
    ]
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": [r[0] for r in rows],
                "customer_id": [r[1] for r in rows],
                "ordered_at": [datetime.fromisoformat(r[2]) for r in rows],
                "currency": [r[3] for r in rows],
                "total": [Decimal(r[4]) for r in rows],
            }
        ),
    )


def test_unconvertible_orders_are_null_and_named(store: Store) -> None:
    _mixed(store)
    set_reporting_currency(store, "GBP")
    k = kpis(store, as_of=date(2024, 3, 31)).set_index("period")
    assert k.loc["2024-03", "orders"] == 2
    assert pd.isna(k.loc["2024-03", "revenue"]) and pd.isna(k.loc["2024-03", "aov"])
    assert k.loc["2024-02", "revenue"] == pytest.approx(20.5)
    facts = customer_facts(store).to_pandas().set_index("person_id")
    assert pd.isna(facts.loc["eve", "revenue"]) and pd.isna(facts.loc["eve", "margin"])
    assert facts.loc["ann", "revenue"] == pytest.approx(30.3)
    expected = (
        "2 of 5 orders could not be converted to GBP (2 in EUR): no fx_rates rate on or before "
        "their day. Their revenue and margin are blank and left out of every money figure. "
        "Import fx_rates for EUR (`tenure import fx_rates FILE`), or report in their currency "
        "(`tenure store set reporting-currency EUR` or TENURE_REPORTING_CURRENCY=EUR)."
    )
    assert k.attrs["warnings"][0] == expected
    assert money_warnings(store) == [expected]
    # a rate from 2024-03-05 converts the order of the 9th, not the one of the 1st
    store.insert(
        "fx_rates",
        pa.table({"date": [date(2024, 3, 5)], "currency": ["EUR"], "rate": [Decimal("0.85")]}),
    )
    assert money_report(store).unconverted_orders == {"EUR": 1}
    facts = customer_facts(store).to_pandas().set_index("person_id")
    assert facts.loc["eve", "revenue"] == pytest.approx(5.95)


def test_orders_without_a_currency_are_unconverted_not_a_crash(store: Store) -> None:
    """An order stored without a currency has a null revenue: the warnings count it (they
    raised a TypeError on it before)."""
    at = pa.array([datetime(2024, 3, 1), datetime(2024, 3, 2)], pa.timestamp("us"))
    orders = {"order_id": ["n1", "n2"], "customer_id": ["a", "b"], "ordered_at": at}
    store.insert("orders", pa.table({**orders, "currency": [None, "USD"], "total": [5.0, 7.0]}))
    set_reporting_currency(store, "USD")
    assert money_report(store).unconverted_orders == {"no currency": 1}
    facts = customer_facts(store, as_of=date(2024, 3, 31)).to_pandas().set_index("person_id")
    assert pd.isna(facts.loc["a", "revenue"]) and facts.loc["b", "revenue"] == 7.0


def test_flagged_values_are_reported(store: Store) -> None:
    _mixed(store)
    set_reporting_currency(store, "GBP")
    now = datetime(2024, 4, 1)
    store.insert(
        "flagged_values",
        pa.table(
            {
                "import_id": ["i1", "i1", "i2"],
                "entity": ["orders", "orders", "spend"],
                "file": ["o.csv", "o.csv", "s.csv"],
                "line": [2, 3, 2],
                "record_key": ["g1", "g2", "2024-01-01|x|y"],
                "column": ["total", "total", "cost"],
                "value": ["1e14", "1e13", "1e12"],
                "reason": ["implausible amount"] * 3,
                "flagged_at": [now] * 3,
            }
        ),
    )
    warnings = money_warnings(store, as_of=date(2024, 2, 28))  # before the EUR orders
    assert warnings == [
        "2 orders have an implausible total (flagged at import, kept in the sums): see table "
        "flagged_values for the file and line.",
        "1 spend row has an implausible cost (flagged at import, kept in the sums): see "
        "table flagged_values for the file and line.",
    ]


def test_fx_rates_import_converts_the_other_currency(tmp_path: Path, store: Store) -> None:
    _mixed(store)
    set_reporting_currency(store, "GBP")
    rates = tmp_path / "fx.csv"
    rates.write_text(
        "date,currency,rate,source\n2024-03-01,eur,0.85123456,ecb\n2024-03-02,EUR,x,\n"
    )
    result = import_file(store, "fx_rates", [rates], max_quarantine=1.0)
    assert (result.stored, result.by_reason) == (1, {"unreadable number": 1})
    stored = store.table("fx_rates").to_pyarrow().to_pylist()
    assert [(r["currency"], r["rate"]) for r in stored] == [("EUR", Decimal("0.85123456"))]
    assert money_warnings(store) == []
    facts = customer_facts(store).to_pandas().set_index("person_id")
    assert facts.loc["eve", "revenue"] == pytest.approx(12 * 0.85123456)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=400))
def test_a_float_sum_of_cents_leaves_as_the_exact_decimal(pence: list[int]) -> None:
    """However the engine's float sum lands, the printed figure is the decimal sum."""
    total = 0.0
    for p in pence:
        total += p / 100
    assert round_money(total, "GBP") == Decimal(sum(pence)) / 100
    assert round_money(total, "JPY") == (Decimal(sum(pence)) / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )

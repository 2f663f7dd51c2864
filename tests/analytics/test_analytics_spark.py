"""One codebase, two engines: the analytics give the same rows on DuckDB and on PySpark.

The fixture store is a small demo (:func:`tenure.demo.generate_demo`: UTM events, order lines,
products with costs, spend, refunds) plus a few hand-made rows for the traps the demo never
hits (another currency with an exchange rate, one without, orders at the same instant, a
cancelled order, a return row, a guest order). Identities are resolved once, on DuckDB, and
every table is copied into the session's Spark store: person ids carry the time of the run
that made them, so resolving twice would give two sets of ids (that the two engines group the
same identifiers is tests/identity/test_identity_spark.py's job).

Results are compared as Arrow tables sorted by their key: the same columns and types
(timestamp precision aside), integers, strings, dates and timestamps equal, floats to a
relative 1e-9 (sums run in a different order on each engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tenure import Store
from tenure.analytics import cohort_cells, cohorts, customer_facts, orders_base
from tenure.analytics.channels import channels
from tenure.analytics.periods import kpis
from tenure.analytics.rfm import rfm
from tenure.analytics.stages import backfill_stages, transitions
from tenure.analytics.status import customer_status
from tenure.demo import generate_demo
from tenure.identity import resolve_identities
from tenure.pipeline import refresh
from tenure.pipeline.steps import REFRESH_STEPS as DERIVED_TABLES
from tenure.pipeline.steps import SCRATCH_ORDERS
from tenure.store.schema import TABLES
from tests.conftest import comparable, copy_tables

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

END = date(2025, 12, 31)
RTOL = 1e-9


def _money(values: list[str | None]) -> pa.Array:
    return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(18, 4))


def _at(*values: str) -> pa.Array:
    return pa.array([datetime.fromisoformat(v) for v in values], pa.timestamp("us"))


def _extra_rows(store: Store) -> None:
    """Rows for the traps: currencies, ties, a void order, a return, a guest."""
    ids = ["X-EUR", "X-GBP", "X-TIE-B", "X-TIE-A", "X-TIE-C", "X-VOID", "X-RET", "X-GUEST"]
    store.insert(
        "customers",
        pa.table(
            {
                "customer_id": ["x-1", "x-2"],
                "email": ["x1@example.com", "x2@example.com"],
                "created_at": _at("2025-05-01 10:00:00", "2025-05-02 10:00:00"),
            }
        ),
    )
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": ids,
                "customer_id": ["x-1", "x-1", "x-2", "x-2", "x-2", "x-2", "x-2", None],
                "email": [None] * 7 + ["Guest@Example.com "],
                "ordered_at": _at(
                    "2025-06-10 09:00:00",
                    "2025-06-11 09:00:00",
                    "2025-06-01 12:00:00.123456",
                    "2025-06-01 12:00:00.123456",
                    "2025-06-01 18:30:00",
                    "2025-06-02 08:00:00",
                    "2025-06-20 08:00:00",
                    "2025-07-01 00:00:00",
                ),
                "currency": ["eur", "GBP", "USD", "USD", "USD", "USD", "USD", "USD"],
                "total": _money(["100.10", "50", "20.00", "30.00", "7.77", "99", "-12.50", "0"]),
                "refunded": _money([None, None, "5", None, None, None, None, None]),
                "status": ["paid", "paid", "paid", "paid", "paid", "cancelled", "returned", None],
                "channel": [None, None, "email", "referral", None, None, None, None],
                "utm_source": [None, None, None, None, "google", None, None, None],
                "utm_medium": [None, None, None, None, "cpc", None, None, None],
            }
        ),
    )
    store.insert(
        "fx_rates",
        pa.table(
            {
                "date": pa.array([date(2025, 6, 1), date(2025, 6, 9), date(2025, 6, 11)]),
                "currency": ["EUR", "EUR", "EUR"],
                "rate": pa.array(
                    [Decimal("1.1"), Decimal("1.0825"), Decimal("1.5")], pa.decimal128(18, 8)
                ),
            }
        ),
    )
    products = store.table("products").order_by("product_id").limit(2).to_pyarrow()
    first, second = products.column("product_id").to_pylist()
    store.insert(
        "order_items",
        pa.table(
            {
                "order_id": ["X-TIE-A", "X-TIE-A", "X-TIE-B", "X-EUR"],
                "line": [2, 1, 1, 1],
                "product_id": [second, first, second, "no-such-product"],
                "quantity": [1, 2, 1, 1],
                "unit_price": _money(["10", "10", "20", "100.10"]),
                "category": ["Mugs", "Coffee", "Mugs", None],
            }
        ),
    )


@pytest.fixture(scope="module")
def engines(
    spark_store: Store, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Store]]:
    """(DuckDB store, Spark store) holding the same rows."""
    url = f"duckdb://{tmp_path_factory.mktemp('two-engines') / 'demo.duckdb'}"
    with Store(url) as duck:
        generate_demo(duck, customers=300, seed=11)
        _extra_rows(duck)
        resolve_identities(duck)
        copy_tables(duck, spark_store, TABLES)
        yield duck, spark_store


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us"))
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    return table.sort_by([(k, "ascending") for k in keys])


def _arrow(frame: pd.DataFrame) -> pa.Table:
    frame = frame.copy()
    frame.attrs = {}  # pyarrow would try to keep them as JSON
    return pa.Table.from_pandas(frame, preserve_index=False)


def assert_same(duck: Any, spark: Any, keys: list[str]) -> None:
    """Ibis expressions (or DataFrames) with the same rows in the same order by ``keys``."""
    if isinstance(duck, pd.DataFrame):
        assert duck.attrs == spark.attrs
        a, b = (_arrow(frame) for frame in (duck, spark))
    else:
        assert comparable(duck.schema()) == comparable(spark.schema())
        a, b = duck.to_pyarrow(), spark.to_pyarrow()
    assert a.column_names == b.column_names
    a, b = _sorted(a, keys), _sorted(b, keys)
    assert a.num_rows == b.num_rows and a.num_rows > 0
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if pa.types.is_floating(x.type) or pa.types.is_floating(y.type):
            xs = x.cast(pa.float64()).to_numpy(zero_copy_only=False)
            ys = y.cast(pa.float64()).to_numpy(zero_copy_only=False)
            np.testing.assert_allclose(xs, ys, rtol=RTOL, atol=0, equal_nan=True, err_msg=name)
        else:
            if x.type != y.type:  # e.g. int32 vs int64 of the same schema type
                y = y.cast(x.type)
            same = pc.equal(x, y)
            both_null = pc.and_(x.is_null(), y.is_null())
            ok = pc.or_kleene(same, both_null).fill_null(False)
            bad = pc.invert(ok)
            if pc.any(bad).as_py():
                where = pc.indices_nonzero(bad)[:5]
                pytest.fail(
                    f"{name}: {pc.take(x, where).to_pylist()} (DuckDB) != "
                    f"{pc.take(y, where).to_pylist()} (PySpark), keys "
                    f"{pc.take(a.select(keys), where).to_pylist()}"
                )


def test_orders_base_is_the_same(engines: tuple[Store, Store]) -> None:
    duck, spark = engines
    assert_same(orders_base(duck, as_of=END), orders_base(spark, as_of=END), ["order_id"])


def test_customer_facts_every_column_is_the_same(engines: tuple[Store, Store]) -> None:
    duck, spark = engines
    d, s = customer_facts(duck, as_of=END), customer_facts(spark, as_of=END)
    assert_same(d, s, ["person_id"])
    facts = d.to_pandas().set_index("person_id")
    # the fixture reaches the traps it is for
    assert facts["gap_median"].notna().sum() > 20 and facts["is_buyer"].sum() > 300
    tie = facts.loc[facts["first_order_id"] == "X-TIE-A"]
    assert len(tie) == 1 and tie["first_product"].iloc[0] is not None
    assert (~facts["is_buyer"]).sum() > 0


def test_refresh_writes_the_same_tables(engines: tuple[Store, Store]) -> None:
    duck, spark = engines
    done = [refresh(store, as_of=END) for store in engines]
    assert done[0].rows == done[1].rows
    assert set(done[0].seconds) == set(done[1].seconds)
    for name in DERIVED_TABLES:
        assert_same(duck.con.table(name), spark.con.table(name), _key(duck.con.table(name)))
    for store in engines:  # the refresh's scratch copy of the orders base is gone
        assert SCRATCH_ORDERS not in store.con.list_tables()


def _key(table: Any) -> list[str]:
    columns = table.columns
    return ["person_id"] if "person_id" in columns else list(columns)


@pytest.mark.parametrize(("period", "by"), [("month", "acquisition"), ("week", "channel")])
def test_cohort_cells_are_the_same(engines: tuple[Store, Store], period: str, by: str) -> None:
    duck, spark = engines
    keys = ["grp", "cohort_num", "period"]
    d = cohort_cells(duck, period=period, by=by, as_of=END)
    s = cohort_cells(spark, period=period, by=by, as_of=END)
    assert_same(d, s, keys)


def test_cohort_table_is_the_same(engines: tuple[Store, Store]) -> None:
    duck, spark = engines
    d = cohorts(duck, period="quarter", by="first_category", as_of=END)
    s = cohorts(spark, period="quarter", by="first_category", as_of=END)
    assert_same(d, s, ["first_category", "cohort", "period"])


def test_rfm_and_statuses_are_the_same(engines: tuple[Store, Store]) -> None:
    duck, spark = engines
    assert_same(rfm(duck, as_of=END), rfm(spark, as_of=END), ["person_id"])
    for by in ("orders", "tier"):
        d = customer_status(duck, as_of=END, segment_by=by)
        s = customer_status(spark, as_of=END, segment_by=by)
        assert_same(d, s, ["person_id"])
    statuses = set(customer_status(duck, as_of=END).status.to_pandas())
    assert {"prospect", "at_risk", "active"} <= statuses  # the fixture reaches the rules


def test_channel_economics_are_the_same(engines: tuple[Store, Store]) -> None:
    duck, spark = (channels(store, as_of=END) for store in engines)
    pd.testing.assert_frame_equal(duck, spark, check_exact=False, rtol=RTOL)
    assert (duck["new_customers"] > 0).sum() >= 3


def test_stage_backfill_and_transitions_are_the_same(engines: tuple[Store, Store]) -> None:
    for store in engines:
        backfill_stages(store, start=END - timedelta(days=2), end=END, every="day")
    duck, spark = (store.con.table("stage_history") for store in engines)
    assert_same(duck, spark, ["person_id", "entered_at"])
    d, s = (transitions(store) for store in engines)
    pd.testing.assert_frame_equal(d, s, check_exact=False, rtol=RTOL)


@pytest.mark.parametrize(
    ("grain", "by"),
    [
        ("month", None),
        ("week", "channel"),
        ("day", "status"),
        ("quarter", "segment"),
        ("month", "cohort"),
    ],
)
def test_kpis_are_the_same(engines: tuple[Store, Store], grain: str, by: str | None) -> None:
    duck, spark = (kpis(store, grain=grain, by=by, as_of=END) for store in engines)
    keys = ["period"] if by is None else ["period", by]
    assert_same(duck, spark, keys)
    if by is None:  # the fixture reaches every part: spend, prospects, a CLV
        last = duck.iloc[-1]
        assert last["spend"] > 0 and last["prospects"] > 0 and last["clv"] > 0


def test_money_warnings_are_the_same(engines: tuple[Store, Store]) -> None:
    from tenure.analytics.money import money_report

    duck, spark = engines
    report = money_report(duck, as_of=END)
    assert report == money_report(spark, as_of=END)
    assert report.currency == "USD" and report.unconverted_orders == {"GBP": 1}  # no GBP rate

"""Cohorts: reconciliation with order revenue, hand-computed cells with refunds, and the CDNOW
monthly retention matrix against an independent pandas computation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.analytics import cohort_matrix, cohorts, orders_base
from tenure.analytics.cohorts import _dense, _finish
from tenure.errors import ConfigError
from tests.analytics.conftest import CDNOW

END = date(1998, 6, 30)
SMALL_END = date(1997, 4, 15)

#: order_id, customer, ordered_at, total, refunded, status, channel
SMALL_ORDERS = [
    ("a1", "ann", "1997-01-10 10:00:00", "100", None, "paid", "email"),
    ("a2", "ann", "1997-01-20 10:00:00", "50", "20", "paid", None),  # partial refund
    ("a3", "ann", "1997-03-05 10:00:00", "30", "30", "refunded", None),  # full refund
    ("a4", "ann", "1997-03-06 10:00:00", "-10", None, "returned", None),  # return row
    ("b1", "bob", "1997-02-03 10:00:00", "40", None, "paid", None),
    ("b2", "bob", "1997-02-10 10:00:00", "999", None, "cancelled", None),  # void
    ("b3", "bob", "1997-04-02 10:00:00", "25", None, "paid", None),  # partial April
    ("b4", "bob", "1997-05-02 10:00:00", "60", None, "paid", None),  # after as_of
    ("c0", "cat", "1997-01-25 10:00:00", "-15", None, "returned", None),  # before 1st purchase
    ("c1", "cat", "1997-02-15 10:00:00", "70", None, "paid", None),
    ("d1", "dan", "1997-03-01 10:00:00", "20", "20", "refunded", None),  # never a purchase
    ("d2", "dan", "1997-03-02 10:00:00", "-5", None, "returned", None),
]


def fill_small(store: Store) -> None:
    """A store of four people with partial and full refunds, returns and a void order."""
    columns = ["order_id", "customer_id", "ordered_at", "total", "refunded", "status", "channel"]
    data = {c: [row[i] for row in SMALL_ORDERS] for i, c in enumerate(columns)}
    table = pa.table(data).append_column("currency", pa.array(["USD"] * len(SMALL_ORDERS)))
    table = table.set_column(
        2, "ordered_at", pa.array(pd.to_datetime(data["ordered_at"]), pa.timestamp("us"))
    )
    store.insert("orders", table)


def _raw_cdnow() -> pd.DataFrame:
    raw = pd.read_csv(
        CDNOW, sep=r"\s+", skiprows=1, names=["id", "date", "cds", "value"], dtype={"id": str}
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    raw["month"] = raw["date"].dt.year * 12 + raw["date"].dt.month - 1
    raw["first"] = raw.groupby("id")["month"].transform("min")
    return raw


def test_small_store_cells_by_hand(store: Store) -> None:
    fill_small(store)
    long = cohorts(store, as_of=SMALL_END)
    got = long[["cohort", "period", "customers", "active", "orders", "revenue", "partial"]]
    expected = pd.DataFrame(
        [
            ("1997-01", 0, 1, 1, 2, 130.0, False),  # 100 + (50 - 20)
            ("1997-01", 1, 1, 0, 0, 0.0, False),
            ("1997-01", 2, 1, 0, 0, -10.0, False),  # full refund 0, return row -10
            ("1997-01", 3, 1, 0, 0, 0.0, True),
            ("1997-02", 0, 2, 2, 2, 95.0, False),  # 40 + 70, cat's earlier return -15
            ("1997-02", 1, 2, 0, 0, 0.0, False),
            ("1997-02", 2, 2, 1, 1, 25.0, True),  # April up to the 15th
        ],
        columns=got.columns,
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert long.attrs["as_of"] == SMALL_END
    feb = long[long.cohort == "1997-02"]
    assert feb["cumulative_revenue_per_customer"].tolist() == [47.5, 47.5, 60.0]
    np.testing.assert_allclose(feb["cumulative_margin_per_customer"], [14.25, 14.25, 18.0])
    assert feb["period_start"].tolist() == [date(1997, 2, 1), date(1997, 3, 1), date(1997, 4, 1)]


def test_small_store_revenue_reconciles_with_buyers_orders(store: Store) -> None:
    fill_small(store)
    long = cohorts(store, as_of=SMALL_END)
    base = orders_base(store, as_of=SMALL_END).to_pandas()
    buyers = set(base.loc[base.is_purchase, "person_id"])
    assert buyers == {"ann", "bob", "cat"}
    assert long["revenue"].sum() == pytest.approx(
        base.loc[base.person_id.isin(buyers)].revenue.sum()
    )
    # dan never bought: his refund (0) and return row (-5) belong to no cohort
    assert long["revenue"].sum() == pytest.approx(base.revenue.sum() + 5)
    assert long.drop_duplicates("cohort")["customers"].sum() == len(buyers)


@pytest.mark.slow
def test_small_store_by_channel_splits_by_acquisition_period(store: Store) -> None:
    fill_small(store)
    long = cohorts(store, by="channel", as_of=SMALL_END)
    assert list(long.columns[:2]) == ["channel", "cohort"]
    heads = long[long.period == 0][["channel", "cohort", "customers"]].values.tolist()
    assert heads == [["direct", "1997-02", 2], ["email", "1997-01", 1]]
    matrix = cohort_matrix(store, by="channel", as_of=SMALL_END, metric="orders")
    assert matrix.columns.tolist() == ["channel", "cohort", "customers", 0, 1, 2, 3]
    assert np.isnan(matrix.loc[0, 3])  # the February cohort has not reached period 3


@pytest.mark.slow
def test_partial_flag_only_when_as_of_does_not_end_the_period(store: Store) -> None:
    fill_small(store)
    assert not cohorts(store, as_of=date(1997, 3, 31))["partial"].any()
    weekly = cohorts(store, period="week", as_of=date(1997, 4, 15))  # a Tuesday
    assert weekly.loc[weekly.partial, "period_start"].unique().tolist() == [date(1997, 4, 14)]
    assert cohort_matrix(store, as_of=SMALL_END).attrs["partial"]


def test_bad_parameters_name_the_choices(store: Store) -> None:
    with pytest.raises(ConfigError, match="'period' parameter of cohorts must be one of week"):
        cohorts(store, period="day")
    with pytest.raises(ConfigError, match="Got 'ltv' instead"):
        cohort_matrix(store, metric="ltv")


def test_empty_store_gives_empty_tables(store: Store) -> None:
    assert cohorts(store, as_of=SMALL_END).empty
    assert cohort_matrix(store, as_of=SMALL_END).columns.tolist() == ["cohort", "customers"]


def test_cdnow_cohort_revenue_reconciles_per_calendar_month(cdnow: Store) -> None:
    long = cohorts(cdnow, as_of=END)
    raw = _raw_cdnow()
    assert long.drop_duplicates("cohort")["customers"].sum() == raw["id"].nunique() == 23_570
    assert (long.loc[long.period == 0, "retention"] == 1.0).all()
    by_month = long.groupby("period_start")["revenue"].sum()
    expected = raw.groupby(raw["date"].dt.to_period("M").dt.start_time.dt.date)["value"].sum()
    assert len(by_month) == 18
    np.testing.assert_allclose(by_month.to_numpy(), expected.sort_index().to_numpy(), atol=1e-6)
    assert not long["partial"].any()  # 1998-06-30 ends June


@pytest.mark.parametrize("period", ["week", "quarter"])
def test_cdnow_other_grains_reconcile(cdnow: Store, period: str) -> None:
    long = cohorts(cdnow, period=period, as_of=END)
    raw = _raw_cdnow()
    assert long["revenue"].sum() == pytest.approx(raw["value"].sum(), abs=1e-6)
    assert long["orders"].sum() == len(raw)
    assert long.drop_duplicates("cohort")["customers"].sum() == 23_570
    assert (long.loc[long.period == 0, "retention"] == 1.0).all()


def test_cdnow_monthly_retention_matrix_equals_pandas(cdnow: Store) -> None:
    matrix = cohort_matrix(cdnow, as_of=END, metric="retention").set_index("cohort")
    raw = _raw_cdnow()
    raw["since"] = raw["month"] - raw["first"]
    size = raw.groupby("first")["id"].nunique()
    active = raw.groupby(["first", "since"])["id"].nunique().unstack()
    expected = active.div(size, axis=0)
    last = END.year * 12 + END.month - 1
    for first in expected.index:  # reached but empty cells are 0, unreached are missing
        reached = expected.columns <= last - first
        expected.loc[first, reached] = expected.loc[first, reached].fillna(0.0)
    expected.index = [f"{m // 12}-{m % 12 + 1:02d}" for m in expected.index]
    assert matrix.index.tolist() == expected.index.tolist() == ["1997-01", "1997-02", "1997-03"]
    assert matrix["customers"].tolist() == size.tolist()
    got = matrix.drop(columns="customers")
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_cdnow_clv_curve_never_decreases(cdnow: Store) -> None:
    long = cohorts(cdnow, as_of=END)
    for column in ("cumulative_margin_per_customer", "cumulative_revenue_per_customer"):
        steps = long.groupby("cohort")[column].diff().dropna()
        assert (steps >= 0).all()
    last = long.groupby("cohort").tail(1)
    total = (last["cumulative_margin_per_customer"] * last["customers"]).sum()
    assert total == pytest.approx(long["margin"].sum(), rel=1e-12)


_cells = st.lists(
    st.tuples(
        st.integers(0, 3),  # cohort month offset
        st.integers(0, 6),  # period
        st.integers(1, 5),  # active
        st.floats(0, 1e4, allow_nan=False),  # revenue (no refunds)
        st.floats(0, 1, allow_nan=False),  # margin rate
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(_cells)
def test_dense_fill_and_clv_curve_properties(
    rows: list[tuple[int, int, int, float, float]],
) -> None:
    """Without refunds the CLV curve never decreases; every reached cell exists, empty as 0."""
    start = 1997 * 12
    frame = pd.DataFrame(
        [(start + c, p, 5, a, a, r, r * m) for c, p, a, r, m in rows],
        columns=["cohort_num", "period", "customers", "active", "orders", "revenue", "margin"],
    )
    frame = frame.drop_duplicates(["cohort_num", "period"]).assign(grp="all")
    end = date(1997, 10, 20)  # month number start + 9
    frame = frame[frame.cohort_num + frame.period <= start + 9]
    if frame.empty:
        return
    dense = _dense(frame, end, "month").sort_values(["grp", "cohort_num", "period"])
    out = _finish(dense.reset_index(drop=True), end, "month", "acquisition")
    for _, group in out.groupby("cohort_start"):
        assert group["period"].tolist() == list(range(len(group)))
        assert group["partial"].tolist() == [False] * (len(group) - 1) + [True]
        assert (group["cumulative_margin_per_customer"].diff().dropna() >= -1e-9).all()
    assert out["revenue"].sum() == pytest.approx(frame["revenue"].sum())
    assert not out.isna().any().any()

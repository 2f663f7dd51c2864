"""KPIs per period: a hand-computed small store (refunds, returns, a void order, prospects, a
gap of empty months, a partial last month, two years for the CLV), CDNOW against an
independent pandas computation, splits that add up to the overall rows, and CAC = spend / new
customers on a demo store."""

from __future__ import annotations

import itertools
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.analytics import orders_base
from tenure.analytics.periods import BY, COLUMNS, kpis
from tenure.errors import ConfigError
from tests.analytics.conftest import CDNOW

CDNOW_END = date(1998, 6, 30)
SMALL_END = date(2025, 2, 15)
#: The columns every split must add up to the overall row.
ADDITIVE = [
    "revenue",
    "margin",
    "orders",
    "customers",
    "new_customers",
    "returning_customers",
    "repeat_customers",
    "active_customers",
    "retained_customers",
]

#: order_id, customer, ordered_at, total, refunded, status
SMALL_ORDERS = [
    ("a1", "ann", "2024-01-05 12:00:00", "100", None, "paid"),
    ("a2", "ann", "2024-01-20 10:00:00", "50", "20", "paid"),  # partial refund
    ("b1", "bob", "2024-01-15 10:00:00", "80", None, "paid"),
    ("p1", "pat", "2024-02-10 10:00:00", "70", None, "paid"),  # a prospect converts
    ("a3", "ann", "2024-03-03 10:00:00", "40", None, "paid"),
    ("b2", "bob", "2024-03-20 10:00:00", "30", "30", "refunded"),  # full refund: 0
    ("b3", "bob", "2024-03-21 10:00:00", "-10", None, "returned"),  # return row: -10
    ("c1", "cat", "2024-03-05 10:00:00", "25", None, "cancelled"),  # void: ignored
    # no order from April to December 2024
    ("a4", "ann", "2025-01-10 10:00:00", "60", None, "paid"),
    ("d1", "dan", "2025-02-01 10:00:00", "90", None, "paid"),
    ("d2", "dan", "2025-03-01 10:00:00", "999", None, "paid"),  # after as_of
]
#: customer records: pat and quin signed up before buying (quin never buys); ann the day
#: she bought (known and buying in one period: not a converted prospect)
SMALL_CUSTOMERS = [
    ("pat", "2023-12-15 09:00:00"),
    ("quin", "2024-01-20 09:00:00"),
    ("ann", "2024-01-05 10:00:00"),
]


def _at(values: list[str]) -> pa.Array:
    return pa.array([datetime.fromisoformat(v) for v in values], pa.timestamp("us"))


def fill_small(store: Store) -> None:
    columns = ["order_id", "customer_id", "ordered_at", "total", "refunded", "status"]
    data: dict[str, object] = {c: [row[i] for row in SMALL_ORDERS] for i, c in enumerate(columns)}
    data["ordered_at"] = _at([row[2] for row in SMALL_ORDERS])
    data["currency"] = ["USD"] * len(SMALL_ORDERS)
    store.insert("orders", pa.table(data))
    store.insert(
        "customers",
        pa.table(
            {
                "customer_id": [c for c, _ in SMALL_CUSTOMERS],
                "created_at": _at([at for _, at in SMALL_CUSTOMERS]),
            }
        ),
    )


@pytest.fixture
def small(store: Store) -> Store:
    fill_small(store)
    return store


def test_small_store_monthly_by_hand(small: Store) -> None:
    k = kpis(small, as_of=SMALL_END).set_index("period")
    assert list(k.reset_index().columns) == COLUMNS
    assert k.index.tolist() == [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01", "2025-02"]
    got = k[["revenue", "orders", "customers", "new_customers", "repeat_customers"]]
    assert got.loc["2024-01"].tolist() == [210.0, 3, 2, 2, 1]  # 100 + (50 - 20) + 80
    assert got.loc["2024-02"].tolist() == [70.0, 1, 1, 1, 0]
    assert got.loc["2024-03"].tolist() == [30.0, 1, 1, 0, 1]  # 40 + 0 - 10, cat void
    assert got.loc["2025-02"].tolist() == [90.0, 1, 1, 1, 0]  # dan's March order is after
    empty = k.loc["2024-04":"2024-12"]
    assert (empty[["revenue", "orders", "customers", "new_customers"]] == 0).all().all()
    assert empty["aov"].isna().all() and empty["repeat_purchase_rate"].isna().all()
    assert k.loc["2024-01", "aov"] == 70.0 and k.loc["2024-03", "aov"] == 40.0
    assert k.loc["2024-01", "purchase_frequency"] == 1.5
    assert k.loc["2024-01", "repeat_purchase_rate"] == 0.5  # ann bought twice in January
    assert k["returning_customers"].tolist() == [0, 0, 1] + [0] * 9 + [1, 0]
    assert k["partial"].tolist() == [False] * 13 + [True]
    assert k.loc["2025-02", "period_end"] == SMALL_END
    assert k["margin"].sum() == pytest.approx(0.3 * k["revenue"].sum())  # default margin


def test_small_store_retention_active_and_prospects(small: Store) -> None:
    k = kpis(small, as_of=SMALL_END).set_index("period")
    retention = k["retention_rate"]
    assert np.isnan(retention["2024-01"])  # nobody bought in December 2023
    assert retention[["2024-02", "2024-03", "2024-04", "2025-02"]].tolist() == [0.0] * 4
    assert retention[["2024-05", "2025-01"]].isna().all()  # previous month without buyers
    assert k.loc["2024-02", "churn_rate"] == 1.0
    # bob's last purchase is 2024-01-15: lapsed 365 days later; pat's 2024-02-10
    assert k["active_customers"].tolist() == [2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2]
    assert k["prospects"].tolist() == [1, 2] + [1] * 12  # pat; pat and quin; quin
    assert k["converted_prospects"].tolist() == [0, 1] + [0] * 12
    assert k.loc["2024-02", "prospect_conversion"] == 0.5
    assert k[["spend", "cac"]].isna().all().all()  # no spend data


def test_small_store_simple_clv(small: Store) -> None:
    k = kpis(small, as_of=SMALL_END).set_index("period")
    # the year to 2025-02-15: buyers ann, dan; margin 0.3 x (40 + 0 - 10 + 60 + 90) = 54;
    # the year before: ann, bob, pat, of whom only ann bought again: churn 2/3
    feb = k.loc["2025-02"]
    assert feb["yearly_margin_per_customer"] == pytest.approx(27.0)
    assert feb["yearly_churn"] == pytest.approx(2 / 3)
    assert feb["retention_years"] == pytest.approx(1.5)
    assert feb["clv"] == pytest.approx(40.5)
    # to 2025-01-31: buyers ann, pat, margin 0.3 x 160; the year before ann and bob
    jan = k.loc["2025-01"]
    assert jan["yearly_margin_per_customer"] == pytest.approx(24.0)
    assert jan["clv"] == pytest.approx(48.0)
    # the first year has no previous year with buyers: no churn, no CLV
    assert k.loc[:"2024-12", ["yearly_churn", "retention_years", "clv"]].isna().all().all()
    assert k.loc["2024-12", "yearly_margin_per_customer"] == pytest.approx(93.0 / 3)


def test_churn_zero_gives_no_clv(store: Store) -> None:
    rows = [("x1", "x", "2024-01-10"), ("x2", "x", "2024-06-10"), ("x3", "x", "2025-01-05")]
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": [r[0] for r in rows],
                "customer_id": [r[1] for r in rows],
                "ordered_at": _at([f"{r[2]} 10:00:00" for r in rows]),
                "total": ["10"] * 3,
                "currency": ["USD"] * 3,
            }
        ),
    )
    last = kpis(store, as_of=date(2025, 1, 31)).iloc[-1]
    assert last["yearly_churn"] == 0.0
    assert np.isnan(last["retention_years"]) and np.isnan(last["clv"])


@pytest.mark.parametrize(
    ("grain", "rows", "first"),
    [("week", 59, "2024-01-01"), ("day", 408, "2024-01-05"), ("quarter", 5, "2024-Q1")],
)
def test_small_store_other_grains_keep_empty_periods(
    small: Store, grain: str, rows: int, first: str
) -> None:
    k = kpis(small, grain=grain, as_of=SMALL_END)
    assert len(k) == rows and k["period"].iloc[0] == first
    assert k["revenue"].sum() == pytest.approx(460.0)
    assert k["new_customers"].sum() == 4 and k["orders"].sum() == 7
    assert (k["orders"] == 0).sum() == rows - len({*k.loc[k.orders > 0, "period"]})


def test_start_and_end_pick_whole_periods(small: Store) -> None:
    k = kpis(small, start="2024-02-20", end=date(2024, 3, 2), as_of=SMALL_END)
    assert k["period"].tolist() == ["2024-02", "2024-03"]
    assert k["revenue"].tolist() == [70.0, 30.0]  # whole months, orders after 2 March too
    assert k["retention_rate"].tolist() == [0.0, 0.0]  # January looked up before start
    assert not k["partial"].any()


def test_bad_parameters(small: Store) -> None:
    with pytest.raises(ConfigError) as bad:
        kpis(small, grain="year")
    assert bad.value.message == (
        "The 'grain' parameter must be one of day, week, month, quarter. Got 'year'."
    )
    with pytest.raises(ConfigError, match="'by' parameter must be one of channel, cohort"):
        kpis(small, by="country")
    with pytest.raises(ConfigError, match="'start' parameter must be a date"):
        kpis(small, start="2024-13-01")
    with pytest.raises(ConfigError, match=r"'start' parameter \(2024-05-01\) must be on or"):
        kpis(small, start="2024-05-01", end="2024-04-01")
    with pytest.raises(ConfigError, match="after the observation end"):
        kpis(small, end="2025-03-01", as_of=SMALL_END)


def test_empty_store_has_one_empty_period(store: Store) -> None:
    k = kpis(store, as_of=SMALL_END)
    assert k["period"].tolist() == ["2025-02"] and k["orders"].tolist() == [0]
    assert kpis(store, by="cohort", as_of=SMALL_END).empty


# --------------------------------------------------------------------------- CDNOW
def _raw_cdnow() -> pd.DataFrame:
    raw = pd.read_csv(
        CDNOW, sep=r"\s+", skiprows=1, names=["id", "date", "cds", "value"], dtype={"id": str}
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    raw["month"] = raw["date"].dt.to_period("M").astype(str)
    raw["first"] = raw.groupby("id")["month"].transform("min")
    return raw


def test_cdnow_monthly_equals_pandas(cdnow: Store) -> None:
    k = kpis(cdnow, as_of=CDNOW_END).set_index("period")
    raw = _raw_cdnow()
    per = raw.groupby("month")
    expected = pd.DataFrame(
        {
            "revenue": per["value"].sum(),
            "orders": per.size(),
            "customers": per["id"].nunique(),
            "new_customers": raw[raw.month == raw["first"]].groupby("month")["id"].nunique(),
        }
    ).fillna(0)
    assert k.index.tolist() == expected.index.tolist() and len(k) == 18
    np.testing.assert_allclose(k["revenue"], expected["revenue"], rtol=1e-12)
    for column in ("orders", "customers", "new_customers"):
        assert k[column].tolist() == expected[column].astype(int).tolist(), column
    buyers = {m: set(g) for m, g in per["id"]}
    months = expected.index.tolist()
    retained = [len(buyers[b] & buyers[a]) / len(buyers[a]) for a, b in itertools.pairwise(months)]
    np.testing.assert_allclose(k["retention_rate"].iloc[1:], retained, rtol=1e-12)
    seen = raw.sort_values("date").groupby(["id", "month"]).size().rename("n").reset_index()
    first = seen.groupby("id")["month"].transform("min")
    seen["repeat"] = (seen["n"] > 1) | (seen["month"] > first)
    repeat = seen.groupby("month")["repeat"].mean()
    np.testing.assert_allclose(k["repeat_purchase_rate"], repeat, rtol=1e-12)


@pytest.mark.slow
def test_cdnow_totals_reconcile(cdnow: Store) -> None:
    k = kpis(cdnow, as_of=CDNOW_END)
    base = orders_base(cdnow, as_of=CDNOW_END).to_pandas()
    assert k["revenue"].sum() == pytest.approx(base["revenue"].sum(), rel=1e-12)
    assert k["orders"].sum() == int(base["is_purchase"].sum())
    assert k["new_customers"].sum() == base.loc[base.is_purchase, "person_id"].nunique() == 23_570
    assert not k["partial"].any()  # 1998-06-30 ends June
    # a year after the last acquisition (March 1997) nobody is lapsed yet
    assert k.set_index("period").loc["1997-12", "active_customers"] == 23_570


@pytest.mark.slow
def test_cdnow_segment_split_adds_up(cdnow: Store) -> None:
    overall = kpis(cdnow, grain="quarter", as_of=CDNOW_END)
    split = kpis(cdnow, grain="quarter", by="segment", as_of=CDNOW_END)
    assert list(split.columns[:5]) == ["period", "period_start", "period_end", "partial", "segment"]
    assert "Champions" in set(split["segment"])
    _assert_adds_up(split, overall)


def _assert_adds_up(split: pd.DataFrame, overall: pd.DataFrame) -> None:
    sums = split.groupby("period", sort=True)[ADDITIVE].sum()
    expected = overall.set_index("period")[ADDITIVE]
    assert sums.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(sums.to_numpy(float), expected.to_numpy(float), rtol=1e-9)
    periods = split.groupby("period").size()
    assert (periods == periods.iloc[0]).all()  # every group in every period


# --------------------------------------------------------------------------- demo store
# ``demo``: the 4,000-buyer demo store of the channel economics tests


def test_demo_cac_is_spend_over_new_customers(demo: Store) -> None:
    k = kpis(demo)
    spend = demo.table("marketing_spend").to_pandas()
    month = pd.to_datetime(spend["date"]).dt.to_period("M").astype(str)
    per = spend.assign(cost=spend["cost"].astype(float)).groupby(month)["cost"].sum()
    got = k.set_index("period")["spend"]
    np.testing.assert_allclose(got.to_numpy(), per.reindex(got.index).fillna(0.0), rtol=1e-12)
    new = k["new_customers"]
    assert (new > 0).all() and k["cac"].notna().all()
    np.testing.assert_allclose(k["cac"] * new, k["spend"], rtol=1e-12)
    assert k["prospects"].iloc[0] == 0  # nobody is known before the store opens
    assert k["prospects"].iloc[-1] > 0 and k["prospect_conversion"].iloc[1:].notna().all()
    assert k["clv"].iloc[-1] > 0  # two years of history: the last month has a CLV


@pytest.mark.parametrize(
    "by", [b if b == "cohort" else pytest.param(b, marks=pytest.mark.slow) for b in BY]
)
def test_demo_splits_add_up(demo: Store, by: str) -> None:
    overall = kpis(demo, grain="quarter")
    split = kpis(demo, grain="quarter", by=by)
    _assert_adds_up(split, overall)
    assert split.attrs["by"] == by
    if by == "channel":
        per = split.groupby("period")["spend"].sum()
        np.testing.assert_allclose(per, overall.set_index("period")["spend"], rtol=1e-9)
        paid = split[split.channel == "paid_search"]
        ok = paid["new_customers"] > 0
        np.testing.assert_allclose(
            paid.loc[ok, "cac"] * paid.loc[ok, "new_customers"], paid.loc[ok, "spend"]
        )
    else:
        assert split["spend"].isna().all() and split["prospects"].isna().all()
    if by == "cohort":
        names = sorted(set(split["cohort"]))
        assert names[:3] == ["(none)", "2024-Q1", "2024-Q2"] and names[-1] == "2025-Q4"

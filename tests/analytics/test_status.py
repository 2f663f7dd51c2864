"""Statuses and the stage history (docs/metrics.md, "Statuses", "Stage history").

On CDNOW the statuses equal an independent pandas computation of the documented rules; the
stage history back-filled day by day reproduces the status of every person on every day;
refreshing twice as of the same day changes nothing; entries and transitions are simple
queries over it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenure import Store, load_settings
from tenure.analytics.rfm import rfm
from tenure.analytics.stages import backfill_stages, stage_entries, transitions
from tenure.analytics.status import STATUSES, customer_status, status_counts
from tenure.demo import generate_demo
from tenure.errors import ConfigError
from tenure.pipeline import refresh
from tests.analytics.conftest import CDNOW

END = date(1998, 6, 30)


def _band(k: pd.Series) -> np.ndarray:
    return np.select([k <= 1, k == 2, k <= 4], ["1", "2", "3-4"], "5+")


def _pandas_status(end: date) -> pd.DataFrame:
    """The documented rules, in pandas, from the raw CDNOW file (default settings)."""
    raw = pd.read_csv(
        CDNOW, sep=r"\s+", skiprows=1, names=["id", "date", "cds", "value"], dtype={"id": str}
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    raw = raw[raw["date"] <= pd.Timestamp(end)]
    daily = raw.groupby(["id", "date"], as_index=False)["value"].sum().sort_values(["id", "date"])
    daily["k"] = daily.groupby("id").cumcount() + 1
    daily["gap"] = (daily.groupby("id")["date"].shift(-1) - daily["date"]).dt.days
    gaps = daily.dropna(subset=["gap"])
    medians = gaps.groupby(_band(gaps["k"]))["gap"].median()
    per = daily.groupby("id").agg(first=("date", "min"), last=("date", "max"), n=("k", "size"))
    per["margin"] = raw.groupby("id")["value"].sum() * 0.30
    ranked = per.reset_index().sort_values(["margin", "id"], ascending=[False, True])
    ranked["pos"] = np.arange(len(ranked))
    per["vip"] = ranked.set_index("id")["pos"] / len(per) < 0.05
    per["gap"] = pd.Series(_band(per["n"]), index=per.index).map(medians)
    per["gap"] = per["gap"].fillna(gaps["gap"].median())
    since = (pd.Timestamp(end) - per["last"]).dt.days
    age = (pd.Timestamp(end) - per["first"]).dt.days
    per["status"] = np.select(
        [age < 30, since >= 365, since > 2.0 * per["gap"], per["vip"]],
        ["new", "lapsed", "at_risk", "vip"],
        "active",
    )
    return per


@pytest.mark.parametrize("end", [END, date(1997, 3, 20), date(1997, 9, 30)])
def test_statuses_match_pandas_on_cdnow(cdnow: Store, end: date) -> None:
    got = customer_status(cdnow, as_of=end).to_pandas().set_index("person_id").sort_index()
    expected = _pandas_status(end).sort_index()
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got["expected_gap_days"], expected["gap"], rtol=0, atol=1e-12)
    assert (got["status"] == expected["status"]).all()
    assert (got["is_vip"] == expected["vip"]).all()
    assert set(got["status"]) <= set(STATUSES)


def test_counts_sum_to_the_persons_and_vips_match_rfm(cdnow: Store) -> None:
    counts = status_counts(cdnow, as_of=END)
    assert counts["persons"].sum() == 23_570
    assert counts["share"].sum() == pytest.approx(1.0)
    assert list(counts["status"]) == [s for s in STATUSES if s in set(counts["status"])]
    status = customer_status(cdnow, as_of=END).to_pandas().set_index("person_id")
    tiers = rfm(cdnow, as_of=END).to_pandas().set_index("person_id")["tier"]
    assert (status["is_vip"] == (tiers.reindex(status.index) == "vip")).all()
    assert (status["tier"] == tiers.reindex(status.index)).all()
    assert counts.attrs == {"as_of": END, "warnings": []}


def test_status_customers_is_every_person_by_id(cdnow: Store) -> None:
    """`tenure status --customers`: :func:`customer_status` read as a frame, by person."""
    from tenure.analytics.status import status_customers

    every = status_customers(cdnow, as_of=END)
    expected = customer_status(cdnow, as_of=END).to_pandas()
    expected = expected.sort_values("person_id").reset_index(drop=True)
    labels = ["customer_id", "email", "other_id"]
    pd.testing.assert_frame_equal(every.drop(columns=labels), expected)
    pd.testing.assert_frame_equal(
        status_customers(cdnow, as_of=END, with_identifiers=False), expected
    )
    assert list(every.columns[1:4]) == labels  # next to the person id
    assert (every["customer_id"] == every["person_id"]).all()  # CDNOW is not resolved
    assert every.attrs == {"as_of": END, "warnings": []}
    counts = status_counts(cdnow, as_of=END).set_index("status")["persons"].to_dict()
    assert every.groupby("status").size().to_dict() == counts


@pytest.mark.slow
def test_segmentation_and_factor_are_settings(cdnow_url: str) -> None:
    def at_risk(**settings: object) -> int:
        with Store(cdnow_url, settings=load_settings(store_url=cdnow_url, **settings)) as st:
            t = customer_status(st, as_of=END)
            return int(t.filter(t.status == "at_risk").count().execute())

    base = at_risk()
    assert at_risk(at_risk_factor=4.0) < base < at_risk(at_risk_factor=1.0)
    with Store(cdnow_url) as st:
        for by in ("tier", "none"):
            t = customer_status(st, as_of=END, segment_by=by).to_pandas()
            assert t["rhythm_segment"].nunique() == (4 if by == "tier" else 1)
        with pytest.raises(ConfigError, match="'segment_by' parameter of customer_status"):
            customer_status(st, segment_by="channel")


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb://{tmp_path_factory.mktemp('status') / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=1500, seed=5)
    return url


@pytest.fixture
def demo(demo_url: str, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    url = f"duckdb://{path}"
    with Store(url) as store:
        yield store


def test_prospects_are_known_persons_without_a_purchase(demo: Store) -> None:
    refresh(demo)
    facts = demo.con.table("customer_facts").to_pandas().set_index("person_id")
    status = demo.con.table("customer_status").to_pandas().set_index("person_id")
    assert set(status.index) == set(facts.index)
    prospects = status.index[status["status"] == "prospect"]
    assert len(prospects) > 0
    assert set(prospects) == set(facts.index[~facts["is_buyer"]])
    buyers = status.loc[status["status"] != "prospect"]
    assert (buyers["purchase_days"] >= 1).all()


def _history_on(history: pd.DataFrame, day: date) -> pd.Series:
    d = pd.Timestamp(day)
    entered = pd.to_datetime(history["entered_at"])
    left = pd.to_datetime(history["left_at"])
    on = history[(entered <= d) & (left.isna() | (left > d))]
    assert not on["person_id"].duplicated().any()  # stays never overlap
    return on.set_index("person_id")["status"].sort_index()


@pytest.mark.slow
def test_backfill_reproduces_each_days_statuses(demo: Store) -> None:
    end = demo.con.table("orders").ordered_at.max().execute().date()
    start = end - timedelta(days=12)
    backfill_stages(demo, start=start, end=end, every="day")
    history = demo.con.table("stage_history").to_pandas()
    for day in (start, start + timedelta(days=5), end):
        expected = customer_status(demo, as_of=day).to_pandas()
        expected = expected.set_index("person_id")["status"].sort_index()
        pd.testing.assert_series_equal(_history_on(history, day), expected, check_names=False)
    # "entered at-risk on day X" is the change between X - 1 and X
    day = end - timedelta(days=3)
    before = _history_on(history, day - timedelta(days=1))
    after = _history_on(history, day)
    changed = after[after != before.reindex(after.index)]
    entered = stage_entries(demo, status="at_risk", on=day)
    assert set(entered["person_id"]) == set(changed.index[changed == "at_risk"])
    moves = transitions(demo, start=start + timedelta(days=1), end=end)
    assert moves["moves"].sum() > 0 and (moves["rate"] <= 1).all()
    assert (moves["from_status"] != moves["to_status"]).all()


@pytest.mark.slow
def test_refresh_appends_and_is_idempotent(demo: Store) -> None:
    end = demo.con.table("orders").ordered_at.max().execute().date()
    first = end - timedelta(days=30)
    refresh(demo, as_of=first)
    refresh(demo, as_of=end)
    once = demo.con.table("stage_history").to_pandas()
    refresh(demo, as_of=end)
    twice = demo.con.table("stage_history").to_pandas()
    key = ["person_id", "entered_at"]
    pd.testing.assert_frame_equal(
        once.sort_values(key).reset_index(drop=True), twice.sort_values(key).reset_index(drop=True)
    )
    assert pd.to_datetime(once["entered_at"]).isin([pd.Timestamp(first), pd.Timestamp(end)]).all()
    open_rows = once[once["left_at"].isna()]
    assert not open_rows["person_id"].duplicated().any()
    # a refresh in the past rolls the history back to what it was then
    refresh(demo, as_of=first)
    back = demo.con.table("stage_history").to_pandas()
    assert (pd.to_datetime(back["entered_at"]) == pd.Timestamp(first)).all()
    assert back["left_at"].isna().all()


def test_backfill_rejects_bad_arguments(demo: Store) -> None:
    with pytest.raises(ConfigError, match="'every' parameter of backfill_stages"):
        backfill_stages(demo, start=date(2025, 1, 1), every="hour")
    with pytest.raises(ConfigError, match="after its end"):
        backfill_stages(demo, start=date(2030, 1, 1), end=date(2025, 1, 1))

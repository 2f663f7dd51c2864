"""customer_facts on CDNOW master against an independent pandas computation."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tenure import Store
from tenure.analytics import customer_facts
from tests.analytics.conftest import CDNOW

END = date(1998, 6, 30)


def _pandas_summary() -> pd.DataFrame:
    raw = pd.read_csv(
        CDNOW, sep=r"\s+", skiprows=1, names=["id", "date", "cds", "value"], dtype={"id": str}
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    daily = raw.groupby(["id", "date"], as_index=False)["value"].sum()
    g = daily.groupby("id")
    first, last = g["date"].min(), g["date"].max()
    out = pd.DataFrame({"frequency": g.size() - 1})
    out["recency_days"] = (last - first).dt.days
    out["T_days"] = (pd.Timestamp(END) - first).dt.days
    daily["first"] = daily["id"].map(first)
    repeat = daily[daily["date"] > daily["first"]].groupby("id")["value"].mean()
    out["monetary"] = repeat.reindex(out.index).fillna(0.0)
    out["revenue"] = raw.groupby("id")["value"].sum()
    out["orders"] = raw.groupby("id").size()
    return out


def test_btyd_summary_matches_pandas_on_cdnow(cdnow: Store) -> None:
    facts = customer_facts(cdnow, as_of=END).to_pandas().set_index("person_id").sort_index()
    expected = _pandas_summary().sort_index()
    assert len(facts) == len(expected) == 23_570
    assert list(facts.index) == list(expected.index)
    for column in ("frequency", "recency_days", "T_days", "orders"):
        np.testing.assert_array_equal(facts[column].to_numpy(), expected[column].to_numpy())
    for column in ("monetary", "revenue"):
        np.testing.assert_allclose(facts[column], expected[column], rtol=0, atol=1e-9)
    np.testing.assert_allclose(facts["T_weeks"], expected["T_days"] / 7, atol=1e-9)
    np.testing.assert_allclose(facts["recency_weeks"], expected["recency_days"] / 7, atol=1e-9)
    assert (facts["repeat_orders"] == facts["orders"] - 1).all()
    assert facts["is_buyer"].all()


def test_gap_statistics_and_days_since_last_order(cdnow: Store) -> None:
    facts = customer_facts(cdnow, as_of=END).to_pandas().set_index("person_id")
    one = facts.loc[facts["frequency"] == 0]
    assert one["gap_mean"].isna().all() and (one["monetary"] == 0).all()
    many = facts.loc[facts["frequency"] >= 1]
    np.testing.assert_allclose(
        many["gap_mean"], many["recency_days"] / many["frequency"], rtol=1e-12
    )
    assert (facts["days_since_last_order"] == facts["T_days"] - facts["recency_days"]).all()


@pytest.mark.slow
def test_profile_shows_the_facts_after_refresh(cdnow_url: str, tmp_path: Path) -> None:
    from tenure.analytics import customer_row
    from tenure.identity import resolve_identities
    from tenure.identity.profile import profile
    from tenure.pipeline import refresh

    copy = tmp_path / "copy.duckdb"
    shutil.copy(cdnow_url.removeprefix("duckdb://"), copy)
    url = f"duckdb://{copy}"
    with Store(url) as store:
        resolve_identities(store)
        assert profile(store, "customer_id:00019")["computed"] == {}
        result = refresh(store, as_of=END)
        assert result.rows["customer_facts"] == 23_570
        computed = profile(store, "customer_id:00019")["computed"]
        assert computed["orders"] == 2 and computed["frequency"] == 1
        assert computed["person_id"].startswith("P-")
        row = customer_row(store, "00019")
        pd.testing.assert_frame_equal(customer_row(store, "customer_id:00019"), row)
        assert row.attrs["money"] == ["revenue", "margin", "aov", "monetary", "first_order_value"]
        assert (row.attrs["currency"], row.attrs["warnings"]) == ("USD", [])

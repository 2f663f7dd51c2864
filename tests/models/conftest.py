"""CDNOW sample (Fader, Hardie & Lee 2005) summarised the way the papers do: time in weeks,
calibration 1997-01-01 .. 1997-09-30 (39 weeks), same-day purchases merged into one, the
first purchase not counted as a repeat."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

CDNOW_SAMPLE = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = pd.Timestamp("1997-09-30")


def cdnow_calibration() -> pd.DataFrame:
    """One row per customer: frequency, recency, T (weeks) and monetary (mean repeat value)."""
    raw = pd.read_csv(
        CDNOW_SAMPLE,
        sep=r"\s+",
        header=None,
        names=["original_id", "customer", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    days = raw.groupby(["customer", "date"], as_index=False)["dollars"].sum()
    first = days.groupby("customer")["date"].transform("min")
    calib = days[days["date"] <= CALIBRATION_END].assign(first=first)
    repeat = calib[calib["date"] > calib["first"]]
    per = calib.groupby("customer").agg(first=("first", "min"))
    per["frequency"] = repeat.groupby("customer").size().reindex(per.index, fill_value=0)
    last = repeat.groupby("customer")["date"].max().reindex(per.index)
    per["recency"] = ((last - per["first"]).dt.days / 7.0).fillna(0.0)
    per["T"] = (CALIBRATION_END - per["first"]).dt.days / 7.0
    per["monetary"] = repeat.groupby("customer")["dollars"].mean().reindex(per.index)
    return per.drop(columns="first")


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    return cdnow_calibration()

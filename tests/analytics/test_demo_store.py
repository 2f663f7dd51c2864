"""`tenure.analytics.demo_store.demo`: the demo store and its headline figures in one call."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tenure import Store
from tenure.analytics.channels import channels
from tenure.analytics.demo_store import DEMO_MONTHS, demo
from tenure.analytics.periods import kpis
from tenure.demo import generate_demo


def test_demo_report_is_the_generated_store_and_its_figures(tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'report.duckdb'}") as st:
        report = demo(st, customers=200, seed=3)
        # read again from the store it wrote: the same figures
        pd.testing.assert_frame_equal(report.channels, channels(st))
        monthly = kpis(st, grain="month")
    with Store(f"duckdb://{tmp_path / 'plain.duckdb'}") as st:
        summary = generate_demo(st, customers=200, seed=3)
    assert {**report.summary.to_dict(), "location": ""} == {**summary.to_dict(), "location": ""}
    assert report.summary.location == str(tmp_path / "report.duckdb")
    last = monthly.tail(DEMO_MONTHS).reset_index(drop=True)
    pd.testing.assert_frame_equal(report.kpis, last)
    assert list(report.kpis["period"]) == [f"2025-{m:02d}" for m in range(1, 13)]
    assert report.kpis.attrs["as_of"] == monthly.attrs["as_of"]
    assert str(report.kpis.attrs["as_of"]) == "2025-12-30"
    assert report.kpis.attrs["currency"] == report.channels.attrs["currency"] == "USD"

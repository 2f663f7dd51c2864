"""`tenure demo`'s quarter of history (tenure.pipeline.demo, docs/demo.md "History"), on the
tests' demo store (800 customers, one year, seed 7, then `tenure run`)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pandas as pd

from tenure import Store
from tenure.pipeline.demo import HISTORY_DAYS, flow_segments, record_days

LAST = date(2024, 12, 30)


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def test_record_days_span_the_quarter_before_the_last_day() -> None:
    days = record_days(LAST)
    assert days[0] == LAST - timedelta(days=HISTORY_DAYS) and days[-1] < LAST
    assert {b - a for a, b in pairwise(days)} == {timedelta(days=21)}


def test_the_demo_holds_a_quarter_of_statuses_stages_and_segments(demo_url: str) -> None:
    first = LAST - timedelta(days=HISTORY_DAYS)
    with Store(demo_url, read_only=True) as store:
        stages = store.read("stage_history").to_pandas()
        weekly = {first + timedelta(days=7 * k) for k in range(13)}
        assert set(_days(stages.entered_at)) == weekly | {LAST}
        assert {"at_risk", "new", "active"} <= set(stages[_days(stages.entered_at) > first].status)
        journey = store.read("journey_history").to_pandas()
        assert set(_days(journey.entered_at)) == {*record_days(LAST), LAST}
        runs = store.read("segment_runs").to_pandas()
        watched = {s.name for s in flow_segments(store)}
        by_day = runs.groupby(runs.refreshed_at.dt.date).segment.agg(set)
        assert all(by_day[d] == watched for d in record_days(LAST))
        m = store.read("segment_membership").to_pandas()
        entered = m[_days(m.entered_at) > first]
        assert watched - {"cross_category_candidates"} <= set(entered.segment)

"""RFM on CDNOW: quintiles, deterministic ties, segments that reconcile, tiers; CLI twin."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.rfm import SEGMENTS, check_segments, rfm, rfm_segments
from tenure.cli import app
from tenure.errors import ConfigError

END = date(1998, 6, 30)


def test_scores_are_quintiles_and_segments_reconcile(cdnow: Store) -> None:
    t = rfm(cdnow, as_of=END).to_pandas()
    assert len(t) == 23_570
    for score in ("r_score", "f_score", "m_score"):
        assert sorted(t[score].value_counts().tolist()) == [4714] * 5
    seg = rfm_segments(cdnow, as_of=END).to_pandas()
    assert seg["customers"].sum() == 23_570
    assert seg["share"].sum() == pytest.approx(1.0)
    assert (t["tier"] == "vip").sum() == pytest.approx(0.05 * 23_570, abs=1)
    # recent customers score higher; ties broken by person id, so a second run is identical
    assert t.groupby("r_score")["recency"].mean().is_monotonic_decreasing
    again = rfm(cdnow, as_of=END).to_pandas()
    assert (
        t.sort_values("person_id")
        .reset_index(drop=True)
        .equals(again.sort_values("person_id").reset_index(drop=True))
    )


def test_mapping_must_cover_every_pair_once() -> None:
    check_segments(SEGMENTS)
    with pytest.raises(ConfigError, match="R=1, FM=1"):
        check_segments(SEGMENTS[:-1])


def test_a_store_can_override_the_mapping(cdnow: Store) -> None:
    two = [("Recent", 3, 5, 1, 5), ("Old", 1, 2, 1, 5)]
    t = rfm(cdnow, as_of=END, segments=two).to_pandas()
    assert set(t["segment"]) == {"Recent", "Old"}
    assert (t["segment"] == "Recent").sum() == 3 * 4714


def test_cli_rfm_json_matches_library(cdnow: Store, cdnow_url: str) -> None:
    expected = rfm_segments(cdnow, as_of=END).to_pandas()
    cdnow.close()
    path = cdnow_url.removeprefix("duckdb://")
    result = CliRunner().invoke(app, ["rfm", "--store", path, "--as-of", "1998-06-30", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["segment"] for r in doc] == expected["segment"].tolist()
    assert [r["customers"] for r in doc] == expected["customers"].tolist()

"""RFM on CDNOW: quintiles, equal scores for equal values, segments that reconcile, tiers;
CLI twin."""

from __future__ import annotations

import json
import random
from datetime import date

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.rfm import SEGMENTS, check_segments, rfm, rfm_segments
from tenure.cli import app
from tenure.errors import ConfigError
from tests.conftest import examples

END = date(1998, 6, 30)


def test_scores_are_quintiles_and_segments_reconcile(cdnow: Store) -> None:
    """Quintiles of the lowest rank: sizes near 23,570 / 5 = 4,714 where values are spread,
    and F 1 holds the 11,908 one-time buyers (50.5%), so F 2 is empty."""
    t = rfm(cdnow, as_of=END).to_pandas()
    assert len(t) == 23_570
    sizes = {s: t[s].value_counts().sort_index().to_dict() for s in ("r_score", "f_score")}
    assert sizes["r_score"] == {1: 4735, 2: 4712, 3: 4702, 4: 4720, 5: 4701}
    assert sizes["f_score"] == {1: 11_908, 3: 4079, 4: 3658, 5: 3925}
    assert t["m_score"].value_counts().sort_index().tolist() == [4817, 4615, 4710, 4715, 4713]
    seg = rfm_segments(cdnow, as_of=END)
    assert seg["customers"].sum() == 23_570
    assert seg["share"].sum() == pytest.approx(1.0)
    assert (t["tier"] == "vip").sum() == pytest.approx(0.05 * 23_570, abs=1)
    # recent customers score higher; a second run is identical
    assert t.groupby("r_score")["days_since_last_order"].mean().is_monotonic_decreasing
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


@pytest.mark.slow
def test_a_store_can_override_the_mapping(cdnow: Store) -> None:
    two = [("Recent", 3, 5, 1, 5), ("Old", 1, 2, 1, 5)]
    t = rfm(cdnow, as_of=END, segments=two).to_pandas()
    assert set(t["segment"]) == {"Recent", "Old"}
    assert (t["segment"] == "Recent").sum() == 4702 + 4720 + 4701


@pytest.mark.slow
def test_cli_rfm_json_matches_library(cdnow: Store, cdnow_url: str) -> None:
    expected = rfm_segments(cdnow, as_of=END)
    cdnow.close()
    path = cdnow_url.removeprefix("duckdb://")
    result = CliRunner().invoke(app, ["rfm", "--store", path, "--as-of", "1998-06-30", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["segment"] for r in doc] == expected["segment"].tolist()
    assert [r["customers"] for r in doc] == expected["customers"].tolist()


# -- ties: equal values, equal scores (issue 11, item 10) ------------------------------------

_TRIPLE = st.tuples(
    st.integers(0, 5),  # days since the last order
    st.integers(1, 4),  # orders
    st.sampled_from([0.0, 9.99, 10.0, 25.5, 100.0]),  # margin
)


def _facts(triples: list[tuple[int, int, float]]) -> ibis.Table:
    return ibis.memtable(
        {
            "person_id": [f"p{i:04d}" for i in range(len(triples))],
            "is_buyer": [True] * len(triples),
            "days_since_last_order": [t[0] for t in triples],
            "orders": [t[1] for t in triples],
            "margin": [t[2] for t in triples],
        }
    )


@examples(40)
def test_equal_values_get_equal_scores_and_segments(examples: int) -> None:
    """Scores depend on the value only, never on the person id: each drawn triple is given to
    1-4 persons with shuffled ids, and every person with the same triple gets the same R, F,
    M, FM and segment; a larger value never gets a lower score."""
    draws = given(
        st.lists(st.tuples(_TRIPLE, st.integers(1, 4)), min_size=1, max_size=25),
        st.randoms(use_true_random=False),
    )
    settings(max_examples=examples, deadline=None)(draws(_scores_follow_values))()


def _scores_follow_values(
    drawn: list[tuple[tuple[int, int, float], int]], rnd: random.Random
) -> None:
    triples = [triple for triple, copies in drawn for _ in range(copies)]
    rnd.shuffle(triples)
    with Store("duckdb://:memory:") as store:
        t = rfm(store, facts=_facts(triples)).to_pandas()
    value = {"r_score": "days_since_last_order", "f_score": "orders", "m_score": "margin"}
    for score, column in value.items():
        assert (t.groupby(column)[score].nunique() == 1).all(), score
    keys = list(value.values())
    per_triple = t.groupby(keys)[["r_score", "f_score", "m_score", "fm_score", "segment"]]
    assert (per_triple.nunique() == 1).all().all()
    for score, column in value.items():
        ordered = t.sort_values(column)[score]
        ordered = ordered if column != "days_since_last_order" else ordered[::-1]
        assert ordered.is_monotonic_increasing, score
    assert t["r_score"].between(1, 5).all() and t["f_score"].between(1, 5).all()


def test_one_time_buyers_share_one_f_score_on_cdnow(cdnow: Store) -> None:
    """CDNOW: the 11,908 one-time buyers all get F = 1 (a person-id tie-break spread them over
    F 1, 2 and 3), and equal (R, F, M) triples always share a segment."""
    t = rfm(cdnow, as_of=END).to_pandas()
    once = t[t["orders"] == 1]
    assert len(once) == 11_908
    assert once["f_score"].unique().tolist() == [1]
    keys = ["days_since_last_order", "orders", "margin"]
    assert (t.groupby(keys)["segment"].nunique() == 1).all()


def test_rfm_results_are_frames_with_their_context(cdnow: Store) -> None:
    """`tenure rfm` (:func:`rfm_segments`) and `tenure rfm --customers` (:func:`rfm_customers`):
    data frames with as_of, money columns, currency and the money warnings."""
    from tenure.analytics.rfm import MONEY_COLUMNS, rfm_customers

    every = rfm_customers(cdnow, as_of=END)
    expected = rfm(cdnow, as_of=END).to_pandas().sort_values("person_id").reset_index(drop=True)
    bare = rfm_customers(cdnow, as_of=END, with_identifiers=False)
    pd.testing.assert_frame_equal(bare, expected)
    # the customer id and e-mail after the person id: CDNOW is not resolved, so a person is
    # their customer id
    assert list(every.columns[:4]) == ["person_id", "customer_id", "email", "other_id"]
    assert (every["customer_id"] == every["person_id"]).all()
    assert every["email"].isna().all() and every["other_id"].isna().all()
    pd.testing.assert_frame_equal(every.drop(columns=["customer_id", "email", "other_id"]), bare)
    segments = rfm_segments(cdnow, as_of=END)
    assert list(segments.columns) == [
        "segment",
        "customers",
        "mean_days_since_last_order",
        "mean_orders",
        "mean_margin",
        "share",
    ]
    assert segments["customers"].is_monotonic_decreasing
    by_segment = every.groupby("segment").size().to_dict()
    assert dict(zip(segments["segment"], segments["customers"], strict=True)) == by_segment
    for frame in (every, segments):
        assert frame.attrs == {
            "as_of": END,
            "money": MONEY_COLUMNS,
            "currency": "USD",
            "warnings": [],
        }

"""Holdout assignment (tenure.engage.holdout): the same answer in Python and in the engine,
pinned to the digest, and a share within its binomial tolerance."""

from __future__ import annotations

import hashlib
import math

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.engage.holdout import holdout_of, in_holdout, threshold
from tenure.errors import ConfigError

IDS = [f"P{i:06d}" for i in range(3000)]


def engine_holdout(ids: list[str], flow: str, share: float) -> list[bool]:
    t = ibis.memtable(pa.table({"person_id": pa.array(ids, pa.string())}))
    out = t.mutate(h=in_holdout(t.person_id, flow, share)).order_by("person_id")
    con = ibis.duckdb.connect()
    return con.to_pyarrow(out).column("h").to_pylist()


def test_the_assignment_is_the_digest_prefix() -> None:
    digest = hashlib.sha256(b"holdout:welcome:P000001").hexdigest()
    bucket = int(digest[:8], 16)
    share = (bucket + 1) / 2**32  # just above the person's bucket: in
    assert holdout_of("P000001", "welcome", share)
    assert not holdout_of("P000001", "welcome", bucket / 2**32)
    assert threshold(0.25) == 2**30


@pytest.mark.parametrize(("flow", "share"), [("welcome", 0.1), ("win-back", 0.5), ("vip", 0.0)])
def test_duckdb_and_python_agree(flow: str, share: float) -> None:
    assert engine_holdout(IDS, flow, share) == [holdout_of(i, flow, share) for i in IDS]


def test_shares_zero_and_one_and_null_persons() -> None:
    assert engine_holdout(IDS[:50], "f", 1.0) == [True] * 50
    assert not any(holdout_of(i, "f", 0.0) for i in IDS)
    t = ibis.memtable(pa.table({"person_id": pa.array([None], pa.string())}))
    assert ibis.duckdb.connect().to_pyarrow(t.mutate(h=in_holdout(t.person_id, "f", 0.5)))[
        "h"
    ].to_pylist() == [False]


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan"), True, "0.1"])
def test_a_share_outside_zero_one_is_refused(share: object) -> None:
    with pytest.raises(ConfigError, match="The 'share' parameter must be a number"):
        holdout_of("P1", "f", share)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    share=st.floats(min_value=0.01, max_value=0.99),
    flow=st.text(min_size=1, max_size=12),
)
def test_the_holdout_share_is_within_binomial_tolerance(share: float, flow: str) -> None:
    n = len(IDS)
    k = sum(holdout_of(i, flow, share) for i in IDS)
    sigma = math.sqrt(n * share * (1 - share))
    assert abs(k - n * share) <= 5 * sigma

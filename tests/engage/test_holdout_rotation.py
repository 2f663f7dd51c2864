"""The rotated holdout (``holdout: {share: 0.1, rotate: 90d}``): parsed, the same set in
Python and in the engine, a different set each period, the same set within one."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pyarrow as pa
import pytest

from tenure import Store
from tenure.engage.flow_spec import parse_flow
from tenure.engage.flows import run_tick
from tenure.engage.holdout import (
    holdout_of,
    in_holdout,
    period_of,
    rotated_subject,
    subject_of,
)
from tenure.errors import ConfigError
from tests.engage.flowkit import T0, all_pending, build, flow_store
from tests.engage.test_flows import _carts

__all__ = ["flow_store"]  # the fixture

IDS = [f"P{i:05d}" for i in range(2000)]
FLOW = """
name: rotating
trigger: {event: Checkout Started}
holdout: {share: 0.2, rotate: 90d}
steps:
  - {id: s, send: {channel: email, template: t}}
"""
R90 = timedelta(days=90)


def test_the_mapping_and_the_scalar_forms_parse() -> None:
    flow = parse_flow(FLOW)
    assert (flow.holdout, flow.holdout_rotate) == (0.2, R90)
    scalar = parse_flow(FLOW.replace("{share: 0.2, rotate: 90d}", "0.1"))
    assert (scalar.holdout, scalar.holdout_rotate) == (0.1, None)
    fixed = parse_flow(FLOW.replace(", rotate: 90d", ""))
    assert (fixed.holdout, fixed.holdout_rotate) == (0.2, None)
    weeks = parse_flow(FLOW.replace("90d", "13w"))
    assert weeks.holdout_rotate == timedelta(weeks=13)


@pytest.mark.parametrize(
    ("holdout", "message"),
    [
        ("{share: 0.2, rotate: 12h}", "line 4, `rotate`: '12h' is not a whole number of days"),
        ("{share: 0.2, rotate: soon}", "line 4, `rotate`: 'soon' is not a duration"),
        ("{rotate: 90d}", "line 4, `share`: write `holdout: {share: 0.1, rotate: 90d}`"),
        ("{share: 0.95}", "line 4, `share`: '0.95' is not a number in \\[0, 0.9\\]"),
        ("{share: 0.1, rotat: 90d}", "unknown key 'rotat' in holdout. Did you mean 'rotate'"),
    ],
)
def test_a_bad_holdout_is_refused_with_its_line(holdout: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_flow(FLOW.replace("{share: 0.2, rotate: 90d}", holdout), "f.yaml")


def test_the_period_counts_whole_days_since_1970() -> None:
    assert period_of(datetime(1970, 3, 31, 23, 59), R90) == 0
    assert period_of(datetime(1970, 4, 1), R90) == 1
    at = datetime(2026, 3, 2, 12)
    assert period_of(at, R90) == (at.date() - datetime(1970, 1, 1).date()).days // 90
    assert subject_of("P1", at, None) == "P1"
    assert subject_of("P1", at, R90) == f"{period_of(at, R90)}:P1"


def engine(times: list[datetime], share: float) -> list[bool]:
    t = ibis.memtable(pa.table({"person_id": IDS, "at": pa.array(times, pa.timestamp("us"))}))
    subject = rotated_subject(t.person_id, t.at, R90)
    out = t.mutate(h=in_holdout(subject, "rotating", share)).order_by("person_id")
    return ibis.duckdb.connect().to_pyarrow(out).column("h").to_pylist()


def test_engine_and_python_agree_and_the_set_changes_each_period() -> None:
    first, same, next_ = datetime(2026, 1, 2), datetime(2026, 2, 20), datetime(2026, 6, 1)
    assert period_of(first, R90) == period_of(same, R90) != period_of(next_, R90)
    a = engine([first] * len(IDS), 0.2)
    assert a == [holdout_of(subject_of(p, first, R90), "rotating", 0.2) for p in IDS]
    assert engine([same] * len(IDS), 0.2) == a  # the same period: the same set
    b = engine([next_] * len(IDS), 0.2)
    assert b == [holdout_of(subject_of(p, next_, R90), "rotating", 0.2) for p in IDS]
    both = sum(x and y for x, y in zip(a, b, strict=True))
    # independent draws: about 0.2 x 0.2 of the persons are held out in both periods
    assert 80 - 40 < both < 80 + 40
    assert 0.2 * 2000 - 90 < sum(b) < 0.2 * 2000 + 90


def test_a_tick_holds_out_by_the_period_of_the_trigger(flow_store: Store) -> None:
    """Through the engine's default assignment: each stay held out exactly when the
    rotated hash of its person and trigger time says so."""
    events, orders = _carts()
    build(flow_store, events, orders)
    flow = parse_flow(FLOW.replace("0.2", "0.5"))
    run_tick(flow_store, [flow], T0 + timedelta(hours=2), decide=all_pending)
    s = flow_store.table("flow_state").to_pandas()
    assert len(s) > 100
    want = [
        holdout_of(subject_of(p, at.to_pydatetime(), R90), "rotating", 0.5)
        for p, at in zip(s["person_id"], s["trigger_at"], strict=True)
    ]
    assert s["holdout"].tolist() == want
    assert 0 < sum(want) < len(want)

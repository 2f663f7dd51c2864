"""The shipped seed flows' entries on a hand-built store (docs/flows.md, "The shipped
flows"): each segment-triggered flow enters exactly the persons who entered its segment in
the tick's window, the newsletter goes to its segment's members at 10:00 local on Monday, and
the birthday flow fires on the day."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd

from tenure import Store
from tenure.engage.flow_spec import load_flows, shipped_dir
from tests.engage.flowkit import T0, build
from tests.engage.test_flows import messages, stays, tick

H = timedelta(hours=1)
FLOWS = {f.name: f for f in load_flows(sorted(shipped_dir().glob("*.yaml")))}
#: segment -> (flow, who entered within the day before T0, who entered long before)
SEGMENT_FLOWS = {
    "new_subscribers": ("subscriber_activation", ["p1"], ["p2"]),
    "browse_abandoners": ("browse_abandonment", ["p2", "p3"], []),
    "vip": ("vip", ["p4"], ["p5"]),
    "one_time_buyers": ("discount_escalation", ["p5", "p6"], ["p1"]),
    "cross_category_candidates": ("cross_category", ["p6"], ["p3"]),
    "detractors": ("detractor_recovery", ["p3"], ["p4"]),
}


def _membership(store: Store) -> None:
    schema = ibis.schema(
        {"segment": "string", "person_id": "string", "entered_at": "timestamp"}
        | {"exited_at": "timestamp"}
    )
    store.create("segment_membership", schema)
    rows = []
    for segment, (_, recent, old) in SEGMENT_FLOWS.items():
        rows += [(segment, p, T0 - 5 * H) for p in recent]
        rows += [(segment, p, T0 - timedelta(days=40)) for p in old]
    frame = pd.DataFrame(rows, columns=["segment", "person_id", "entered_at"])
    frame["exited_at"] = pd.Series([None] * len(frame), dtype="datetime64[us]")
    store.append("segment_membership", frame)


def test_each_segment_flow_enters_its_segments_new_members(flow_store: Store) -> None:
    build(flow_store, [], [])
    _membership(flow_store)
    flows = [FLOWS[flow] for flow, _, _ in SEGMENT_FLOWS.values()]
    result = tick(flow_store, flows, T0)
    assert {f.flow: f.note for f in result.flows} == {f.name: None for f in flows}
    s = stays(flow_store)
    entered = {f: sorted(g.person_id) for f, g in s.groupby("flow")}
    assert entered == {flow: sorted(new) for flow, new, _ in SEGMENT_FLOWS.values()}
    m = messages(flow_store)
    first = {(f, p): step for f, p, step in zip(m.flow, m.person_id, m.step, strict=True)}
    # the naked offer first: no discount in the first message of any of them
    assert first[("discount_escalation", "p5")] == "content"
    assert first[("detractor_recovery", "p3")] in ("service", "apology")
    assert ("subscriber_activation", "p1") not in first  # waits 3 days before writing
    vip = m[(m.flow == "vip") & (m.channel == "trait")]
    assert list(vip.person_id) == ["p4"]


def test_the_newsletter_goes_to_its_segment_at_ten_local_on_monday(flow_store: Store) -> None:
    build(flow_store, [], [])
    _membership(flow_store)
    tick(flow_store, [FLOWS["newsletter"]], T0)  # Monday 12:00 UTC
    m = messages(flow_store).set_index("person_id")
    assert sorted(m.index) == ["p1", "p5", "p6"]
    assert set(m.due_at) == {datetime(2026, 3, 2, 10, 0)}


def test_the_shipped_birthday_fires_on_the_day_at_nine(flow_store: Store) -> None:
    build(flow_store, [], [])  # p3's birthday is 5 March
    tick(flow_store, [FLOWS["birthday"]], datetime(2026, 3, 5, 12, 0))
    m = messages(flow_store)
    assert list(zip(m.person_id, m.step, m.due_at, strict=True)) == [
        ("p3", "greeting", datetime(2026, 3, 5, 9, 0))
    ]
    assert '"code_prefix": "BDAY"' in m.payload[0]

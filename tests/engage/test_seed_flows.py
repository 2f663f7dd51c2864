"""The shipped seed flows' entries on a hand-built store (docs/flows.md, "The shipped
flows"): each segment-triggered flow enters exactly the persons who entered its segment in
the tick's window, the newsletter goes to its segment's members at 10:00 local on Monday, and
the birthday flow fires on the day."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

import ibis
import pandas as pd

from tenure import Store
from tenure.engage.flow_spec import load_flows, shipped_dir
from tests.engage.flowkit import T0, build, event
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


def _history(store: Store, table: str, column: str, rows: list[tuple[str, str, int]]) -> None:
    """``table`` (stage_history or journey_history) with (person, value, days before T0's
    day) stays; a first-day row for p6 so the others are entries, not the first record."""
    schema = ibis.schema(
        {"person_id": "string", column: "string", "entered_at": "date", "left_at": "date"}
    )
    store.create(table, schema)
    day = T0.date()
    rows = [("p6", "active", 30), *rows]
    frame = pd.DataFrame(
        {
            "person_id": [p for p, _, _ in rows],
            column: [v for _, v, _ in rows],
            "entered_at": [day - timedelta(days=d) for _, _, d in rows],
            "left_at": [None] * len(rows),
        }
    )
    store.append(table, frame)


def test_at_risk_reactivation_enters_the_new_at_risk_and_sends_the_news(
    flow_store: Store,
) -> None:
    """p1 became at risk yesterday (an entry, known at midnight), p2 today (not over yet)."""
    build(flow_store, [], [])
    _history(flow_store, "stage_history", "status", [("p1", "at_risk", 1), ("p2", "at_risk", 0)])
    flow = dataclasses.replace(FLOWS["at_risk_reactivation"], holdout=0.0)
    tick(flow_store, [flow], T0)
    s = stays(flow_store)
    assert list(zip(s.person_id, s.trigger_id, strict=True)) == [
        ("p1", "status:at_risk:2026-03-01")
    ]
    m = messages(flow_store)
    assert list(zip(m.person_id, m.step, m.due_at, strict=True)) == [
        ("p1", "news", datetime(2026, 3, 2, 0, 0))
    ]


def test_referral_invitation_waits_a_day_after_entering_advocate(flow_store: Store) -> None:
    """p4 entered the advocate stage on 1 March (known at midnight): invited a day later."""
    build(flow_store, [], [])
    _history(flow_store, "journey_history", "stage", [("p4", "advocate", 1)])
    flow = FLOWS["referral_invitation"]
    tick(flow_store, [flow], T0)
    assert list(stays(flow_store).person_id) == ["p4"] and messages(flow_store).empty
    tick(flow_store, [flow], T0 + timedelta(days=1))
    m = messages(flow_store)
    assert list(zip(m.person_id, m.step, m.due_at, strict=True)) == [
        ("p4", "invite", datetime(2026, 3, 3, 0, 0))
    ]


def test_credit_expiry_reminder_a_week_before(flow_store: Store) -> None:
    """p1's credit expires on 9 March: reminded on 2 March at 10:00; p2's on 20 March: not
    yet."""
    build(flow_store, [], [])
    traits = {"c-p1": "2026-03-09", "c-p2": "2026-03-20"}
    customers = flow_store.table("customers").to_pandas()
    customers["traits"] = [
        f'{{"credit_expires_at": "{traits[c]}"}}' if c in traits else t
        for c, t in zip(customers.customer_id, customers.traits, strict=True)
    ]
    flow_store.truncate("customers")
    flow_store.insert("customers", customers)
    tick(flow_store, [FLOWS["credit_expiry_reminder"]], T0)
    m = messages(flow_store)
    assert list(zip(m.person_id, m.step, m.due_at, strict=True)) == [
        ("p1", "reminder", datetime(2026, 3, 2, 10, 0))
    ]


def test_loyalty_offer_goes_to_the_vip_segment_on_the_first(flow_store: Store) -> None:
    build(flow_store, [], [])
    _membership(flow_store)  # vip: p4 (recent) and p5 (long ago), both members now
    tick(flow_store, [FLOWS["loyalty_offer"]], datetime(2026, 4, 1, 12, 0))
    m = messages(flow_store)
    sent = m[m.channel == "email"]
    assert sorted(sent.person_id) == ["p4", "p5"]
    assert set(sent.step) == {"early_access"}
    assert set(sent.due_at) == {datetime(2026, 4, 1, 9, 0)}


def test_cart_cross_sell_names_the_pairs_of_the_added_product(flow_store: Store) -> None:
    """p1 adds P1 to the cart: the on-site message names the three products bought most with
    it, highest lift first (product_pairs)."""
    added = event("m1", "p1", "Product Added", T0 - H, '{"product_id": "P1"}')
    build(flow_store, [added], [])
    pairs = pd.DataFrame(
        {
            "product_id": ["P1", "P1", "P1", "P1", "P2"],
            "other_id": ["P2", "P3", "P4", "P5", "P1"],
            "lift": [1.5, 3.0, 2.0, 1.1, 1.5],
        }
    )
    flow_store.create(
        "product_pairs",
        ibis.schema({"product_id": "string", "other_id": "string", "lift": "float64"}),
    )
    flow_store.append("product_pairs", pairs)
    tick(flow_store, [FLOWS["cart_cross_sell"]], T0)
    m = messages(flow_store)
    assert list(m.person_id) == ["p1"] and list(m.channel) == ["onsite"]
    assert json.loads(m.payload.iloc[0])["products"] == ["P3", "P4", "P2"]

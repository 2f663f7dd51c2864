"""The flow engine on a hand-built store with a frozen clock (docs/flows.md, "The tick"):
who enters, what is decided when, exits, re-entry, idempotent ticks, variants and holdouts.
The send policy and the holdout are the simple stand-ins of flowkit.py."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.engage.flow_spec import Flow, load_flows, parse_flow, shipped_dir
from tenure.engage.flows import TickResult, flow_overview, run_tick, set_paused
from tests.engage.flowkit import (
    PERSONS,
    T0,
    all_pending,
    build,
    event,
    order,
    python_holdout,
    python_share,
)

CART = load_flows([shipped_dir() / "abandoned_cart.yaml"])[0]
H = timedelta(hours=1)


def tick(store: Store, flows: list[Flow], now: datetime) -> TickResult:
    return run_tick(store, flows, now, decide=all_pending, holdout=python_holdout)


def messages(store: Store) -> pd.DataFrame:
    frame = store.table("messages").to_pandas()
    return frame.sort_values(["person_id", "due_at", "step"]).reset_index(drop=True)


def stays(store: Store) -> pd.DataFrame:
    frame = store.table("flow_state").to_pandas().drop(columns=["updated_at"])
    return frame.sort_values(["flow", "person_id", "trigger_id"]).reset_index(drop=True)


def _carts() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The six named persons' stories, then 400 random ones (seed 5): a checkout in the last
    30 hours, and for some an order 10 minutes to 3 hours later."""
    events = [
        event("e1", "p1", "Checkout Started", T0 - 3 * H),  # no order: enters at T0-2h
        event("e2", "p2", "Checkout Started", T0 - 3 * H),  # ordered within the hour
        event("e3", "p3", "Checkout Started", T0 - H / 2),  # its hour is not over at T0
        event("e4", "p4", "Checkout Started", T0 - 5 * H),  # ordered after the hour
        event("e5", "p5", "Product Viewed", T0 - 3 * H),  # no cart
        event("e6", "p6", "Checkout Started", T0 - 50 * H),  # before the first tick's lookback
    ]
    orders = [order("o2", "p2", T0 - 2.5 * H), order("o4", "p4", T0 - 3 * H)]
    rng = random.Random(5)
    for i in range(400):
        person = f"q{i:03d}"
        at = T0 - timedelta(minutes=rng.randrange(0, 30 * 60))
        events.append(event(f"eq{i}", person, "Checkout Started", at))
        if rng.random() < 0.4:
            orders.append(order(f"oq{i}", person, at + timedelta(minutes=rng.randrange(10, 180))))
    return events, orders


def _expected_entries(events: list[dict[str, object]], orders: list[dict[str, object]]) -> set[str]:
    """Independently: the persons with a checkout whose hour ended in (T0 - 1 day, T0] and no
    order within that hour."""
    e = pd.DataFrame(events)
    e = e[e.event == "Checkout Started"]
    e["person"] = e.anonymous_id.str.removeprefix("a-")
    o = pd.DataFrame(orders)
    o["person"] = o.customer_id.str.removeprefix("c-")
    out = set()
    for row in e.itertuples():
        ready = row.timestamp + H
        if not (T0 - timedelta(days=1) < ready <= T0):
            continue
        mine = o[o.person == row.person]
        if ((mine.ordered_at >= row.timestamp) & (mine.ordered_at <= ready)).any():
            continue
        out.add(row.person)
    return out


def test_abandoned_cart_enters_exactly_the_carts_without_an_order(flow_store: Store) -> None:
    events, orders = _carts()
    build(flow_store, events, orders)
    expected = _expected_entries(events, orders)
    assert {"p1", "p4"} <= expected and not {"p2", "p3", "p5", "p6"} & expected

    result = tick(flow_store, [CART], T0)

    s = stays(flow_store)
    assert set(s.person_id) == expected
    assert result.flows[0].entered == len(expected)
    first = messages(flow_store)
    assert set(first.person_id) == expected and set(first.step) == {"email_cart"}
    held = {p for p in expected if python_share(p, CART.name) < CART.holdout}
    assert set(first[first.state == "holdout"].person_id) == held
    assert set(first[first.state == "pending"].person_id) == expected - held
    # the message is due when the hour without an order ended, not at the tick
    p1 = first[first.person_id == "p1"].iloc[0]
    assert p1.due_at == T0 - 2 * H and p1.trigger_id == "e1"
    # p4 ordered after entering: the stay ended at the tick
    p4 = s[s.person_id == "p4"].iloc[0]
    assert (p4.status, p4.exit_reason) == ("exited", "ordered")


def test_the_flow_waits_sends_and_exits_on_order(flow_store: Store) -> None:
    events, orders = _carts()
    build(flow_store, events, orders)
    tick(flow_store, [CART], T0)
    assert set(messages(flow_store).step) == {"email_cart"}
    # a day later: the free delivery, and p3 (its hour ended at T0+30m) enters and gets both
    tick(flow_store, [CART], T0 + timedelta(days=1, hours=1))
    m = messages(flow_store)
    assert list(m[m.person_id == "p3"].step) == ["email_cart", "free_delivery"]
    assert list(m[m.person_id == "p1"].step) == ["email_cart", "free_delivery"]
    # p1 orders; three days on, p1 has left and the others got the discount
    flow_store.insert("orders", pd.DataFrame([order("o1b", "p1", T0 + timedelta(days=1, hours=2))]))
    tick(flow_store, [CART], T0 + timedelta(days=4))
    m = messages(flow_store)
    assert list(m[m.person_id == "p1"].step) == ["email_cart", "free_delivery"]
    last = m[(m.person_id == "p3") & (m.step == "last_call")].iloc[0]
    assert last.due_at == T0 + timedelta(days=3, minutes=30)
    assert '"code": "CART' in last.payload and '"percent": "10"' in last.payload
    s = stays(flow_store).set_index("person_id")
    assert (s.loc["p1", "status"], s.loc["p1", "exit_reason"]) == ("exited", "ordered")
    assert (s.loc["p3", "status"], s.loc["p3", "exit_reason"]) == ("exited", "exit step")


def test_the_same_tick_twice_decides_nothing_twice(flow_store: Store) -> None:
    events, orders = _carts()
    build(flow_store, events, orders)
    tick(flow_store, [CART], T0)
    later = T0 + timedelta(days=1, hours=1)
    tick(flow_store, [CART], later)
    once_m, once_s = messages(flow_store), stays(flow_store)
    again = tick(flow_store, [CART], later)
    assert again.flows[0].entered == 0 and again.flows[0].messages == {}
    pd.testing.assert_frame_equal(messages(flow_store), once_m)
    pd.testing.assert_frame_equal(stays(flow_store), once_s)
    assert once_m.message_key.is_unique


@pytest.mark.slow
def test_ticks_late_or_on_time_decide_the_same_messages(tmp_path: object) -> None:
    """A stay runs each step at its own time: one late tick gives the messages of many."""
    events, orders = _carts()
    runs = []
    for nows in (
        [T0, T0 + timedelta(days=2)],
        [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)],
    ):
        with Store("duckdb://:memory:") as store:
            build(store, events, orders)
            for now in nows:
                tick(store, [CART], now)
            runs.append(messages(store).drop(columns=["decided_at", "updated_at"]))
    pd.testing.assert_frame_equal(runs[0], runs[1])


REPEAT = """
name: viewed
trigger: {{event: Product Viewed}}
reentry: {reentry}
steps:
  - id: hello
    send: {{channel: email, template: hello}}
"""


@pytest.mark.parametrize(
    ("reentry", "entries"),
    [("never", 1), ("always", 3), ("{after: 2d}", 2)],
)
def test_reentry_rules(flow_store: Store, reentry: str, entries: int) -> None:
    """p5 views a product on days 0, 1 and 3: never enters once, always each time, after 2
    days on days 0 and 3."""
    days = (0, 1, 3)
    build(
        flow_store,
        [event(f"v{d}", "p5", "Product Viewed", T0 + timedelta(days=d)) for d in days],
        [],
    )
    flow = parse_flow(REPEAT.format(reentry=reentry), "viewed.yaml")
    for d in days:
        tick(flow_store, [flow], T0 + timedelta(days=d, hours=1))
    assert len(stays(flow_store)) == entries
    assert len(messages(flow_store)) == entries


def test_one_open_stay_per_person_and_the_first_instance_of_a_tick(flow_store: Store) -> None:
    build(
        flow_store,
        [
            event("v1", "p5", "Product Viewed", T0 - 2 * H),
            event("v2", "p5", "Product Viewed", T0 - H),
        ],
        [],
    )
    flow = parse_flow(
        "name: v\ntrigger: {event: Product Viewed}\nreentry: always\nsteps:\n"
        "  - {id: w, wait: 1d}\n  - {id: s, send: {channel: sms, template: t}}\n",
        "v.yaml",
    )
    tick(flow_store, [flow], T0)
    s = stays(flow_store)
    assert list(s.trigger_id) == ["v1"] and list(s.status) == ["active"]


VARIANTS = """
name: ab
trigger: {event: Checkout Started}
holdout: 0.2
steps:
  - id: mail
    send:
      channel: email
      variants:
        - {name: a, share: 0.5, template: ta}
        - {name: b, share: 0.3, template: tb}
        - {name: c, share: 0.2, template: tc}
"""


def test_variants_and_holdout_are_deterministic() -> None:
    events, orders = _carts()
    flow = parse_flow(VARIANTS, "ab.yaml")
    runs = []
    for _ in range(2):
        with Store("duckdb://:memory:") as store:
            build(store, events, orders)
            tick(store, [flow], T0)
            runs.append(messages(store))
    pd.testing.assert_frame_equal(
        runs[0].drop(columns=["decided_at", "updated_at"]),
        runs[1].drop(columns=["decided_at", "updated_at"]),
    )
    m = runs[0]
    shares = m.variant.value_counts(normalize=True)
    assert set(shares.index) == {"a", "b", "c"}
    assert abs(shares["a"] - 0.5) < 0.1 and abs(shares["b"] - 0.3) < 0.1
    assert all(f'"template": "t{v}"' in p for v, p in zip(m.variant, m.payload, strict=True))
    held = set(m[m.state == "holdout"].person_id)
    assert held == {p for p in m.person_id if python_share(p, "ab") < 0.2}
    assert 0.1 < len(held) / len(m) < 0.3


def test_wait_until_reads_each_persons_clock(flow_store: Store) -> None:
    """p2 lives in Paris (UTC+1 in March): 10:00 there is 09:00 UTC."""
    build(
        flow_store,
        [event("x1", "p1", "Product Viewed", T0 - H), event("x2", "p2", "Product Viewed", T0 - H)],
        [],
    )
    flow = parse_flow(
        "name: morning\ntrigger: {event: Product Viewed}\nsteps:\n"
        "  - {id: ten, wait_until: '10:00'}\n  - {id: s, send: {channel: email, template: t}}\n",
        "m.yaml",
    )
    tick(flow_store, [flow], T0)
    s = stays(flow_store).set_index("person_id")
    assert s.loc["p1", "next_at"] == datetime(2026, 3, 3, 10, 0)
    assert s.loc["p2", "next_at"] == datetime(2026, 3, 3, 9, 0)
    tick(flow_store, [flow], T0 + timedelta(days=1))
    m = messages(flow_store).set_index("person_id")
    assert m.loc["p2", "due_at"] == datetime(2026, 3, 3, 9, 0)


def test_a_birthday_fires_every_year_before_the_day(flow_store: Store) -> None:
    """p3's birthday trait is 1990-03-05: three days before, at midnight UTC."""
    build(flow_store, [], [])
    flow = parse_flow(
        "name: birthday\ntrigger: {date: birthday, offset: -3d, yearly: true}\n"
        "reentry: always\nsteps:\n  - {id: s, send: {channel: email, template: bday}}\n",
        "b.yaml",
    )
    tick(flow_store, [flow], T0)
    tick(flow_store, [flow], T0 + timedelta(days=365))
    s = stays(flow_store)
    assert list(s.person_id) == ["p3", "p3"]
    assert list(s.trigger_id) == ["date:birthday:2026-03-05", "date:birthday:2027-03-05"]
    assert list(s.trigger_at) == [datetime(2026, 3, 2), datetime(2027, 3, 2)]


def test_a_weekly_schedule_fires_at_nine_in_each_time_zone(flow_store: Store) -> None:
    build(flow_store, [], [])
    flow = parse_flow(
        "name: weekly\ntrigger: {schedule: {every: week, day: monday, time: '09:00'}}\n"
        "reentry: always\nsteps:\n  - {id: s, send: {channel: email, template: news}}\n",
        "w.yaml",
    )
    tick(flow_store, [flow], T0)  # Monday 12:00 UTC
    s = stays(flow_store).set_index("person_id")
    assert len(s) == 406 and set(s.trigger_id) == {"schedule:2026-03-02T09:00:00"}
    assert s.loc["p2", "trigger_at"] == datetime(2026, 3, 2, 8, 0)
    assert s.loc["p1", "trigger_at"] == datetime(2026, 3, 2, 9, 0)
    assert set(s.status) == {"completed"}


def test_segment_entries_and_branches_read_segment_membership(flow_store: Store) -> None:
    import ibis

    build(flow_store, [], [])
    schema = ibis.schema(
        {
            "segment": "string",
            "person_id": "string",
            "entered_at": "timestamp",
            "exited_at": "timestamp",
        }
    )
    flow_store.create("segment_membership", schema)
    rows = pd.DataFrame(
        {
            "segment": ["vip", "vip", "vip", "fans"],
            "person_id": ["p1", "p2", "p3", "p1"],
            "entered_at": [T0 - H, T0 - 2 * H, T0 - timedelta(days=3), T0 - timedelta(days=9)],
            "exited_at": [None, None, None, None],
        }
    )
    flow_store.append("segment_membership", rows.astype({"exited_at": "datetime64[us]"}))
    flow = parse_flow(
        "name: vip_hello\ntrigger: {segment: vip, on: enter}\nsteps:\n"
        "  - id: fan\n    branch: {if: {in_segment: fans}, then: fan_mail, else: plain}\n"
        "  - {id: plain, send: {channel: email, template: plain}}\n"
        "  - {id: end, exit: true}\n"
        "  - {id: fan_mail, send: {channel: email, template: fan}}\n",
        "v.yaml",
    )
    tick(flow_store, [flow], T0)
    m = messages(flow_store).set_index("person_id")
    assert sorted(m.index) == ["p1", "p2"]
    assert (m.loc["p1", "step"], m.loc["p2", "step"]) == ("fan_mail", "plain")


def test_status_entries_trigger(flow_store: Store) -> None:
    """p1 became lapsed on 2 March; p2's lapsed stay is on the history's first day (1 March),
    when everyone's status was first recorded: not an entry."""
    import ibis

    build(flow_store, [], [])
    schema = ibis.schema(
        {"person_id": "string", "status": "string", "entered_at": "date", "left_at": "date"}
    )
    flow_store.create("stage_history", schema)
    day = T0.date()
    flow_store.append(
        "stage_history",
        pd.DataFrame(
            {
                "person_id": ["p1", "p2", "p3", "p1"],
                "status": ["lapsed", "lapsed", "active", "at_risk"],
                "entered_at": [day, day - timedelta(days=1), day, day - timedelta(days=1)],
                "left_at": [None, None, None, day],
            }
        ),
    )
    text = (shipped_dir() / "win_back.yaml").read_text() + "lookback: 3d\n"
    win_back = parse_flow(text, "win_back.yaml")
    tick(flow_store, [win_back], T0)  # the day of the entry is not over
    assert stays(flow_store).empty
    tick(flow_store, [win_back], T0 + timedelta(hours=12))
    s = stays(flow_store)
    assert list(s.person_id) == ["p1"] and list(s.trigger_id) == ["status:lapsed:2026-03-02"]
    assert list(s.trigger_at) == [datetime(2026, 3, 3)]


def test_a_paused_flow_does_nothing_until_resumed(flow_store: Store) -> None:
    events, orders = _carts()
    build(flow_store, events, orders)
    set_paused(flow_store, CART, True)
    result = tick(flow_store, [CART], T0)
    assert result.flows[0].paused and flow_store.count("messages") == 0
    assert flow_store.count("flow_ticks") == 0
    set_paused(flow_store, CART, False)
    tick(flow_store, [CART], T0)
    overview = flow_overview(flow_store, [CART]).iloc[0]
    assert not overview.paused and overview.pending + overview.holdout == len(stays(flow_store))
    assert overview.active == (stays(flow_store).status == "active").sum()


def test_every_shipped_flow_ticks(flow_store: Store) -> None:
    events, orders = _carts()
    build(flow_store, events, orders)
    flows = load_flows(sorted(shipped_dir().glob("*.yaml")))
    assert {"abandoned_cart", "welcome_series", "post_purchase", "win_back", "ask_opinion"} <= {
        f.name for f in flows
    }
    result = tick(flow_store, flows, T0)
    notes = {f.flow: f.note for f in result.flows}
    assert "journey_history" in str(notes["ask_opinion"])  # not built on this store
    assert notes["abandoned_cart"] is None
    assert set(PERSONS) >= {"p1"}


def test_where_keeps_the_events_with_those_properties_and_binds_values(flow_store: Store) -> None:
    build(
        flow_store,
        [
            event("w1", "p1", "Product Added", T0 - H, '{"currency": "EUR", "sku": 12}'),
            event("w2", "p2", "Product Added", T0 - H, '{"currency":"USD","sku":12}'),
            event("w3", "p3", "Product Added", T0 - H, '{"sku": 12}'),
        ],
        [order("o9", "p6", T0 - 9 * H)],
    )
    flow = parse_flow(
        "name: eur\ntrigger: {event: Product Added, where: {currency: EUR, sku: '12'}}\n"
        "steps:\n  - {id: s, send: {channel: onsite, template: t}}\n",
        "eur.yaml",
    )
    tick(flow_store, [flow], T0)
    assert list(stays(flow_store).person_id) == ["p1"]
    hostile = parse_flow(
        'name: hostile\ntrigger:\n  event: "Product Added\'; drop table orders; --"\n'
        '  where: {"a\'b(": "\'; drop table orders; --"}\n'
        "steps:\n  - {id: s, send: {channel: onsite, template: t}}\n",
        "hostile.yaml",
    )
    result = tick(flow_store, [hostile], T0)
    assert result.flows[0].entered == 0 and flow_store.count("orders") == 1


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hours=st.lists(st.integers(min_value=0, max_value=96), min_size=1, max_size=3, unique=True))
def test_any_ticks_run_twice_decide_what_they_decide_once(hours: list[int]) -> None:
    """Whatever the clocks of the ticks, repeating each tick adds no message and no stay."""
    events, orders = _carts()
    runs = []
    for repeat in (1, 2):
        with Store("duckdb://:memory:") as store:
            build(store, events, orders)
            for h in sorted(hours):
                for _ in range(repeat):
                    tick(store, [CART], T0 + timedelta(hours=h))
            runs.append((messages(store).drop(columns=["decided_at", "updated_at"]), stays(store)))
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0])
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize(("reentry", "entries"), [("never", 1), ("always", 3), ("{after: 2d}", 2)])
def test_one_late_tick_enters_what_ticks_on_time_would(
    flow_store: Store, reentry: str, entries: int
) -> None:
    """The views of days 0, 1 and 3 read by one tick on day 3 (a 5-day lookback): the same
    entries as a tick each day, and the tick repeated adds none."""
    days = (0, 1, 3)
    views = [event(f"v{d}", "p5", "Product Viewed", T0 + timedelta(days=d)) for d in days]
    build(flow_store, views, [])
    flow = parse_flow(REPEAT.format(reentry=reentry) + "lookback: 5d\n", "viewed.yaml")
    late = T0 + timedelta(days=3, hours=1)
    assert tick(flow_store, [flow], late).flows[0].entered == entries
    assert tick(flow_store, [flow], late).flows[0].entered == 0
    assert len(stays(flow_store)) == len(messages(flow_store)) == entries

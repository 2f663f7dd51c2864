"""A late tick decides what ticks on time would have (docs/flows.md, "The tick"): a
schedule's audience is who belonged at each occurrence, a wait until a time of day reads the
person's offset at the stay's own time, across a daylight saving change, and a backtest's
tick spans no more entries than one tick makes."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd

from tenure import Store
from tenure.engage.backtest import max_step
from tenure.engage.flow_spec import load_flows, parse_flow, shipped_dir
from tenure.engage.flows import run_tick
from tenure.engage.triggers import offset_spans, zone_of
from tests.engage.flowkit import T0, all_pending, build, event, python_holdout

D = timedelta(days=1)


def _state(store: Store) -> pd.DataFrame:
    return store.table("flow_state").to_pandas().sort_values(["person_id", "trigger_at"])


def test_a_schedule_sends_to_who_belonged_at_each_occurrence(flow_store: Store) -> None:
    build(flow_store, [], [])
    at = datetime.fromisoformat
    stays = pd.DataFrame(
        {
            "segment": ["news"] * 3,
            "person_id": ["p1", "p3", "p4"],
            "entered_at": [at("2026-02-01"), at("2026-03-02 10:00"), at("2026-02-01")],
            "exited_at": [None, None, at("2026-03-01")],
        }
    ).astype({"exited_at": "datetime64[us]"})
    flow_store.replace("segment_membership", ibis.memtable(stays))
    flow = parse_flow(
        "name: weekly\ntrigger: {schedule: {every: week, day: monday, time: '09:00', "
        "segment: news}}\nreentry: always\nlookback: 10d\n"
        "steps:\n  - {id: s, send: {channel: email, template: news}}\n",
        "w.yaml",
    )
    # one tick a week late: Mondays 2 and 9 March, 09:00 UTC (p1 and p3 have no zone)
    run_tick(flow_store, [flow], T0 + 7 * D, decide=all_pending, holdout=python_holdout)
    s = _state(flow_store)
    got = list(zip(s.person_id, s.trigger_at, strict=True))
    assert got == [
        ("p1", at("2026-03-02 09:00")),
        ("p1", at("2026-03-09 09:00")),
        ("p3", at("2026-03-09 09:00")),
    ]


def test_a_late_wait_until_reads_the_offset_of_the_stays_own_day(flow_store: Store) -> None:
    """p2 lives in Paris: UTC+1 until 29 March 2026 at 01:00 UTC, UTC+2 after. A tick run on
    5 April still sends at 10:00 Paris time of the stays' own days."""
    events = [
        event("x1", "p2", "Product Viewed", datetime(2026, 3, 20, 12)),  # 10:00 CET: 09:00
        event("x2", "p2", "Product Viewed", datetime(2026, 3, 28, 23, 30)),  # the night of
    ]
    build(flow_store, events, [])
    flow = parse_flow(
        "name: morning\ntrigger: {event: Product Viewed}\nreentry: always\nlookback: 30d\n"
        "steps:\n  - {id: ten, wait_until: '10:00'}\n"
        "  - {id: s, send: {channel: email, template: t}}\n",
        "m.yaml",
    )
    run_tick(flow_store, [flow], datetime(2026, 4, 5), decide=all_pending, holdout=python_holdout)
    m = flow_store.table("messages").to_pandas().sort_values("due_at")
    assert list(m.due_at) == [datetime(2026, 3, 21, 9), datetime(2026, 3, 29, 8)]


def test_offset_spans_find_the_change_to_the_second() -> None:
    spans = offset_spans(zone_of("Europe/Paris", "UTC"), datetime(2026, 3, 1), datetime(2026, 4, 1))
    assert spans == [(None, datetime(2026, 3, 29, 1), 3600), (datetime(2026, 3, 29, 1), None, 7200)]


def test_a_backtest_tick_spans_at_most_the_entries_one_tick_makes() -> None:
    """A tick enters a person at most ROUNDS (10) times: a backtest's step is cut to nine
    of the least gaps between two entries (a weekly newsletter: 63 days, where one 90-day
    tick would send 10 of its 13 issues)."""
    flows = {f.name: f for f in load_flows(sorted(shipped_dir().glob("*.yaml")))}
    got = {name: max_step(flow) for name, flow in flows.items()}
    assert got["newsletter"] == got["abandoned_cart"] == timedelta(days=63)
    assert got["cart_cross_sell"] == timedelta(days=126)
    assert got["loyalty_offer"] == timedelta(days=252)
    assert got["birthday"] == timedelta(days=9 * 365)
    assert got["welcome_series"] is got["seasonal"] is got["ask_opinion"] is None

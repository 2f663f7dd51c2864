"""The shipped flows on the tests' demo store (800 customers, 2024, after `tenure run`):
each validates and ticks, and the abandoned cart enters exactly the persons whose checkout
had no order within the hour, computed here from the raw tables."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.base import VOID_STATUSES
from tenure.engage.flow_spec import load_flows, parse_flow, shipped_dir
from tenure.engage.flows import STATES, run_tick, tick_clock
from tests.engage.flowkit import all_pending, python_holdout

pytestmark = pytest.mark.slow
LOOKBACK = timedelta(days=30)


@pytest.fixture
def demo(demo_url: str, tmp_path: Path) -> Store:
    """A copy of the run demo before any flow ticked (`tenure run` ticks the shipped flows:
    its flow tables are emptied, so each test's tick is the first)."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    store = Store(f"duckdb://{path}")
    for name in ("messages", "flow_state", "flow_ticks"):
        store.truncate(name)
    return store


def _expected(store: Store, now: pd.Timestamp) -> set[tuple[str, str]]:
    """(person, message id) of the checkouts whose hour ended in the 30 days before ``now``
    with no purchase of theirs in that hour, each entering unless the person's last entry
    was less than 7 days before (the flow's re-entry rule; its stays last 3 days)."""
    ids = store.table("identities").to_pandas()
    by = {k: dict(zip(g.value, g.person_id, strict=True)) for k, g in ids.groupby("kind")}
    e = store.table("events").to_pandas()
    e = e[e.event == "Checkout Started"].copy()
    device = e.anonymous_id.map(by.get("anonymous_id", {}))
    user = e.user_id.map(by.get("customer_id", {}))
    e["person"] = device.fillna(user).fillna(e.user_id)
    o = store.table("orders").to_pandas()
    o = o[~o.status.fillna("").str.lower().isin(VOID_STATUSES)]
    refunded = o.refunded.fillna(0)
    o = o[(o.total.astype(float) >= 0) & ~((refunded > 0) & (refunded >= o.total))]
    o["person"] = o.customer_id.map(by.get("customer_id", {})).fillna(
        o.email.str.strip().str.lower().map(by.get("email", {}))
    )
    e["ready"] = e.timestamp + pd.Timedelta(hours=1)
    e = e[(e.ready > now - LOOKBACK) & (e.ready <= now) & e.person.notna()]
    merged = e.merge(o[["person", "ordered_at"]], on="person", how="left")
    hit = (merged.ordered_at >= merged.timestamp) & (merged.ordered_at <= merged.ready)
    bought = set(merged[hit].message_id)
    kept = e[~e.message_id.isin(bought)].sort_values(["person", "ready", "message_id"])
    out: set[tuple[str, str]] = set()
    last: dict[str, pd.Timestamp] = {}
    for row in kept.itertuples():
        if row.person in last and row.ready - last[row.person] < pd.Timedelta(days=7):
            continue
        last[row.person] = row.ready
        out.add((row.person, row.message_id))
    return out


def test_every_shipped_flow_validates_and_ticks_on_the_demo(demo: Store) -> None:
    with demo as store:
        flows = load_flows(sorted(shipped_dir().glob("*.yaml")))
        now = tick_clock(store)
        result = run_tick(store, flows, now, decide=all_pending, holdout=python_holdout)
        assert [f.note for f in result.flows] == [None] * len(flows)
        again = run_tick(store, flows, now, decide=all_pending, holdout=python_holdout)
        assert sum(sum(f.messages.values()) for f in again.flows) == 0


def test_the_shipped_flows_tick_with_the_real_send_policy(demo: Store) -> None:
    """The default tick: the store's send policy decides (the demo has consents and
    suppressions) and the engine's hash assigns the holdout; ticking again decides nothing.
    (The policy's own rules are pinned in tests/engage/test_policy.py.)"""
    text = (shipped_dir() / "abandoned_cart.yaml").read_text()
    cart = parse_flow(text.replace("holdout: 0.1", "holdout: 0.1\nlookback: 30d"), "c.yaml")
    with demo as store:
        flows = load_flows(sorted(shipped_dir().glob("*.yaml")))
        flows = [cart if f.name == cart.name else f for f in flows]
        now = tick_clock(store)
        run_tick(store, flows, now)
        m = store.table("messages").to_pandas()
        assert {"pending", "holdout"} <= set(m.state) <= set(STATES)
        again = run_tick(store, flows, now)
        assert sum(sum(f.messages.values()) for f in again.flows) == 0


def test_abandoned_cart_entries_reconcile_with_the_events(demo: Store) -> None:
    text = (shipped_dir() / "abandoned_cart.yaml").read_text()
    flow = parse_flow(text.replace("holdout: 0.1", "holdout: 0.1\nlookback: 30d"), "cart.yaml")
    with demo as store:
        now = tick_clock(store)
        expected = _expected(store, pd.Timestamp(now))
        run_tick(store, [flow], now, decide=all_pending, holdout=python_holdout)
        s = store.table("flow_state").to_pandas()
    assert len(expected) > 5
    assert set(zip(s.person_id, s.trigger_id, strict=True)) == expected

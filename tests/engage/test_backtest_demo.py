"""The flow backtest on the tests' demo store (800 customers, 2024, after `tenure run`): the
abandoned cart's 90-day backtest enters exactly the checkouts without an order within the hour
(the re-entry rule applied), computed here from the raw tables, and every shipped flow
replays without touching the store's flow tables."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.analytics.base import VOID_STATUSES
from tenure.engage.backtest import backtest_flow
from tenure.engage.flow_spec import load_flows, shipped_dir
from tenure.engage.flows import tick_clock
from tests.engage.flowkit import all_pending, python_holdout
from tests.engage.test_flows_demo import demo  # noqa: F401 (a copy of the demo store)

pytestmark = pytest.mark.slow
MONTH = timedelta(days=30)


def _entries(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Independently: each checkout whose hour ends in (start, end] with no purchase of the
    person in that hour, unless the person entered in the 7 days before."""
    ids = store.table("identities").to_pandas()
    by = {k: dict(zip(g.value, g.person_id, strict=True)) for k, g in ids.groupby("kind")}
    e = store.table("events").to_pandas()
    e = e[e.event == "Checkout Started"].copy()
    e["person"] = (
        e.anonymous_id.map(by.get("anonymous_id", {}))
        .fillna(e.user_id.map(by.get("customer_id", {})))
        .fillna(e.user_id)
    )
    o = store.table("orders").to_pandas()
    o = o[~o.status.fillna("").str.lower().isin(VOID_STATUSES)]
    refunded = o.refunded.fillna(0)
    o = o[(o.total.astype(float) >= 0) & ~((refunded > 0) & (refunded >= o.total))]
    o["person"] = o.customer_id.map(by.get("customer_id", {})).fillna(
        o.email.str.strip().str.lower().map(by.get("email", {}))
    )
    e["ready"] = e.timestamp + pd.Timedelta(hours=1)
    e = e[(e.ready > start) & (e.ready <= end) & e.person.notna()]
    merged = e.merge(o[["person", "ordered_at"]], on="person", how="left")
    hit = (merged.ordered_at >= merged.timestamp) & (merged.ordered_at <= merged.ready)
    e = e[~e.message_id.isin(set(merged[hit].message_id))]
    rows = []
    for person, group in e.sort_values(["ready", "message_id"]).groupby("person"):
        last = None
        for ready in group.ready:
            if last is None or last <= ready - pd.Timedelta(days=7):
                rows.append({"person": person, "entered_at": ready})
                last = ready
    return pd.DataFrame(rows)


def test_the_abandoned_cart_backtest_reconciles_with_the_events(demo: Store) -> None:  # noqa: F811
    cart = load_flows([shipped_dir() / "abandoned_cart.yaml"])[0]
    with demo as store:
        end = tick_clock(store)
        start = end - 3 * MONTH
        result = backtest_flow(
            store, cart, start, end, step=MONTH, decide=all_pending, holdout=python_holdout
        )
        want = _entries(store, pd.Timestamp(start), pd.Timestamp(end))
        assert store.count("messages") == store.count("flow_state") == 0
    assert result.entered == len(want) > 50
    assert result.persons == want.person.nunique()
    assert result.steps.set_index("step").loc["email_cart", "stays"] == len(want)


def test_every_shipped_flow_replays(demo: Store) -> None:  # noqa: F811
    with demo as store:
        end = tick_clock(store)
        for flow in load_flows(sorted(shipped_dir().glob("*.yaml"))):
            result = backtest_flow(
                store,
                flow,
                end - 3 * MONTH,
                end,
                step=3 * MONTH,
                decide=all_pending,
                holdout=python_holdout,
            )
            assert result.ticks == 1
            assert result.steps.stays.iloc[0] == result.entered, flow.name
        assert store.count("messages") == store.count("flow_ticks") == 0

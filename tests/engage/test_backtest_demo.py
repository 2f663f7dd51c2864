"""The flow backtest on the tests' demo store (800 customers, 2024, after `tenure run`): the
abandoned cart's 90-day backtest enters exactly the checkouts without an order within the hour
(the re-entry rule applied), computed from the raw tables, with a tick a month. Every
shipped flow's backtest is reconciled in tests/engage/test_seed_backtests.py."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.backtest import backtest_flow
from tenure.engage.flow_spec import load_flows, shipped_dir
from tenure.engage.flows import tick_clock
from tests.engage import seedkit
from tests.engage.flowkit import all_pending, python_holdout
from tests.engage.test_flows_demo import demo  # noqa: F401 (a copy of the demo store)

pytestmark = pytest.mark.slow
MONTH = timedelta(days=30)


def _entries(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Independently (tests/engage/seedkit.py): each checkout whose hour ends in (start, end]
    with no purchase of the person in that hour, unless the person entered in the 7 days
    before."""
    found = seedkit.event_instances(store, "Checkout Started", timedelta(hours=1))
    return seedkit.entries(found, start, end, timedelta(days=7))


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

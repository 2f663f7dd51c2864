"""An empty store (no order yet) is a store, not a crash: its observation end is today and its
derived tables are empty (issue 11, item 6: `refresh`, `rfm`, `kpis`, `status` and the
backtest raised on the NaT that the latest order of an empty table is)."""

from __future__ import annotations

from datetime import date

from tenure import Store
from tenure.analytics.base import store_end
from tenure.analytics.facts import customer_facts


def test_an_empty_store_ends_today_and_has_no_facts(store: Store) -> None:
    assert store_end(store) == date.today()
    facts = customer_facts(store).to_pandas()
    assert len(facts) == 0

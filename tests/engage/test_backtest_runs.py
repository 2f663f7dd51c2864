"""The record of the flow backtests (``flow_backtests``, migration 17): every backtest run
writes its flow's last backtest, read back with the same figures; a second run replaces the
first; a read-only store replays without recording and says so; only aggregates are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.backtest import NOT_RECORDED, backtest_flow
from tenure.engage.backtest_runs import (
    BY_CLI,
    TABLE,
    BacktestResult,
    last_backtest,
    last_backtests,
)
from tests.engage.flowkit import all_pending, python_holdout
from tests.engage.test_backtest import CART, END, START, D
from tests.engage.test_backtest import cart_store as cart_store


def _run(store: Store, **kw: object) -> BacktestResult:
    return backtest_flow(
        store,
        CART,
        START,
        END,
        decide=all_pending,
        holdout=python_holdout,
        **kw,  # type: ignore[arg-type]
    )


def test_every_backtest_records_its_figures(cart_store: Store) -> None:
    assert last_backtest(cart_store, CART.name) is None
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    result = backtest_flow(
        cart_store, CART, START, END, step=2 * D, decide=all_pending, holdout=python_holdout
    )
    assert result.recorded and result.by == "library" and result.seconds > 0
    got = last_backtest(cart_store, CART.name)
    assert got is not None
    assert got.summary() == result.summary()
    assert got.entered == result.entered > 0 and got.ticks == 3
    assert got.ran_at is not None and got.ran_at >= before
    assert got.by == "library" and got.seconds == pytest.approx(result.seconds)
    pd.testing.assert_frame_equal(got.steps, result.steps, check_dtype=False)
    pd.testing.assert_frame_equal(got.daily, result.daily, check_dtype=False, check_names=False)
    pd.testing.assert_frame_equal(got.outcome, result.outcome, check_dtype=False)
    assert got.notes == result.notes
    row = cart_store.table(TABLE).to_pandas().iloc[0]
    assert row["currency"] == "USD" and row["start_at"] == START and row["end_at"] == END
    assert row["window_days"] == 7 and row["tick_hours"] == 48.0


def test_a_second_backtest_replaces_the_first(cart_store: Store) -> None:
    first = _run(cart_store, step=6 * D)
    second = backtest_flow(
        cart_store,
        CART,
        START,
        START + 3 * D,
        step=3 * D,
        window_days=3,
        holdout_share=0.0,
        decide=all_pending,
        by=BY_CLI,
    )
    assert cart_store.count(TABLE) == 1
    got = last_backtest(cart_store, CART.name)
    assert got is not None and got.by == "cli"
    assert (got.end, got.window_days, got.holdout_share) == (START + 3 * D, 3, 0.0)
    assert got.entered == second.entered != first.entered
    held = got.outcome.set_index("group")
    assert held.loc["holdout", "persons"] == 0
    assert pd.isna(held.loc["holdout", "conversion"])  # unknown stays unknown, never 0
    assert set(last_backtests(cart_store)) == {CART.name}
    assert last_backtests(cart_store, ["nope"]) == {} and last_backtests(cart_store, []) == {}


def test_the_record_holds_no_person(cart_store: Store) -> None:
    _run(cart_store, step=6 * D)
    persons = set(cart_store.table("flow_state").person_id.to_pyarrow().to_pylist())
    persons |= {f"q{i:03d}" for i in range(400)}
    frame = cart_store.table(TABLE).to_pandas()
    text = " ".join(str(v) for v in frame.iloc[0].tolist())
    assert not [p for p in persons if p in text]


def test_a_read_only_store_replays_without_recording(cart_store: Store) -> None:
    path = cart_store.file
    cart_store.close()
    with Store(f"duckdb://{path}", read_only=True) as store:
        result = _run(store, step=6 * D)
        assert result.recorded is False
        assert NOT_RECORDED in result.notes
        assert store.count(TABLE) == 0

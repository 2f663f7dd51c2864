"""The model the store's backtests chose: read from ``model_runs`` (written by
:mod:`tenure.predictions.backtest`), so that :mod:`tenure.predictions.predict` can use the
choice without importing the backtest (which imports predict)."""

from __future__ import annotations

import ibis

from tenure.store import Store

#: The table of recorded backtest runs: one row per model per run.
RUNS = "model_runs"


def chosen_model(store: Store) -> str | None:
    """The model the latest recorded backtest chose for the store (None without a recorded
    run, or when no model of the latest run could be chosen)."""
    if not store.exists(RUNS):
        return None
    t = store.read(RUNS)
    latest = t.order_by([ibis.desc("created_at"), ibis.desc("run_id")]).limit(1)
    run = latest.run_id.to_pyarrow().to_pylist()
    if not run:
        return None
    chosen = t.filter((t.run_id == run[0]) & t.chosen).model.to_pyarrow().to_pylist()
    return str(chosen[0]) if chosen else None

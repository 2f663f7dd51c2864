"""A flow backtest's result and its record: ``flow_backtests``, the last backtest of each
flow (:func:`record_backtest`, called by every :func:`tenure.engage.backtest.backtest_flow`
on a writable store), read back by :func:`last_backtests` (the dashboard's Flows page and
flow page). The replay itself is :mod:`tenure.engage.backtest`; this module imports none of
it, so a reader of the record does not import the engine.

The record holds aggregates only (counts per step, per day and state, per group), never a
person's row: privacy deletion has nothing to remove from it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from tenure.store import Store, reporting_currency

#: The table of the record: one row per flow, its last backtest.
TABLE = "flow_backtests"
#: What ran a backtest (the ``by`` column).
BY_LIBRARY, BY_CLI, BY_API = "library", "cli", "api"


@dataclass
class BacktestResult:
    """A flow's backtest: the replayed window and what the engine would have done."""

    flow: str
    start: datetime
    end: datetime
    step: timedelta
    window_days: int
    ticks: int
    holdout_share: float
    #: stays entered (a person entering twice counts twice) and distinct persons
    entered: int
    persons: int
    #: persons held out (the flow's holdout share) and messages capped
    holdout: int
    capped: int
    #: per step: ``step, kind, stays, persons, waiting, exited`` (stays that ran it, their
    #: persons, stays still waiting at it at the end, stays that left on an order before it)
    steps: pd.DataFrame
    #: per day (UTC, of ``due_at``): ``day`` and one column per message state
    daily: pd.DataFrame
    #: ``group, persons, converted, orders, revenue, conversion, revenue_per_person``:
    #: the targeted persons, the holdout, and their difference
    outcome: pd.DataFrame
    #: what the ticks said (a trigger's table not built yet: the flow was skipped)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: the record: when it finished (UTC), what ran it, how long it took, whether it was
    #: written to ``flow_backtests`` (not on a read-only store)
    ran_at: datetime | None = None
    by: str = BY_LIBRARY
    seconds: float = 0.0
    recorded: bool = False

    def summary(self) -> dict[str, object]:
        return {
            "flow": self.flow,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "tick_hours": self.step.total_seconds() / 3600,
            "ticks": self.ticks,
            "window_days": self.window_days,
            "holdout_share": self.holdout_share,
            "entered": self.entered,
            "persons": self.persons,
            "holdout": self.holdout,
            "capped": self.capped,
        }


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    return value


def _frame_json(frame: pd.DataFrame) -> str:
    rows = [
        {str(k): _json_value(v) for k, v in record.items()} for record in frame.to_dict("records")
    ]
    return json.dumps(rows, separators=(",", ":"))


def record_backtest(store: Store, result: BacktestResult) -> None:
    """Write ``result`` as the last backtest of its flow (replacing the one before) and mark
    it ``recorded``; ``ran_at`` is now when not set."""
    if result.ran_at is None:
        result.ran_at = datetime.now(UTC).replace(tzinfo=None)
    row = {
        "flow": [result.flow],
        "ran_at": [result.ran_at],
        "by": [result.by],
        "seconds": [float(result.seconds)],
        "start_at": [result.start],
        "end_at": [result.end],
        "tick_hours": [result.step.total_seconds() / 3600],
        "window_days": [int(result.window_days)],
        "holdout_share": [float(result.holdout_share)],
        "ticks": [int(result.ticks)],
        "entered": [int(result.entered)],
        "persons": [int(result.persons)],
        "holdout": [int(result.holdout)],
        "capped": [int(result.capped)],
        "currency": [reporting_currency(store)],
        "steps": [_frame_json(result.steps)],
        "daily": [_frame_json(result.daily)],
        "outcome": [_frame_json(result.outcome)],
        "notes": [json.dumps(list(result.notes))],
    }
    store.upsert(TABLE, ["flow"], pa.table(row))
    result.recorded = True


def _frame(text: str | None, *, days: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame(json.loads(text or "[]"))
    if days and "day" in frame:
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def _result(row: dict[str, Any]) -> BacktestResult:
    return BacktestResult(
        flow=str(row["flow"]),
        start=pd.Timestamp(row["start_at"]).to_pydatetime(),
        end=pd.Timestamp(row["end_at"]).to_pydatetime(),
        step=timedelta(hours=float(row["tick_hours"])),
        window_days=int(row["window_days"]),
        ticks=int(row["ticks"]),
        holdout_share=float(row["holdout_share"]),
        entered=int(row["entered"]),
        persons=int(row["persons"]),
        holdout=int(row["holdout"]),
        capped=int(row["capped"]),
        steps=_frame(row["steps"]),
        daily=_frame(row["daily"], days=True),
        outcome=_frame(row["outcome"]),
        notes=[str(n) for n in json.loads(row["notes"] or "[]")],
        ran_at=pd.Timestamp(row["ran_at"]).to_pydatetime(),
        by=str(row["by"] or ""),
        seconds=float(row["seconds"] or 0.0),
        recorded=True,
    )


def last_backtests(store: Store, flows: list[str] | None = None) -> dict[str, BacktestResult]:
    """The last recorded backtest of each flow (of ``flows``, default every flow with one),
    by flow name; a flow never backtested is absent."""
    if flows is not None and not flows:
        return {}
    t = store.table(TABLE)
    if flows is not None:
        t = t.filter(t.flow.isin(flows))
    rows = t.order_by("flow").to_pyarrow().to_pylist()
    return {str(r["flow"]): _result(r) for r in rows}


def last_backtest(store: Store, flow: str) -> BacktestResult | None:
    """The last recorded backtest of ``flow``; None when it was never backtested."""
    return last_backtests(store, [flow]).get(flow)


__all__ = [
    "BY_API",
    "BY_CLI",
    "BY_LIBRARY",
    "TABLE",
    "BacktestResult",
    "last_backtest",
    "last_backtests",
    "record_backtest",
]

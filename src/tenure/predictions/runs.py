"""A backtest's result and the record of runs: ``model_runs``, one row per model per run
(:func:`record_run`), read back by :func:`model_runs` and :func:`chosen_model` (the model
``tenure predict`` uses). The backtest itself is :mod:`tenure.predictions.backtest`; this
module imports none of it, so ``predict`` and ``charts`` read a run without importing the
backtest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd

from tenure.predictions.holdout import Sufficiency
from tenure.store import Store

#: The table of recorded runs: one row per model per run.
RUNS = "model_runs"
RUNS_SCHEMA = ibis.schema(
    {
        "run_id": "string",
        "created_at": "timestamp",
        "calibration_end": "date",
        "holdout": "string",
        "holdout_days": "int64",
        "buyers": "int64",
        "model": "string",
        "metrics": "string",
        "chosen": "boolean",
    }
)
#: The columns of a recorded run in :func:`model_runs` (its metrics follow them).
RUN_COLUMNS = [c for c in RUNS_SCHEMA.names if c != "metrics"]
RULE = (
    "Below the data floor the heuristic; otherwise the model tenure predict can use "
    "(BetaGeo, ModifiedBetaGeo, ParetoNBD, heuristic) with the lowest per-customer RMSE of "
    "holdout purchase days; a tie goes to the earlier in that list."
)


@dataclass
class BacktestResult:
    """A backtest's figures: one row per model in ``metrics``, long tables for the rest."""

    run_id: str
    calibration_end: date
    holdout: str
    holdout_days: int
    buyers: int
    sufficiency: Sufficiency
    metrics: pd.DataFrame
    deciles: pd.DataFrame
    tracking: pd.DataFrame
    histogram: pd.DataFrame
    chosen: str | None
    rule: str = RULE
    sample: int | None = None
    recorded: bool = False
    charts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def notes(self) -> list[str]:
        """What to tell about the models: each one that failed (with its status) or was
        fitted as a boundary fit (``BetaGeo: no dropout (...)``), then each distinct note of
        the spend model, once."""
        lines: list[str] = []
        for row in self.metrics.itertuples():
            fitted_as = getattr(row, "fitted_as", None)
            if row.status != "ok":
                lines.append(f"{row.model} {row.status}")
            elif isinstance(fitted_as, str) and fitted_as:
                lines.append(f"{row.model!s}: {fitted_as}")
        spend: Any = self.metrics.get("note", [])
        lines += dict.fromkeys(n for n in spend if isinstance(n, str) and n)
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tables as lists of records)."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna(), None)
            return [dict(zip(clean.columns, r, strict=True)) for r in clean.itertuples(False)]

        return {
            "run_id": self.run_id,
            "calibration_end": self.calibration_end.isoformat(),
            "holdout": self.holdout,
            "holdout_days": self.holdout_days,
            "buyers": self.buyers,
            "sample": self.sample,
            "sufficiency": self.sufficiency.to_dict(),
            "chosen": self.chosen,
            "rule": self.rule,
            "recorded": self.recorded,
            "charts": self.charts,
            "seconds": self.seconds,
            "metrics": records(self.metrics),
            "deciles": records(self.deciles),
            "tracking": records(self.tracking.assign(day=self.tracking["day"].astype(str))),
            "histogram": records(self.histogram),
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_value(value.item())
    return value


def record_run(store: Store, result: BacktestResult) -> None:
    """Append one ``model_runs`` row per model of ``result`` (created on first use)."""
    store.create(RUNS, RUNS_SCHEMA)
    now = datetime.now()
    rows = []
    for row in result.metrics.to_dict("records"):
        metrics = {k: _json_value(v) for k, v in row.items() if k not in ("model", "chosen")}
        rows.append(
            {
                "run_id": result.run_id,
                "created_at": now,
                "calibration_end": result.calibration_end,
                "holdout": result.holdout,
                "holdout_days": result.holdout_days,
                "buyers": result.buyers,
                "model": row["model"],
                "metrics": json.dumps(metrics, sort_keys=True, default=str),
                "chosen": bool(row["model"] == result.chosen),
            }
        )
    table = pd.DataFrame(rows)
    store.append(RUNS, ibis.memtable(table, schema=RUNS_SCHEMA))


def model_runs(store: Store) -> pd.DataFrame:
    """Every recorded backtest (``model_runs``), newest first, one row per run and model: the
    run's columns, ``chosen``, then each metric the run recorded as its own column (``mae``,
    ``rmse``, ``status``...; null where a model has none). Empty (with the run's columns and
    ``rmse``) when no run was recorded."""
    empty = pd.DataFrame(columns=[*RUN_COLUMNS, "rmse"])
    if not store.exists(RUNS):
        return empty
    t = store.read(RUNS)
    order = [ibis.desc("created_at"), ibis.desc("run_id"), "model"]
    runs = t.order_by(order).to_pyarrow().to_pandas()
    if runs.empty:
        return empty
    metrics = pd.DataFrame.from_records(
        [json.loads(m) for m in runs["metrics"]], index=runs.index
    ).drop(columns=RUN_COLUMNS, errors="ignore")
    out = pd.concat([runs[RUN_COLUMNS], metrics], axis=1)
    return out if "rmse" in out.columns else out.assign(rmse=float("nan"))


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

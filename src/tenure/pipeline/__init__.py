"""The orchestrator: named steps run in dependency order from one registry, each run
recorded (docs/pipeline.md). ``tenure run`` brings everything stale up to date."""

from __future__ import annotations

from tenure.pipeline.info import store_info
from tenure.pipeline.jobs import RefreshResult, predict, refresh
from tenure.pipeline.records import data_clock, last_runs
from tenure.pipeline.runner import (
    RunResult,
    StepRun,
    ensure_current,
    plan,
    reader_day,
    run,
    why_stale,
)
from tenure.pipeline.steps import STEPS, Step, StepContext, StepFn, step

__all__ = [
    "STEPS",
    "RefreshResult",
    "RunResult",
    "Step",
    "StepContext",
    "StepFn",
    "StepRun",
    "data_clock",
    "ensure_current",
    "last_runs",
    "plan",
    "predict",
    "reader_day",
    "refresh",
    "run",
    "step",
    "store_info",
    "why_stale",
]

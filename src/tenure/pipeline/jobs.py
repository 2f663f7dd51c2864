"""``tenure refresh`` and ``tenure predict`` as pipeline runs: the same steps as
``tenure run``, asked for by name (they run even when current), recorded in
``pipeline_runs`` like every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from tenure.errors import ConfigError, PipelineStepError
from tenure.pipeline.runner import run
from tenure.pipeline.steps import REFRESH_STEPS
from tenure.progress import ProgressCallback
from tenure.store import Store

if TYPE_CHECKING:
    from tenure.predictions.predict import PredictResult


@dataclass
class RefreshResult:
    """What a refresh wrote: rows per table and seconds per step, and the money warnings
    (:func:`tenure.analytics.money.money_warnings`) of the figures it wrote."""

    as_of: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


def refresh(
    store: Store, *, as_of: date | None = None, progress: ProgressCallback | None = None
) -> RefreshResult:
    """Rebuild the analytics (``customer_facts``, ``customer_rfm``, ``customer_status``,
    ``stage_history``) as of ``as_of`` (default: :func:`~tenure.analytics.base.store_end`):
    the pipeline steps of that name, run whether current or not."""
    from tenure.analytics.money import money_warnings

    done = run(store, steps=REFRESH_STEPS, as_of=as_of, force=True, progress=progress)
    result = RefreshResult(as_of=done.as_of, run_id=done.run_id)
    for s in done.steps:
        result.rows.update(s.rows)
        for table in s.rows:
            result.seconds[table] = s.seconds
    result.warnings = money_warnings(store, as_of=done.as_of)
    return result


def predict(
    store: Store,
    *,
    as_of: date | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> PredictResult:
    """Run the ``predictions`` step as of ``as_of``, after bringing ``customer_facts`` up to
    date if it is stale; return what the step wrote. ``options``: the keyword arguments of
    :func:`tenure.predictions.predict.predict` (model, horizon_months, discount_rate, floor,
    clv_model). Asked for, the models are fitted again (the daily run re-scores with the
    stored fit: docs/incremental.md). A bad parameter raises its ConfigError."""
    try:
        done = run(
            store,
            steps=["predictions"],
            as_of=as_of,
            force=True,
            options={"predictions": {**options, "refit": True}},  # asked for: fit again
            progress=progress,
        )
    except PipelineStepError as exc:
        if isinstance(exc.__cause__, ConfigError):  # a bad parameter: say it as it is
            raise exc.__cause__ from None
        raise
    step = done.get("predictions")
    assert step is not None and step.output is not None  # the step ran (force) or raised
    result: PredictResult = step.output
    return result

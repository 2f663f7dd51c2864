"""The predictions step of the pipeline: fit and score (full), or re-score every buyer with
the stored fit until a refit is due (incremental; docs/incremental.md, "Predictions").

The fit (purchase model, Gamma-Gamma, the VIP threshold, horizon and discount) is kept in
table ``prediction_fits``, one row per fit, with the buyers and orders it was fitted on. A
refit is due when there is no usable fit, when it is :attr:`Settings.refit_days` days old or
more, or when buyers or orders grew by :attr:`Settings.refit_growth` or more since it. The
heuristic (thin data) and gradient boosting keep no fit: they are computed again each run.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, Protocol

import ibis
import pyarrow as pa

from tenure.models.base import reported_params
from tenure.models.errors import ModelError
from tenure.models.gamma_gamma import GammaGamma
from tenure.models.state import model_from_state, model_state
from tenure.predictions.holdout import DataFloor
from tenure.predictions.predict import (
    FACTS,
    GAMMA_GAMMA,
    PREDICTIONS,
    SCRATCH_SCORES,
    Fit,
    PredictResult,
    model_name,
    monthly_rate,
    predict,
    score_with_fit,
)
from tenure.predictions.scoring import drop_upload
from tenure.store import Store, reporting_currency

FITS = "prediction_fits"
#: predict's defaults (a step without options predicts with these)
DEFAULT_HORIZON = 12
DEFAULT_DISCOUNT = 0.10
#: The step option asking for a fit whatever the rule says (``tenure predict``).
REFIT = "refit"
FITS_SCHEMA = ibis.schema(
    {
        "fitted_at": "timestamp",
        "as_of": "date",
        "model": "string",
        "horizon_months": "int64",
        "monthly_rate": "float64",
        "vip_threshold": "float64",
        "buyers": "int64",
        "orders": "int64",
        "state": "string",
    }
)


class Context(Protocol):
    """What a step runs with (:class:`tenure.pipeline.steps.StepContext`)."""

    as_of: date
    since: datetime | None


def _size(store: Store) -> tuple[int, int]:
    """(buyers, orders) of the stored facts."""
    f = store.read(FACTS)
    row = (
        f.aggregate(buyers=f.is_buyer.cast("int64").sum(), orders=f.orders.sum())
        .to_pyarrow()
        .to_pylist()[0]
    )
    return int(row["buyers"] or 0), int(row["orders"] or 0)


def save_fit(store: Store, fit: Fit) -> None:
    """Record ``fit`` (the latest row of ``prediction_fits`` is the one re-scoring uses).
    The fitted models are stored as JSON (:func:`tenure.models.state.model_state`: their
    parameters and learned values, no code)."""
    buyers, orders = _size(store)
    state = json.dumps({"purchase": model_state(fit.purchase), "spend": model_state(fit.spend)})
    row = {
        "fitted_at": datetime.now(UTC).replace(tzinfo=None),
        "as_of": fit.as_of,
        "model": fit.model,
        "horizon_months": fit.horizon_months,
        "monthly_rate": fit.monthly_rate,
        "vip_threshold": fit.vip,
        "buyers": buyers,
        "orders": orders,
        "state": state,
    }
    store.create(FITS, FITS_SCHEMA)
    store.append(FITS, pa.Table.from_pylist([row], schema=FITS_SCHEMA.to_pyarrow()))


def last_fit(store: Store) -> tuple[Fit, int, int] | None:
    """The latest recorded fit with the buyers and orders it was fitted on, or None."""
    if not store.exists(FITS):
        return None
    t = store.read(FITS)
    rows = t.order_by(ibis.desc("fitted_at")).limit(1).to_pyarrow().to_pylist()
    if not rows:
        return None
    r = rows[0]
    try:
        doc = json.loads(r["state"])
        purchase, spend = model_from_state(doc["purchase"]), model_from_state(doc["spend"])
        if not isinstance(spend, GammaGamma):
            return None
    except (ValueError, TypeError, KeyError, ModelError):
        return None  # unreadable (another version wrote it): fit again
    fit = Fit(
        _day(r["as_of"]),
        r["model"],
        purchase,
        spend,
        r["vip_threshold"],
        int(r["horizon_months"]),
        float(r["monthly_rate"]),
    )
    return fit, int(r["buyers"]), int(r["orders"])


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _asked_otherwise(store: Store, fit: Fit, options: dict[str, Any]) -> str | None:
    """Why the step's options (those of ``tenure predict``) ask for another fit, or None:
    a refit asked for, another CLV model, another purchase model (asked for, or chosen by a
    backtest since), horizon or discount rate."""
    if options.get(REFIT):
        return "a refit asked for"
    if options.get("clv_model") not in (None, GAMMA_GAMMA):
        return f"CLV model {options['clv_model']} (fitted at every run)"
    model = model_name(store, options.get("model"))
    if model != fit.model:
        return f"model {model}, the fit is {fit.model}"
    horizon = options.get("horizon_months", DEFAULT_HORIZON)
    if horizon != fit.horizon_months:
        return f"horizon {horizon} months asked for, the fit's is {fit.horizon_months}"
    rate = monthly_rate(options.get("discount_rate", DEFAULT_DISCOUNT))
    if abs(rate - fit.monthly_rate) > 1e-15:
        return "another discount rate asked for"
    return None


def refit_due(store: Store, end: date, options: dict[str, Any] | None = None) -> str | None:
    """Why the predictions must be fitted again as of ``end`` (None: re-score with the
    stored fit). The rule (docs/incremental.md): no fit recorded; other prediction options
    than the fit's (``options``: model, clv_model, horizon_months, discount_rate); the fit
    is ``refit_days`` days old or more (or dated after ``end``); buyers or orders grew by
    ``refit_growth`` or more since the fit."""
    found = last_fit(store)
    return "no stored fit" if found is None else _refit_reason(store, found, end, options)


def _refit_reason(
    store: Store, found: tuple[Fit, int, int], end: date, options: dict[str, Any] | None
) -> str | None:
    """:func:`refit_due` for the stored fit ``found`` (:func:`last_fit`)."""
    fit, buyers, orders = found
    other = _asked_otherwise(store, fit, options or {})
    if other is not None:
        return other
    s = store.settings
    age = (end - fit.as_of).days
    if age < 0 or age >= s.refit_days:
        return f"the fit of {fit.as_of.isoformat()} is {age} days old (refit_days {s.refit_days})"
    now_buyers, now_orders = _size(store)
    for what, then, now in (("buyers", buyers, now_buyers), ("orders", orders, now_orders)):
        if now >= then * (1.0 + s.refit_growth) and now > then:
            return f"{what} grew from {then:,} to {now:,} (refit_growth {s.refit_growth:g})"
    return None


def _options(ctx: Context) -> dict[str, Any]:
    return dict(getattr(ctx, "options", None) or {})


def _predict_options(ctx: Context) -> dict[str, Any]:
    """The step's options that are :func:`~tenure.predictions.predict.predict`'s arguments."""
    return {k: v for k, v in _options(ctx).items() if k != REFIT}


def _report(ctx: Context, result: PredictResult) -> None:
    outputs = getattr(ctx, "outputs", None)
    if outputs is not None:
        outputs["result"] = result


def build_predictions(
    store: Store, ctx: Context, *, floor: DataFloor | None = None
) -> dict[str, int]:
    """The full predictions step: fit, score, write ``customer_predictions``; record the fit.
    ``ctx.options``: the arguments of :func:`~tenure.predictions.predict.predict`."""
    options = _predict_options(ctx)
    if floor is not None:
        options["floor"] = floor
    # a step's context carries the run's progress callback (a test's may not)
    result = predict(store, as_of=ctx.as_of, progress=getattr(ctx, "progress", None), **options)
    if result.fit is not None:
        save_fit(store, result.fit)
    _report(ctx, result)
    return {PREDICTIONS: result.rows}


def update_predictions(
    store: Store, ctx: Context, *, floor: DataFloor | None = None
) -> dict[str, int]:
    """The incremental predictions step: every buyer of the stored facts re-scored with the
    stored fit, unless a refit is due (:func:`refit_due`), then the full step."""
    found = last_fit(store)
    if found is None or _refit_reason(store, found, ctx.as_of, _options(ctx)) is not None:
        return build_predictions(store, ctx, floor=floor)
    fit = found[0]
    try:
        table = store.replace(PREDICTIONS, score_with_fit(store, store.read(FACTS), ctx.as_of, fit))
        rows = int(table.count().execute())
    finally:
        drop_upload(store, SCRATCH_SCORES)
    yearly = (1.0 + fit.monthly_rate) ** 12 - 1.0
    result = PredictResult(ctx.as_of, fit.model, fit.model, fit.horizon_months, yearly)
    result.reason = f"re-scored with the fit of {fit.as_of.isoformat()}"
    result.parameters = {
        **reported_params(fit.purchase),
        **{f"gg_{k}": v for k, v in reported_params(fit.spend).items()},
    }
    result.vip_threshold, result.rows, result.fit = fit.vip, rows, fit
    result.currency = reporting_currency(store)
    _report(ctx, result)
    return {PREDICTIONS: rows}

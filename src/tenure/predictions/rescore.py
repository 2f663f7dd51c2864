"""The predictions step of the pipeline: fit and score (full), or re-score every buyer with
the stored fit until a refit is due (incremental; docs/incremental.md, "Predictions").

The fit (purchase model, Gamma-Gamma, the VIP threshold, horizon and discount) is kept in
table ``prediction_fits``, one row per fit, with the buyers and orders it was fitted on. A
refit is due when there is no usable fit, when it is :attr:`Settings.refit_days` days old or
more, or when buyers or orders grew by :attr:`Settings.refit_growth` or more since it. The
heuristic (thin data) and gradient boosting keep no fit: they are computed again each run.
"""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, date, datetime
from typing import Any, Protocol

import ibis
import pyarrow as pa

from tenure.predictions.holdout import DataFloor
from tenure.predictions.predict import (
    FACTS,
    GAMMA_GAMMA,
    PREDICTIONS,
    SCRATCH_SCORES,
    Fit,
    monthly_rate,
    predict,
    score_with_fit,
)
from tenure.predictions.scoring import drop_upload
from tenure.store import Store

FITS = "prediction_fits"
#: predict's defaults (a step without options predicts with these)
DEFAULT_HORIZON = 12
DEFAULT_DISCOUNT = 0.10
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
    The fitted models are stored pickled (models pickle with the standard library): a
    store's fits are read back only by the process that owns the store."""
    buyers, orders = _size(store)
    state = base64.b64encode(pickle.dumps((fit.purchase, fit.spend))).decode("ascii")
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
        purchase, spend = pickle.loads(base64.b64decode(r["state"]))
    except (ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError):
        return None  # written by another version: fit again
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


def _asked_otherwise(fit: Fit, options: dict[str, Any]) -> str | None:
    """Why the step's options (those of ``tenure predict``) ask for another fit, or None."""
    if options.get("clv_model") not in (None, GAMMA_GAMMA):
        return f"CLV model {options['clv_model']} (fitted at every run)"
    if options.get("model") not in (None, fit.model):
        return f"model {options['model']} asked for, the fit is {fit.model}"
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
    if found is None:
        return "no stored fit"
    fit, buyers, orders = found
    other = _asked_otherwise(fit, options or {})
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


def build_predictions(
    store: Store, ctx: Context, *, floor: DataFloor | None = None
) -> dict[str, int]:
    """The full predictions step: fit, score, write ``customer_predictions``; record the fit.
    ``ctx.options``: the arguments of :func:`~tenure.predictions.predict.predict`."""
    options = _options(ctx)
    if floor is not None:
        options["floor"] = floor
    result = predict(store, as_of=ctx.as_of, attach_to_facts=False, **options)
    if result.fit is not None:
        save_fit(store, result.fit)
    outputs = getattr(ctx, "outputs", None)
    if outputs is not None:
        outputs["result"] = result
    return {PREDICTIONS: result.rows}


def update_predictions(
    store: Store, ctx: Context, *, floor: DataFloor | None = None
) -> dict[str, int]:
    """The incremental predictions step: every buyer of the stored facts re-scored with the
    stored fit, unless a refit is due (:func:`refit_due`), then the full step."""
    found = last_fit(store)
    if found is None or refit_due(store, ctx.as_of, _options(ctx)) is not None:
        return build_predictions(store, ctx, floor=floor)
    try:
        expr = score_with_fit(store, store.read(FACTS), ctx.as_of, found[0])
        table = store.replace(PREDICTIONS, expr)
        return {PREDICTIONS: int(table.count().execute())}
    finally:
        drop_upload(store, SCRATCH_SCORES)

"""``tenure models backtest``: fit every model on a calibration period, predict the holdout,
compare the predictions with what happened, choose the store's model and record the run.

For a calibration end ``E`` and a holdout of ``h`` days (docs/models.md, "Backtest"):

1. :func:`~tenure.predictions.holdout.calibration_holdout` summarises each person who bought by
   ``E`` (in the engine) and counts their purchase days and margin in ``(E, E + h]``;
2. each model is fitted on the calibration data (BG/NBD, MBG/NBD and Pareto/NBD on the
   compressed ``(frequency, recency, T)`` patterns in days, BG/BB on weekly opportunities,
   Gamma-Gamma on the repeat buyers' spend, the gradient-boosted model on the window before
   ``E``; the segment-rhythm heuristic of ``tenure predict`` needs no fit) and predicts each
   person's holdout purchase days and margin; a model without visible drop-out is its
   boundary fit (the NBD, or the beta-binomial: docs/models.md, "Boundary fits"), which its
   row's ``fitted_as`` says;
3. per model: per-customer MAE and RMSE, totals, a decile calibration table, the weekly
   cumulative tracking series (Fader, Hardie & Lee 2005, Figure 1) and the holdout
   repeat-frequency histogram;
4. the choice (:data:`RULE`) is recorded in table ``model_runs``; :func:`chosen_model` reads
   the latest one, which ``tenure predict`` uses.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.analytics.base import orders_base
from tenure.errors import ConfigError
from tenure.models.base import fit_note, reported_params
from tenure.models.errors import ModelDataError, ModelError
from tenure.models.gamma_gamma import GammaGamma
from tenure.models.inputs import FloatArray, compress
from tenure.predictions.holdout import (
    WEEK,
    DataFloor,
    Sufficiency,
    calibration_holdout,
    parse_holdout,
    sufficiency_of,
    weekly_repeats,
)
from tenure.predictions.predict import HEURISTIC, purchase_models, segment_rhythm
from tenure.predictions.runs import BacktestResult, record_run
from tenure.predictions.scoring import drop_upload, p_at_least, upload
from tenure.progress import ProgressCallback, Steps
from tenure.store import Store

BOOSTED = "GradientBoosting"
BGBB = "BetaGeoBetaBinom"
#: Every row a backtest can report, in table order.
MODELS = ("BetaGeo", "ModifiedBetaGeo", "ParetoNBD", BGBB, BOOSTED, HEURISTIC)
#: The rows ``tenure predict`` can use, in order of preference on a tie.
ELIGIBLE = ("BetaGeo", "ModifiedBetaGeo", "ParetoNBD", HEURISTIC)
#: Histogram bins: 0 .. TOP - 1 repeat purchase days, and TOP or more.
TOP = 7
DECILES = 10
SCRATCH_SAMPLE = "_backtest_sample"


# -- the calibration data ----------------------------------------------------------------------


@dataclass
class _Data:
    """The calibration buyers (one row each, sorted by person) and what models read."""

    frame: pd.DataFrame
    calibration_end: date
    holdout_days: int
    at_risk_factor: float
    store: Store
    persons: ir.Table | None

    def __post_init__(self) -> None:
        f = self.frame
        self.n = len(f)
        cols = [f[c].to_numpy(np.float64) for c in ("frequency", "recency_days", "T_days")]
        self.patterns, self.weights, self.inverse = compress(cols, np.ones(self.n))
        weekly = [f[c].to_numpy(np.float64) for c in ("repeat_weeks", "last_week", "weeks")]
        self.weekly, self.weekly_weights, self.weekly_inverse = compress(weekly, np.ones(self.n))
        self.actual = f["holdout_purchases"].to_numpy(np.float64)
        self.actual_margin = f["holdout_margin"].to_numpy(np.float64)
        self.rate = f["margin_rate"].to_numpy(np.float64)
        self.spend = np.full(self.n, np.nan)
        self.spend_params: dict[str, float] = {}
        self.spend_note = ""


def _sample_orders(
    store: Store, orders: ir.Table, end: date, size: int, seed: int
) -> tuple[ir.Table, ir.Table]:
    """The orders of ``size`` persons drawn at random (``seed``) among those who bought by
    ``end``; the draw is made here from the sorted ids, so it is the same on every engine."""
    bought = orders.filter(orders.is_purchase & (orders.day <= ibis.literal(end)))
    ids = sorted(bought.select("person_id").distinct().to_pyarrow()["person_id"].to_pylist())
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ids), size=min(size, len(ids)), replace=False)
    persons = upload(store, SCRATCH_SAMPLE, pd.DataFrame({"s_person": [ids[i] for i in picked]}))
    return orders.semi_join(persons, orders.person_id == persons.s_person), persons


def _collect(store: Store, orders: ir.Table, end: date, holdout_days: int) -> pd.DataFrame:
    """calibration_holdout with each buyer's segment rhythm (seg_gap, repeat_rate), here."""
    from tenure.analytics.status import purchase_band

    frame = calibration_holdout(
        store, calibration_end=end, holdout_days=holdout_days, orders=orders
    )
    rhythm = segment_rhythm(orders.filter(orders.day <= ibis.literal(end)))
    f = frame.mutate(seg=purchase_band(frame.frequency + 1))
    j = f.left_join(rhythm, f.seg == rhythm.r_seg)
    rows = j.select(*frame.columns, "seg_gap", "repeat_rate").to_pyarrow().to_pandas()
    return rows.sort_values("person_id", ignore_index=True)


def _fit_spend(data: _Data) -> None:
    """Gamma-Gamma on the repeat buyers; each buyer's expected spend per purchase day."""
    f = data.frame
    used = (f["frequency"] > 0) & (f["monetary"] > 0)
    try:
        gg = GammaGamma().fit(f.loc[used, "frequency"], f.loc[used, "monetary"])
        # free repeat purchases (m = 0) count as m ~ 0, as predict's expected_spend does
        money = f["monetary"].clip(lower=1e-9)
        spend = gg.conditional_expected_average_profit(f["frequency"], money)
        data.spend = np.asarray(spend, dtype=np.float64)
    except ModelError as exc:
        data.spend_note = f"GammaGamma could not be fitted ({exc.message}); no margin figures."
        return
    data.spend_params = {f"gg_{k}": v for k, v in reported_params(gg).items()}
    if gg.boundary_:
        data.spend_note = f"GammaGamma: {fit_note(gg)}"


# -- the candidates ------------------------------------------------------------------------------


class _Candidate(ABC):
    """One row of the backtest: fitted on the calibration data, predicting purchase days."""

    name: str = ""
    #: What the fit was, when not the model itself ("no dropout (boundary fit: the NBD)").
    fitted_as: str = ""

    def fit(self, data: _Data) -> dict[str, float]:
        """Fit; return the parameters to report."""
        return {}

    @abstractmethod
    def purchases(self, data: _Data, span: float) -> FloatArray:
        """Expected purchase days of each buyer in ``(E, E + span]``."""

    def totals(self, data: _Data, spans: FloatArray) -> FloatArray:
        """Expected purchase days of all buyers in ``(E, E + span]``, per span."""
        return np.array([float(np.sum(self.purchases(data, float(s)))) for s in spans])

    def new_customer(self, ages: FloatArray) -> FloatArray | None:
        """E[X(age)]: a new customer's expected repeat purchase days by ``age`` (or None)."""
        return None

    def counts(self, data: _Data, span: float) -> FloatArray | None:
        """Expected buyers with 0 .. TOP - 1 and TOP+ purchase days in the span (or None)."""
        return None

    def margin(self, data: _Data, purchases: FloatArray) -> FloatArray:
        """Expected holdout margin: purchases x Gamma-Gamma spend x margin rate."""
        return purchases * data.spend * data.rate


class _Btyd(_Candidate):
    """BG/NBD, MBG/NBD or Pareto/NBD, fitted on the patterns in days."""

    def __init__(self, name: str, model_class: type) -> None:
        self.name = name
        self.model_class = model_class

    def fit(self, data: _Data) -> dict[str, float]:
        x, t_x, age = data.patterns
        self.model = self.model_class().fit(x, t_x, age, weights=data.weights)
        self.fitted_as = fit_note(self.model)
        return reported_params(self.model)

    def _on_patterns(self, data: _Data, span: float) -> FloatArray:
        values = self.model.conditional_expected_purchases(span, *data.patterns)
        return np.asarray(values, dtype=np.float64)

    def purchases(self, data: _Data, span: float) -> FloatArray:
        return self._on_patterns(data, span)[data.inverse]

    def totals(self, data: _Data, spans: FloatArray) -> FloatArray:
        return np.array([data.weights @ self._on_patterns(data, float(s)) for s in spans])

    def new_customer(self, ages: FloatArray) -> FloatArray | None:
        return np.asarray(self.model.expected_purchases(ages), dtype=np.float64)

    def counts(self, data: _Data, span: float) -> FloatArray | None:
        x, t_x, age = data.patterns
        at_least = [
            p_at_least(self.model, np.full(len(x), float(k)), span, x, t_x, age)
            for k in range(TOP + 1)
        ]
        tail = np.vstack(at_least)  # P(N >= k), k = 0 .. TOP
        exact = np.vstack([tail[:-1] - tail[1:], tail[-1:]])
        return np.asarray(exact @ data.weights, dtype=np.float64)


class _WeeklyBgbb(_Candidate):
    """BG/BB on weekly opportunities, its purchase weeks turned into purchase days by the
    calibration ratio of repeat purchase days to repeat purchase weeks (several purchase days
    can fall in one week; BG/BB counts the week once)."""

    name = BGBB

    def fit(self, data: _Data) -> dict[str, float]:
        from tenure.models.bgbb import BetaGeoBetaBinom

        x, t_x, n = data.weekly
        self.model = BetaGeoBetaBinom().fit(x, t_x, n, weights=data.weekly_weights)
        if hasattr(self, "_factor"):
            del self._factor
        weeks = float(data.weekly_weights @ x)
        self.days_per_week = float(data.frame["frequency"].sum()) / weeks if weeks else 1.0
        self.fitted_as = fit_note(self.model)
        params = reported_params(self.model)
        return {**params, "days_per_week": self.days_per_week}

    def _interpolate(self, weeks: float | FloatArray, at: Any) -> FloatArray:
        """``at(whole weeks)`` linearly interpolated to fractional weeks, in purchase days."""
        low = np.floor(weeks)
        below, above = np.asarray(at(low)), np.asarray(at(low + 1.0))
        return np.asarray((below + (weeks - low) * (above - below)) * self.days_per_week)

    def _on_patterns(self, data: _Data, span: float) -> FloatArray:
        """Expected purchase days of each weekly pattern in the span. FHS 2010 eq. 13 is a
        per-pattern factor times ``sum_j B(gamma, delta+n+j)/B(gamma, delta)`` over the
        horizon, so the factor is taken once (from a one-week horizon) for every span."""
        from tenure.models.bgbb import future_alive_sum

        x, t_x, n = data.weekly
        if self.model.boundary_:  # without drop-out, a constant rate per week: linear in k
            one = np.asarray(self.model.conditional_expected_purchases(1.0, x, t_x, n))
            return self._interpolate(span / WEEK, lambda k: one * k)
        gamma, delta = (float(self.model.params_[k]) for k in ("gamma", "delta"))
        if not hasattr(self, "_factor"):
            one = np.asarray(self.model.conditional_expected_purchases(1.0, x, t_x, n))
            self._factor = one / future_alive_sum(gamma, delta, n, np.ones(len(n)))

        def at(k: FloatArray) -> FloatArray:
            return np.asarray(self._factor * future_alive_sum(gamma, delta, n, k + 0.0 * n))

        return self._interpolate(span / WEEK, at)

    def purchases(self, data: _Data, span: float) -> FloatArray:
        return self._on_patterns(data, span)[data.weekly_inverse]

    def totals(self, data: _Data, spans: FloatArray) -> FloatArray:
        return np.array([data.weekly_weights @ self._on_patterns(data, float(s)) for s in spans])

    def new_customer(self, ages: FloatArray) -> FloatArray | None:
        return self._interpolate(ages / WEEK, self.model.expected_purchases)


class _Heuristic(_Candidate):
    """The segment-rhythm heuristic of ``tenure predict`` (docs/models.md, "Heuristic"):
    P(alive) is 1 until ``at_risk_factor`` usual gaps have passed, then falls as
    ``at_risk / days since``; each usual gap in the span brings one more purchase with the
    segment's repeat rate, ``rate + rate^2 + ...``. No repeat in the segment: 0."""

    name = HEURISTIC

    def purchases(self, data: _Data, span: float) -> FloatArray:
        f = data.frame
        gap = f["seg_gap"].to_numpy(np.float64)
        gap = np.where(gap > 0, gap, np.nan)
        rate = f["repeat_rate"].to_numpy(np.float64)
        since = f["days_since"].to_numpy(np.float64)
        at_risk = gap * data.at_risk_factor
        with np.errstate(divide="ignore", invalid="ignore"):
            p_alive = np.where(since <= at_risk, 1.0, at_risk / np.where(since > 0, since, np.nan))
            steps = span / gap
            chain = np.where(rate < 1.0, rate * (1.0 - rate**steps) / (1.0 - rate), steps)
        return np.nan_to_num(p_alive * chain, nan=0.0)

    def margin(self, data: _Data, purchases: FloatArray) -> FloatArray:
        aov = np.nan_to_num(data.frame["aov"].to_numpy(np.float64))
        return purchases * aov * data.rate


class _Boosted(_Candidate):
    """Gradient boosting (:mod:`tenure.models.ml`) trained on the window of the holdout's
    length before the calibration end: features as of ``E - h``, targets the purchase days
    (one model) and margin (another) of ``(E - h, E]``; applied to the features as of ``E``.
    It predicts the whole holdout only, so its tracking series has its last point alone."""

    name = BOOSTED

    def fit(self, data: _Data) -> dict[str, float]:
        from tenure.models.ml import GradientBoostingCLV
        from tenure.predictions.features import scoring_frame, training_frame

        end, h = data.calibration_end, data.holdout_days
        start = end - timedelta(days=h)
        first = pd.Timestamp(data.frame["first_day"].min())  # NaT: no buyer at all
        if pd.isna(first) or start < first.date():
            raise ModelDataError(
                f"{self.name}: no buyer before {start.isoformat()} (the calibration end minus "
                "the holdout), so there is no past window to train on.",
                hint="Use a later --calibration-end or a shorter --holdout.",
            )
        train = self._persons(data, training_frame(data.store, end, h)).to_pandas()
        days = self._purchase_days(data, start, end)
        train = train.merge(days, on="person_id", how="left").fillna({"target_days": 0.0})
        count_model = GradientBoostingCLV(horizon_days=h).fit(train, train["target_days"])
        margin_model = GradientBoostingCLV(horizon_days=h).fit(train, train["target"])
        now = self._persons(data, scoring_frame(data.store, end)).to_pandas()
        now = data.frame[["person_id"]].merge(now, on="person_id", how="left")
        self._purchases = count_model.predict(now)
        self._margin = margin_model.predict(now)
        return {"training_buyers": float(len(train))}

    @staticmethod
    def _persons(data: _Data, table: ir.Table) -> ir.Table:
        if data.persons is None:
            return table
        return table.semi_join(data.persons, table.person_id == data.persons.s_person)

    def _purchase_days(self, data: _Data, start: date, end: date) -> pd.DataFrame:
        from tenure.analytics.facts import daily_purchases

        orders = self._persons(data, orders_base(data.store, as_of=end))
        d = daily_purchases(orders.filter(orders.day > ibis.literal(start)))
        counts = d.group_by("person_id").agg(target_days=d.count().cast("float64"))
        return counts.to_pyarrow().to_pandas()

    def purchases(self, data: _Data, span: float) -> FloatArray:
        if span != data.holdout_days:
            return np.full(data.n, np.nan)
        return np.asarray(self._purchases, dtype=np.float64)

    def margin(self, data: _Data, purchases: FloatArray) -> FloatArray:
        return np.asarray(self._margin, dtype=np.float64)


def _candidates(names: tuple[str, ...]) -> list[_Candidate]:
    available = purchase_models()
    out: list[_Candidate] = []
    for name in names:
        if name in available:
            out.append(_Btyd(name, available[name]))
        elif name == BGBB:
            out.append(_WeeklyBgbb())
        elif name == BOOSTED:
            out.append(_Boosted())
        else:
            out.append(_Heuristic())
    return out


def _check_models(models: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if models is None:
        return MODELS
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ConfigError(
            f"The 'models' parameter of backtest must name some of {', '.join(MODELS)}. "
            f"Got {list(models)!r} instead."
        )
    return tuple(m for m in MODELS if m in models)


# -- evaluation ----------------------------------------------------------------------------------


def _errors(predicted: FloatArray, actual: FloatArray) -> tuple[float, float, float, float]:
    """MAE, RMSE, predicted total, error of the total in % of the actual one."""
    err = predicted - actual
    total, real = float(np.sum(predicted)), float(np.sum(actual))
    pct = 100.0 * (total - real) / real if real else float("nan")
    return float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err**2))), total, pct


def _metrics(name: str, data: _Data, purchases: FloatArray, margin: FloatArray) -> dict[str, Any]:
    mae, rmse, total, pct = _errors(purchases, data.actual)
    m_mae, m_rmse, m_total, m_pct = _errors(margin, data.actual_margin)
    return {
        "model": name,
        "status": "ok",
        "mae": mae,
        "rmse": rmse,
        "predicted": total,
        "actual": float(np.sum(data.actual)),
        "error_pct": pct,
        "mae_margin": m_mae,
        "rmse_margin": m_rmse,
        "predicted_margin": m_total,
        "actual_margin": float(np.sum(data.actual_margin)),
        "margin_error_pct": m_pct,
    }


def _deciles(name: str, data: _Data, purchases: FloatArray) -> pd.DataFrame:
    """Buyers ranked by predicted purchases (ties by person id) in ten near-equal groups:
    decile 1 holds the highest predictions."""
    ids = data.frame["person_id"].to_numpy()
    order = np.lexsort((ids, -purchases))
    rows = []
    for i, group in enumerate(np.array_split(order, DECILES)):
        if len(group) == 0:
            continue
        rows.append(
            {
                "model": name,
                "decile": i + 1,
                "customers": len(group),
                "predicted_mean": float(purchases[group].mean()),
                "actual_mean": float(data.actual[group].mean()),
                "predicted": float(purchases[group].sum()),
                "actual": float(data.actual[group].sum()),
            }
        )
    return pd.DataFrame(rows)


def _histogram(
    name: str, data: _Data, candidate: _Candidate, purchases: FloatArray
) -> pd.DataFrame:
    """Buyers with 0 .. 6 and 7+ holdout purchase days: actual and expected. Models without
    a count distribution (BG/BB in days, gradient boosting, heuristic) get a Poisson around
    each buyer's prediction."""
    actual = np.bincount(np.minimum(data.actual, TOP).astype(np.int64), minlength=TOP + 1)
    expected = candidate.counts(data, float(data.holdout_days))
    if expected is None:
        from scipy import stats  # ~0.4 s to import: only when a backtest needs it

        k = np.arange(TOP)[:, None]
        pmf = stats.poisson.pmf(k, purchases[None, :]).sum(axis=1)
        expected = np.append(pmf, stats.poisson.sf(TOP - 1, purchases).sum())
    labels = [str(k) for k in range(TOP)] + [f"{TOP}+"]
    return pd.DataFrame(
        {"model": name, "repeats": labels, "actual": actual.astype(float), "predicted": expected}
    )


def _weeks(data: _Data, weekly: pd.DataFrame) -> pd.DataFrame:
    """week, day, offset (days from the calibration end, capped at the holdout), actual
    (cumulative repeat purchase days to the end of the week), from the earliest first purchase."""
    h = data.holdout_days
    last = -(-h // WEEK)
    first = -int(data.frame["T_days"].max()) // WEEK if data.n else 0
    weeks = np.arange(min(first, 0), last + 1)
    per_week = weekly.set_index("week")["repeats"].reindex(weeks, fill_value=0)
    offsets = np.minimum(WEEK * weeks, h)
    days = [data.calibration_end + timedelta(days=int(o)) for o in offsets]
    return pd.DataFrame(
        {"week": weeks, "day": days, "offset": offsets, "actual": per_week.cumsum().to_numpy()}
    )


def _tracking(name: str, data: _Data, candidate: _Candidate, base: pd.DataFrame) -> pd.DataFrame:
    """The cumulative repeat purchase days, actual and predicted, week by week.

    ``predicted``: from the calibration end on, the actual count at the end plus the expected
    holdout purchase days of the calibration buyers given their history (so its last point
    is the actual calibration total plus the predicted holdout total). ``unconditional``:
    what the model expects of each buyer from their first purchase day, over both periods
    (Fader, Hardie & Lee 2005, Figure 1); only for the buy-till-you-die models.
    """
    offsets = base["offset"].to_numpy(np.float64)
    at_end = float(base.loc[base["week"] == 0, "actual"].iloc[0])
    predicted = np.full(len(base), np.nan)
    predicted[base["week"].to_numpy() == 0] = at_end
    ahead = offsets > 0
    predicted[ahead] = at_end + candidate.totals(data, offsets[ahead])
    ages, weights, _ = compress([data.frame["T_days"].to_numpy(np.float64)], np.ones(data.n))
    grid = np.maximum(ages[0][:, None] + offsets[None, :], 0.0)
    expected = candidate.new_customer(grid.ravel())
    unconditional = (
        np.full(len(base), np.nan) if expected is None else weights @ expected.reshape(grid.shape)
    )
    out = base.drop(columns="offset").assign(predicted=predicted, unconditional=unconditional)
    return out.assign(model=name)[["model", "week", "day", "actual", "predicted", "unconditional"]]


@dataclass
class _Tables:
    metrics: list[dict[str, Any]] = field(default_factory=list)
    deciles: list[pd.DataFrame] = field(default_factory=list)
    tracking: list[pd.DataFrame] = field(default_factory=list)
    histogram: list[pd.DataFrame] = field(default_factory=list)


def _evaluate(candidate: _Candidate, data: _Data, base: pd.DataFrame, tables: _Tables) -> None:
    """Fit one candidate and add its rows; a model that cannot be fitted gets a failed row."""
    started = time.perf_counter()
    name = candidate.name
    try:
        params = candidate.fit(data)
        purchases = candidate.purchases(data, float(data.holdout_days))
        margin = candidate.margin(data, purchases)
        tracking = _tracking(name, data, candidate, base)
        histogram = _histogram(name, data, candidate, purchases)
    except (ModelError, ImportError) as exc:
        reason = getattr(exc, "message", str(exc))
        tables.metrics.append({"model": name, "status": f"failed: {reason}"})
        return
    row = _metrics(name, data, purchases, margin)
    note = ""
    if isinstance(candidate, _Btyd | _WeeklyBgbb):
        params, note = {**params, **data.spend_params}, data.spend_note
    row.update(
        seconds=round(time.perf_counter() - started, 3),
        params=params,
        note=note,
        fitted_as=candidate.fitted_as,
    )
    tables.metrics.append(row)
    tables.deciles.append(_deciles(name, data, purchases))
    tables.tracking.append(tracking)
    tables.histogram.append(histogram)


def _choose(metrics: pd.DataFrame, sufficiency: Sufficiency) -> str | None:
    """:data:`RULE`."""
    if not sufficiency.enough:
        return HEURISTIC
    ok = metrics[(metrics["status"] == "ok") & metrics["model"].isin(ELIGIBLE)]
    if ok.empty:
        return None
    rank = ok.assign(_pref=ok["model"].map(ELIGIBLE.index)).sort_values(["rmse", "_pref"])
    return str(rank["model"].iloc[0])


# -- running, recording ------------------------------------------------------------------------


def _check_window(store: Store, end: date, stop: date, orders: ir.Table) -> None:
    """The holdout must be observed in full and the calibration must hold a purchase."""
    from tenure.analytics.base import store_end

    latest = store_end(store)
    if stop > latest:
        raise ConfigError(
            f"The holdout ends on {stop.isoformat()}, after the as-of day "
            f"({latest.isoformat()}), so its purchases are not all known yet.",
            hint="Choose an earlier --calibration-end or a shorter --holdout.",
        )
    if int(orders.filter(orders.day <= ibis.literal(end)).count().execute()) == 0:
        raise ConfigError(
            f"No order on or before the calibration end {end.isoformat()}: nothing to fit.",
            hint="Choose a later --calibration-end.",
        )


def _sufficiency(data: _Data, floor: DataFloor | None) -> Sufficiency:
    f = data.frame
    first = pd.Timestamp(f["first_day"].min())  # NaT: no buyer (e.g. every order a refund)
    history = 0 if pd.isna(first) else (data.calibration_end - first.date()).days
    repeat = int((f["frequency"] > 0).sum())
    return sufficiency_of(data.calibration_end, data.n, repeat, history, floor)


def backtest(
    store: Store,
    *,
    calibration_end: date,
    holdout: str | int = "26w",
    models: tuple[str, ...] | list[str] | None = None,
    out: str | Path | None = None,
    record: bool = True,
    sample: int | None = None,
    random_state: int = 0,
    floor: DataFloor | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Fit the models on the orders up to ``calibration_end``, predict the holdout, compare.

    holdout: ``26w``, ``180d``, ``6m``, ``1y`` or days (:func:`parse_holdout`); models: some
    of :data:`MODELS` (default all; the heuristic is always reported); out: a directory for
    the charts (PNG and one HTML page), none written without it; record: append the run to
    ``model_runs`` (never for a sample); sample: backtest ``sample`` buyers drawn at random
    (``random_state``) among the calibration buyers; floor: the data floor of the choice
    (default :data:`tenure.predictions.holdout.FLOOR`); progress: told the named steps
    (read the orders, fit each model: the models fitted so far, charts).
    """
    started = time.perf_counter()
    names = tuple(dict.fromkeys([*_check_models(models), HEURISTIC]))
    steps = Steps(progress, "Backtest", len(names) + 2)
    steps("read the orders")
    holdout_days = parse_holdout(holdout, calibration_end)
    stop = calibration_end + timedelta(days=holdout_days)
    orders = orders_base(store, as_of=stop)
    _check_window(store, calibration_end, stop, orders)
    persons = None
    try:
        if sample is not None:
            _check_sample(sample)
            orders, persons = _sample_orders(store, orders, calibration_end, sample, random_state)
        frame = _collect(store, orders, calibration_end, holdout_days)
        if frame.empty:
            raise ModelDataError(
                f"No buyer on or before the calibration end {calibration_end.isoformat()}: "
                "every order then is void, a refund or refunded in full, so there is nothing "
                "to fit.",
                hint="Choose a later --calibration-end, or check the orders' status and totals.",
            )
        weekly = weekly_repeats(orders, calibration_end=calibration_end, holdout_days=holdout_days)
        settings = store.settings
        data = _Data(frame, calibration_end, holdout_days, settings.at_risk_factor, store, persons)
        result = _run(data, names, weekly.to_pyarrow().to_pandas(), floor, steps)
    finally:
        if persons is not None:
            drop_upload(store, SCRATCH_SAMPLE)
    result.holdout, result.sample = str(holdout), sample
    steps("charts and record")
    if out is not None:
        from tenure.predictions.charts import write_charts

        result.charts = write_charts(result, Path(out))
    if record and sample is None:
        record_run(store, result)
        result.recorded = True
    result.seconds = round(time.perf_counter() - started, 3)
    steps.done()
    return result


def _check_sample(sample: int) -> None:
    from tenure.models.inputs import check_scalar

    check_scalar("backtest", "sample", sample, int, 1)


def _run(
    data: _Data,
    names: tuple[str, ...],
    weekly: pd.DataFrame,
    floor: DataFloor | None,
    steps: Steps | None = None,
) -> BacktestResult:
    _fit_spend(data)
    base = _weeks(data, weekly)
    tables = _Tables()
    for candidate in _candidates(names):
        if steps is not None:
            steps(f"fit {candidate.name}")
        _evaluate(candidate, data, base, tables)
    metrics = pd.DataFrame(tables.metrics)
    sufficiency = _sufficiency(data, floor)
    chosen = _choose(metrics, sufficiency)
    metrics["eligible"] = metrics["model"].isin(ELIGIBLE)
    metrics["chosen"] = metrics["model"] == chosen
    return BacktestResult(
        run_id=uuid.uuid4().hex,
        calibration_end=data.calibration_end,
        holdout="",
        holdout_days=data.holdout_days,
        buyers=data.n,
        sufficiency=sufficiency,
        metrics=metrics,
        deciles=_concat(tables.deciles),
        tracking=_concat(tables.tracking),
        histogram=_concat(tables.histogram),
        chosen=chosen,
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

"""``tenure predict``: CLV, P(alive), expected orders, next purchase and future-VIP odds.

For every buyer of ``customer_facts`` (docs/models.md, "Predictions"):

1. the store's purchase model (the backtest's choice, else BG/NBD) is fitted on the distinct
   ``(frequency, recency_days, T_days)`` patterns and Gamma-Gamma on the distinct
   ``(frequency, monetary)`` pairs, both counted in the engine (:mod:`tenure.predictions.scoring`);
2. the patterns are scored here and joined back in the engine, where each buyer's expected
   spend per purchase (Gamma-Gamma) and margin rate (their ``margin / revenue``, else the
   store's ``default_margin``) turn expected purchases into margin;
3. the rows go to table ``customer_predictions``, keyed by ``person_id``: whoever needs
   them joins it (nothing rewrites ``customer_facts`` after its pipeline step built it).

With ``clv_model="GradientBoosting"`` the CLV column comes instead from
:class:`~tenure.models.ml.GradientBoostingCLV`, trained on the window before the facts' day
(features as of the day minus the horizon, target the margin up to the day) and applied to
every buyer's features as of the day; its predictions are uploaded and joined back in the
engine like the scored patterns. P(alive), expected orders, the next purchase and the
future-VIP odds still come from the purchase model and Gamma-Gamma.

When the data are too thin (:class:`DataFloor`) or the model cannot be fitted, the numbers come
from a transparent heuristic (the purchase rhythm of the customer's segment) and every
explanation says so. Prospects (no purchase) get a row without predictions.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.facts import customer_facts
from tenure.analytics.money import money_warnings
from tenure.errors import ConfigError
from tenure.models.base import fit_note, reported_params
from tenure.models.beta_geo import BetaGeo, ModifiedBetaGeo
from tenure.models.errors import ModelDataError, ModelError
from tenure.models.gamma_gamma import GammaGamma
from tenure.models.inputs import check_scalar
from tenure.models.pareto_nbd import ParetoNBD
from tenure.predictions.features import window_totals
from tenure.predictions.holdout import DataFloor
from tenure.predictions.runs import chosen_model
from tenure.predictions.scoring import (
    KEYS,
    MONTH_DAYS,
    drop_upload,
    expected_spend,
    f64,
    pattern_counts,
    score_patterns,
    spend_pairs,
    upload,
)
from tenure.progress import ProgressCallback, Steps
from tenure.store import Store, reporting_currency

PREDICTIONS = "customer_predictions"
FACTS = "customer_facts"
HEURISTIC = "heuristic"
DEFAULT_MODEL = "BetaGeo"
#: The progress task of a prediction and its named steps: customer facts, fit, score and write.
PREDICT_TASK = "Predict"
PREDICT_STEPS = 3
#: The scored patterns while a prediction runs (a temporary table or Spark view).
SCRATCH_SCORES = "_predict_scores"
#: customer_facts of another day than the stored one (or before it is stored), while a
#: prediction runs.
SCRATCH_FACTS = "_predict_facts"
#: The gradient-boosted margins while a prediction runs (a temporary table or Spark view).
SCRATCH_MARGINS = "_predict_margins"
#: The CLV models: the purchase model x Gamma-Gamma spend (default), or gradient boosting.
GAMMA_GAMMA = "GammaGamma"
BOOSTED = "GradientBoosting"
CLV_MODELS = (GAMMA_GAMMA, BOOSTED)
#: A buyer who would need more purchases than this to reach the VIP threshold has no chance.
MAX_NEED = 10_000
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def purchase_models() -> dict[str, type]:
    """The purchase models ``predict`` can fit, by name."""
    return {"BetaGeo": BetaGeo, "ModifiedBetaGeo": ModifiedBetaGeo, "ParetoNBD": ParetoNBD}


@dataclass(frozen=True)
class DataStats:
    """What the floor is checked against."""

    buyers: int
    repeat_buyers: int
    history_days: int

    def shortfall(self, floor: DataFloor) -> str | None:
        """Why the data are too thin for a model, or None."""
        short = floor.short(self.buyers, self.repeat_buyers, self.history_days)
        if not short:
            return None
        value, least, what = short[0]
        return f"{value:,} {what}, fewer than {least:,}"


@dataclass
class Fit:
    """What a prediction fitted: enough to score every buyer again without fitting
    (:func:`score_with_fit`; stored by :mod:`tenure.predictions.rescore`). The VIP threshold
    is part of it (it reads the orders): it is renewed with the fit."""

    as_of: date
    model: str
    purchase: Any
    spend: GammaGamma
    vip: float | None
    horizon_months: int
    monthly_rate: float


@dataclass
class PredictResult:
    """What :func:`predict` wrote and how."""

    as_of: date
    model: str
    method: str
    horizon_months: int
    discount_rate: float
    reason: str | None = None
    stats: DataStats | None = None
    #: What made the CLV column: GammaGamma, GradientBoosting or heuristic.
    clv_model: str = GAMMA_GAMMA
    patterns: int = 0
    parameters: dict[str, float] = field(default_factory=dict)
    vip_threshold: float | None = None
    rows: int = 0
    totals: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0
    #: the reporting currency of the CLV and the VIP threshold
    currency: str = ""
    #: the money warnings (:func:`tenure.analytics.money.money_warnings`) of the facts' day
    warnings: list[str] = field(default_factory=list)
    #: the fitted models (None for the heuristic and gradient boosting: those fit each time)
    fit: Fit | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        fit, self.fit = self.fit, None
        try:
            out = asdict(self)
        finally:
            self.fit = fit
        out.pop("fit", None)
        out["as_of"] = self.as_of.isoformat()
        return out


def _as_date(value: Any) -> date:
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.date() if isinstance(value, datetime) else value


def _facts_source(store: Store, as_of: date | None) -> tuple[ir.Table, date, bool]:
    """(facts, their day, whether they are the stored table). The stored ``customer_facts``
    when they hold ``as_of`` (without ``as_of``: whatever day they hold), else the facts
    computed as of ``as_of`` (default: :func:`store_end`). Keeping the stored table current
    is the pipeline's job (:func:`tenure.pipeline.predict` runs its step first)."""
    if store.exists(FACTS):
        table = store.read(FACTS)
        stored = table.as_of.max().execute()
        if stored is not None and (as_of is None or as_of == _as_date(stored)):
            return table, _as_date(stored), True
    end = as_of if as_of is not None else store_end(store)
    return customer_facts(store, as_of=end), end, False


def _buyers(facts: ir.Table, default_margin: float) -> ir.Table:
    """The buyers with the columns prediction reads, typed the same on every engine."""
    b = facts.filter(facts.is_buyer)
    revenue = b.revenue.cast(F64)
    rate = (b.margin.cast(F64) / revenue.nullif(0.0)).clip(0.0, 1.0)
    return b.select(
        "person_id",
        frequency=b.frequency.cast("int64"),
        recency_days=b.recency_days.cast("int64"),
        T_days=b.T_days.cast("int64"),
        monetary=b.monetary.cast(F64),
        orders=b.orders.cast("int64"),
        aov=b.aov.cast(F64),
        gap_median=b.gap_median.cast(F64),
        days_since=b.days_since_last_order.cast("int64"),
        rate=ibis.ifelse(revenue > 0, ibis.coalesce(rate, f64(default_margin)), default_margin),
    )


def data_stats(patterns: pd.DataFrame) -> DataStats:
    """Buyers, repeat buyers and days from the first purchase to the facts' day, from the
    counted patterns (:func:`~tenure.predictions.scoring.pattern_counts`): the oldest buyer's
    ``T_days`` is the store's history."""
    n = patterns["n"]
    history = int(patterns["T_days"].max()) if len(patterns) else 0
    return DataStats(int(n.sum()), int(n[patterns["frequency"] > 0].sum()), history)


def model_name(store: Store, model: str | None) -> str:
    """The model asked for, else the backtest's choice, else BG/NBD."""
    choices = [*purchase_models(), HEURISTIC]
    if model is not None:
        if model not in choices:
            raise ConfigError(
                f"The 'model' parameter of predict must be one of {', '.join(choices)}. "
                f"Got {model!r} instead.",
                hint="Leave it out to use the model the backtest chose for the store.",
            )
        return model
    chosen = chosen_model(store)
    return chosen if chosen in choices else DEFAULT_MODEL


def _clv_model_name(clv_model: str | None) -> str:
    """The CLV model asked for, else Gamma-Gamma."""
    if clv_model is None:
        return GAMMA_GAMMA
    if clv_model not in CLV_MODELS:
        raise ConfigError(
            f"The 'clv_model' parameter of predict must be one of {', '.join(CLV_MODELS)}. "
            f"Got {clv_model!r} instead.",
            hint="Leave it out for the purchase model's CLV with Gamma-Gamma spend.",
        )
    return clv_model


def vip_threshold(store: Store, buyers: ir.Table, end: date, days: int, n: int) -> float | None:
    """The least trailing-``days`` margin inside the VIP tier (the top ``vip_share`` of buyers
    by margin of the last ``days`` days); None when that tier holds no positive margin."""
    k = max(1, math.ceil(store.settings.vip_share * n))
    totals = window_totals(orders_base(store, as_of=end), end - timedelta(days=days), end)
    totals = totals.semi_join(buyers, totals.w_person == buyers.person_id)
    positive = totals.filter(totals.margin > 0)
    top = positive.order_by(ibis.desc("margin")).limit(1, offset=k - 1).margin.to_pyarrow()
    values = top.to_pylist()
    return float(values[0]) if values else None


def whole(value: ir.FloatingValue) -> ir.StringValue:
    """A number rounded to a whole one, as text (the same on every engine)."""
    return value.round().cast("int64").cast("string")


def _money(value: ir.FloatingValue, currency: str) -> ir.StringValue:
    amount = whole(value)
    symbol = _SYMBOLS.get(currency)
    return ibis.literal(symbol) + amount if symbol else amount + ibis.literal(f" {currency}")


def fixed(value: ir.FloatingValue, digits: int) -> ir.StringValue:
    """A non-negative number with ``digits`` decimals, the same text on every engine."""
    scale = 10**digits
    units = (value * f64(scale)).round().cast("int64")
    whole = (units // scale).cast("string")
    return whole + "." + (units % scale).cast("string").lpad(digits, "0")


def history_text(b: ir.Table) -> ir.StringValue:
    """'3 orders, usual gap 41 days, last order 97 days ago' (or '1 order, 97 days ago',
    '2 orders on one day, today')."""
    since = ibis.cases(
        (b.days_since == 0, "today"),
        (b.days_since == 1, "1 day ago"),
        else_=b.days_since.cast("string") + " days ago",
    )
    gap = whole(b.gap_median)
    return ibis.cases(
        (b.orders <= 1, "1 order, " + since),
        (b.frequency == 0, b.orders.cast("string") + " orders on one day, " + since),
        else_=b.orders.cast("string") + " orders, usual gap " + gap + " days, last order " + since,
    )


def outlook_text(
    p_alive: ir.FloatingValue,
    orders: ir.FloatingValue,
    margin: ir.FloatingValue,
    horizon_months: int,
    currency: str,
) -> ir.StringValue:
    """'-> P(alive) 0.31, 1.2 orders and $84 margin expected in 12 months'."""
    return (
        " -> P(alive) "
        + fixed(p_alive, 2)
        + ", "
        + fixed(orders, 1)
        + " orders and "
        + _money(margin, currency)
        + f" margin expected in {horizon_months} months"
    )


@dataclass(frozen=True)
class _Run:
    """One prediction's settings, passed to the row builders."""

    store: Store
    end: date
    model: str
    horizon_months: int
    monthly_rate: float
    vip: float | None
    clv_model: str = GAMMA_GAMMA
    floor: DataFloor = field(default_factory=DataFloor)
    #: where the fit and the scoring are reported (named steps of "Predict")
    steps: Steps = field(default_factory=lambda: Steps(None, PREDICT_TASK, PREDICT_STEPS))

    @property
    def currency(self) -> str:
        return reporting_currency(self.store)

    @property
    def span_days(self) -> float:
        return self.horizon_months * MONTH_DAYS

    @property
    def horizon_days(self) -> int:
        """The horizon in whole days (365 for 12 months): the VIP threshold's trailing window
        and the gradient-boosted model's target window."""
        return round(self.span_days)

    @property
    def mean_discount(self) -> float:
        """The mean of the monthly discount factors over the horizon (heuristic and
        gradient-boosted CLV)."""
        months = range(1, self.horizon_months + 1)
        return sum((1.0 + self.monthly_rate) ** -k for k in months) / self.horizon_months


def _fit_purchases(name: str, patterns: pd.DataFrame) -> Any:
    """The purchase model fitted on the buyers' patterns (a boundary fit without visible
    drop-out: docs/models.md, "Boundary fits")."""
    model = purchase_models()[name]()
    model.fit(*(patterns[k].to_numpy(float) for k in KEYS), weights=patterns["n"].to_numpy(float))
    return model


def _fit_spend(buyers: ir.Table) -> GammaGamma:
    """Gamma-Gamma fitted on the repeat buyers' spend (raises ModelError without any, e.g.
    when every amount is 0, or with q <= 1)."""
    pairs = spend_pairs(buyers)
    gg = GammaGamma().fit(pairs["frequency"], pairs["monetary"], weights=pairs["n"])
    if float(gg.params_["q"]) <= 1.0:
        raise ModelError("GammaGamma: q <= 1, so the expected spend per purchase is infinite.")
    return gg


def boosted_margins(run: _Run) -> tuple[ir.Table, int]:
    """(g_person, g_margin) of every buyer, uploaded as :data:`SCRATCH_MARGINS`, and the
    number of buyers trained on: :class:`~tenure.models.ml.GradientBoostingCLV` trained on
    the buyers as of the facts' day minus the horizon and their margin up to the day, applied
    to the features as of the day (the undiscounted margin of the next horizon, >= 0).

    Raises :class:`ModelDataError` when the training window is below the data floor (the
    same buyers, repeat buyers and days of history, counted as of the window's start).
    """
    from tenure.models.ml import GradientBoostingCLV
    from tenure.predictions.features import scoring_frame, training_frame

    days = run.horizon_days
    start = run.end - timedelta(days=days)
    train = training_frame(run.store, run.end, days).to_pandas()
    history = int(train["T_days"].max()) if len(train) else 0
    stats = DataStats(len(train), int((train["frequency"] > 0).sum()), history)
    short = stats.shortfall(run.floor)
    if short is not None:
        raise ModelDataError(
            f"its training window (the buyers as of {start.isoformat()}, the facts' day minus "
            f"the {run.horizon_months}-month horizon) has too little data: {short}; use a "
            "shorter --horizon-months"
        )
    model = GradientBoostingCLV(horizon_days=days).fit(train, train["target"].to_numpy())
    now = scoring_frame(run.store, run.end).to_pandas()
    margins = pd.DataFrame({"g_person": now["person_id"], "g_margin": model.predict(now)})
    return upload(run.store, SCRATCH_MARGINS, margins), len(train)


def _model_rows(
    run: _Run, buyers: ir.Table, model: Any, gg: GammaGamma, margins: ir.Table | None = None
) -> ir.Table:
    """Buyers scored by the purchase model and Gamma-Gamma (patterns scored locally); with
    ``margins`` (:func:`boosted_margins`) the CLV is the gradient-boosted margin instead."""
    spend = expected_spend(gg, buyers.frequency, buyers.monetary)
    unit = spend * buyers.rate
    if run.vip is None:
        need = ibis.literal(0, "int64")
    else:
        count = (f64(run.vip) / unit.nullif(0.0)).ceil()
        need = ibis.least(ibis.coalesce(count, f64(MAX_NEED)), f64(MAX_NEED)).cast("int64")
    b = buyers.mutate(spend=spend, need=need)
    patterns = pattern_counts(b, (*KEYS, "need"))
    scored = score_patterns(
        model, patterns, horizon_months=run.horizon_months, monthly_rate=run.monthly_rate
    )
    scores = upload(run.store, SCRATCH_SCORES, scored)
    j = b.join(scores, [*KEYS, "need"])
    margin = j.expected_orders * j.spend * j.rate
    clv = j.discounted_orders * j.spend * j.rate
    method, source = run.model, ibis.literal("")
    if margins is not None:
        j = j.left_join(margins, j.person_id == margins.g_person)
        margin = ibis.greatest(j.g_margin, f64(0.0))
        clv = margin * f64(run.mean_discount)
        method, source = f"{run.model}+{BOOSTED}", ibis.literal(" (gradient boosting)")
    reach = j.p_reach if run.vip is not None else ibis.null(F64)
    return j.select(
        "person_id",
        method=ibis.literal(method),
        clv=clv,
        p_alive=j.p_alive,
        expected_orders=j.expected_orders,
        expected_next_purchase_days=j.next_purchase_days,
        future_vip_probability=reach,
        explanation=history_text(j)
        + outlook_text(j.p_alive, j.expected_orders, margin, run.horizon_months, run.currency)
        + source,
    )


def segment_rhythm(orders: ir.Table) -> ir.Table:
    """One row per purchase-count segment (purchase days 1, 2, 3-4, 5+: the status rhythm
    segments): ``seg_gap``, the median days from a purchase day of the segment to the next,
    and ``repeat_rate``, the share of its purchase days followed by another one."""
    from tenure.analytics.status import purchase_band, purchase_day_gaps

    days = purchase_day_gaps(orders)
    seg = days.mutate(seg=purchase_band(days.k))
    return seg.group_by(r_seg="seg").agg(
        seg_gap=seg.gap.median(), repeat_rate=seg.gap.notnull().cast(F64).mean()
    )


def _heuristic_rows(run: _Run, buyers: ir.Table, reason: str) -> ir.Table:
    """Buyers projected at their segment's rhythm (docs/models.md, "Thin data and the
    heuristic")."""
    from tenure.analytics.status import purchase_band, purchase_day_gaps

    orders = orders_base(run.store, as_of=run.end)
    rhythm = segment_rhythm(orders)
    overall = purchase_day_gaps(orders).gap.median().as_scalar()  # a segment without a gap
    b = buyers.mutate(seg=purchase_band(buyers.frequency + 1))
    j = b.left_join(rhythm, b.seg == rhythm.r_seg)
    gap = ibis.coalesce(j.seg_gap, overall).nullif(0.0)
    since, rate = j.days_since.cast(F64), ibis.coalesce(j.repeat_rate, f64(0.0))
    at_risk = gap * f64(run.store.settings.at_risk_factor)
    p_alive = ibis.ifelse(since <= at_risk, f64(1.0), at_risk / since.nullif(0.0))
    steps = f64(run.span_days) / gap  # usual gaps in the horizon
    chain = ibis.ifelse(rate < 1.0, rate * (f64(1.0) - rate.pow(steps)) / (f64(1.0) - rate), steps)
    orders = p_alive * chain
    margin = orders * j.aov * j.rate
    if run.vip is None:
        reach = ibis.null(F64)
    else:
        reach = ibis.ifelse(margin >= f64(run.vip), p_alive, f64(0.0))
    prefix = f"Heuristic ({reason}): " + history_text(j)
    segment = (
        "; in the segment "
        + whole(rate * f64(100.0))
        + "% buy again, usually after "
        + whole(gap)
        + " days"
    )
    outlook = outlook_text(p_alive, orders, margin, run.horizon_months, run.currency)
    no_rhythm = prefix + "; no repeat purchase in the store yet to measure a rhythm"
    return j.select(
        "person_id",
        method=ibis.literal(HEURISTIC),
        clv=margin * f64(run.mean_discount),
        p_alive=p_alive,
        expected_orders=orders,
        # no rhythm measured: unknown, not 0 (greatest() skips nulls on both engines)
        expected_next_purchase_days=ibis.ifelse(
            gap.isnull(), ibis.null(F64), ibis.greatest(gap - since, f64(0.0))
        ),
        future_vip_probability=reach,
        explanation=ibis.coalesce(prefix + segment + outlook, no_rhythm),
    )


def _finish(run: _Run, facts: ir.Table, buyer_rows: ir.Table) -> ir.Table:
    """Buyers and prospects with the final column names and order."""
    h = run.horizon_months
    prospects = facts.filter(~facts.is_buyer).select(
        "person_id",
        method=ibis.null("string"),
        clv=ibis.null(F64),
        p_alive=ibis.null(F64),
        expected_orders=ibis.null(F64),
        expected_next_purchase_days=ibis.null(F64),
        future_vip_probability=ibis.null(F64),
        explanation=ibis.literal("Prospect: no purchase yet, so no prediction."),
    )
    rows = ibis.union(buyer_rows, prospects.select(*buyer_rows.columns))
    return rows.select(
        "person_id",
        model=ibis.ifelse(rows.method.isnull(), ibis.null("string"), ibis.literal(run.model)),
        method=rows.method,
        predicted_as_of=ibis.literal(run.end),
        **{
            f"clv_{h}m": rows.clv,
            "p_alive": rows.p_alive,
            f"expected_orders_{h}m": rows.expected_orders,
            "expected_next_purchase_days": rows.expected_next_purchase_days,
            "future_vip_probability": rows.future_vip_probability,
            "explanation": rows.explanation,
        },
    )


def _totals(table: ir.Table, h: int) -> dict[str, float | None]:
    clv, orders = table[f"clv_{h}m"], table[f"expected_orders_{h}m"]
    row = (
        table.aggregate(
            rows=table.count(),
            clv=clv.sum(),
            mean_clv=clv.mean(),
            expected_orders=orders.sum(),
            mean_p_alive=table.p_alive.mean(),
            future_vips=table.future_vip_probability.sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return {k: (None if v is None else float(v)) for k, v in row.items()}


def _check(horizon_months: int, discount_rate: float) -> float:
    check_scalar("predict", "horizon_months", horizon_months, int, 1, 1201)
    check_scalar("predict", "discount_rate", discount_rate, float, 0.0)
    return monthly_rate(discount_rate)


def monthly_rate(discount_rate: float) -> float:
    """The monthly discount rate of a yearly one: ``(1 + rate)^(1/12) - 1``."""
    return float((1.0 + discount_rate) ** (1.0 / 12.0) - 1.0)


def predict(
    store: Store,
    *,
    as_of: date | None = None,
    model: str | None = None,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    floor: DataFloor | None = None,
    clv_model: str | None = None,
    progress: ProgressCallback | None = None,
) -> PredictResult:
    """Write ``customer_predictions`` as of ``as_of``.

    as_of: the facts' day (default: the day of the stored ``customer_facts``, else
    :func:`store_end`);
    model: BetaGeo, ModifiedBetaGeo, ParetoNBD or heuristic (default: the backtest's choice,
    else BetaGeo); horizon_months: CLV and expected orders cover this many months;
    discount_rate: yearly, applied monthly as ``(1 + rate)^(1/12) - 1``; floor: the least
    data a model is fitted on (:class:`DataFloor`); clv_model: GammaGamma (default: the
    purchase model's expected purchases x Gamma-Gamma spend x margin rate) or
    GradientBoosting (:func:`boosted_margins`, discounted by the mean monthly factor);
    progress: told the named steps (customer facts, fit, score and write), k of 3.
    """
    started = time.perf_counter()
    monthly = _check(horizon_months, discount_rate)
    clv = _clv_model_name(clv_model)
    steps = Steps(progress, PREDICT_TASK, PREDICT_STEPS)
    steps("customer facts")
    facts, end, stored = _facts_source(store, as_of)
    try:
        if not stored:  # an expression: computed once, not once per query below
            facts = store.replace(SCRATCH_FACTS, facts, scratch=True)
        result, table = _write(store, facts, end, model, horizon_months, monthly, floor, clv, steps)
        result.discount_rate = discount_rate
        steps.done()
    finally:
        drop_upload(store, SCRATCH_SCORES)
        drop_upload(store, SCRATCH_MARGINS)
        store.drop(SCRATCH_FACTS)
    result.totals = _totals(table, horizon_months)
    result.rows = int(result.totals.pop("rows") or 0)
    result.currency = reporting_currency(store)
    result.warnings = money_warnings(store, as_of=end)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _write(
    store: Store,
    facts: ir.Table,
    end: date,
    model: str | None,
    horizon_months: int,
    monthly: float,
    floor: DataFloor | None,
    clv_model: str = GAMMA_GAMMA,
    steps: Steps | None = None,
) -> tuple[PredictResult, ir.Table]:
    """Fit (or fall back), score and write ``customer_predictions``."""
    buyers = _buyers(facts, store.settings.default_margin)
    name = model_name(store, model)
    patterns = pattern_counts(buyers)
    stats = data_stats(patterns)
    floor = floor or DataFloor()
    reason = stats.shortfall(floor)
    why = f"too little data for a model: {reason}"
    if name == HEURISTIC:
        asked = model == HEURISTIC
        reason = "heuristic asked for" if asked else "the backtest chose the heuristic"
        why = "asked for" if asked else "chosen by the backtest"
    span = round(horizon_months * MONTH_DAYS)
    vip = vip_threshold(store, buyers, end, span, stats.buyers) if stats.buyers else None
    steps = steps or Steps(None, PREDICT_TASK, PREDICT_STEPS)
    run = _Run(store, end, name, horizon_months, monthly, vip, clv_model, floor, steps)
    result = PredictResult(end, name, HEURISTIC, horizon_months, 0.0, reason, stats)
    result.vip_threshold = vip
    rows = _predicted_rows(run, buyers, patterns, result, why)
    return result, store.replace(PREDICTIONS, _finish(run, facts, rows))


def _predicted_rows(
    run: _Run, buyers: ir.Table, patterns: pd.DataFrame, result: PredictResult, why: str
) -> ir.Table:
    """The model's rows, or the heuristic's (saying ``why``) when the data are thin or the
    fit fails. A gradient-boosted CLV that cannot be trained leaves Gamma-Gamma's CLV, and
    the reason, in ``result``."""
    if result.reason is None:
        failed = run.model
        try:
            run.steps(f"fit {run.model} and {GAMMA_GAMMA}")
            model = _fit_purchases(run.model, patterns)
            failed = GAMMA_GAMMA
            gg = _fit_spend(buyers)
        except ModelError as exc:
            result.reason = f"{failed} could not be fitted: {exc}"
            why = f"{failed} could not be fitted"
        else:
            result.method, result.patterns = run.model, len(patterns)
            result.parameters = {
                **reported_params(model),
                **{f"gg_{k}": v for k, v in reported_params(gg).items()},
            }
            notes = [
                f"{run.model}: {fit_note(model)}, so P(alive) is 1 for every buyer"
                if model.boundary_
                else "",
                f"{GAMMA_GAMMA}: {fit_note(gg)}, so every buyer's expected spend per purchase "
                "is the same"
                if gg.boundary_
                else "",
            ]
            result.reason = "; ".join(filter(None, notes)) or None
            margins = None
            fit = Fit(run.end, run.model, model, gg, run.vip, run.horizon_months, run.monthly_rate)
            result.fit = fit if run.clv_model != BOOSTED else None
            if run.clv_model == BOOSTED:
                try:
                    margins, trained = boosted_margins(run)
                except ModelError as exc:
                    why_not = f"{BOOSTED} CLV not used, {GAMMA_GAMMA} instead: {exc}"
                    result.reason = "; ".join(filter(None, [result.reason, why_not]))
                else:
                    result.method, result.clv_model = f"{run.model}+{BOOSTED}", BOOSTED
                    result.parameters["gbm_training_buyers"] = float(trained)
            run.steps("score and write")
            return _model_rows(run, buyers, model, gg, margins)
    run.steps("score and write (heuristic)")
    result.clv_model = HEURISTIC
    if run.clv_model == BOOSTED:
        result.reason = f"{result.reason}; no {BOOSTED} CLV with the heuristic"
    return _heuristic_rows(run, buyers, why)


def score_with_fit(store: Store, facts: ir.Table, end: date, fit: Fit) -> ir.Table:
    """The ``customer_predictions`` rows of ``facts`` (as of ``end``) scored with ``fit``,
    without fitting: what :func:`predict` writes with the same fitted models."""
    buyers = _buyers(facts, store.settings.default_margin)
    run = _Run(store, end, fit.model, fit.horizon_months, fit.monthly_rate, fit.vip)
    return _finish(run, facts, _model_rows(run, buyers, fit.purchase, fit.spend))

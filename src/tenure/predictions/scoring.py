"""Scoring at scale: compress in the engine, score the patterns locally, join back.

A buy-till-you-die model sees a customer only through ``(frequency, recency_days, T_days)``;
with time in whole days these patterns repeat, so a store of millions of buyers has tens of
thousands of them. Scoring never collects customers:

1. the engine groups the buyers by pattern and counts them (:func:`pattern_counts`);
2. the patterns (a small frame) are fitted and scored here with numpy (:func:`score_patterns`);
3. the scored patterns go back to the engine as a small table (:func:`upload`) and are joined
   to the buyers there, where each buyer's own money (expected spend, margin rate) is applied.

The same holds for Gamma-Gamma, fitted on the distinct ``(frequency, monetary)`` pairs of the
repeat buyers with their counts (:func:`spend_pairs`): its conditional expected spend is a
closed formula, evaluated in the engine (:func:`expected_spend`).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import special

from tenure.analytics.base import F64
from tenure.models.base import one_blas_thread
from tenure.models.beta_geo import BetaGeo, ModifiedBetaGeo
from tenure.models.gamma_gamma import GammaGamma, expected_and_discounted
from tenure.models.inputs import FloatArray, check_transactions
from tenure.models.nbd import NBD, nbinom_sf
from tenure.store import Store

#: The pattern a purchase model sees, in whole days.
KEYS = ("frequency", "recency_days", "T_days")
#: Days in a month (365.25 / 12): the period of CLV discounting.
MONTH_DAYS = 30.4375
#: Above this many distinct (frequency, monetary) pairs, monetary is rounded to cents first.
MAX_SPEND_PAIRS = 1_000_000
#: Gauss-Legendre nodes of the Pareto/NBD count tail (exact to ~1e-10 for the horizons used).
_NODES = 96
#: Rows of the Pareto/NBD tail evaluated at once (~15 MB of nodes).
_CHUNK = 20_000


def f64(value: float) -> ir.FloatingScalar:
    """A float64 literal (never a decimal one: Spark reads ``0.3`` as DECIMAL)."""
    return ibis.literal(float(value), type=F64)


def pattern_counts(buyers: ir.Table, keys: tuple[str, ...] = KEYS) -> pd.DataFrame:
    """The distinct values of ``keys`` among ``buyers`` and how many buyers share each."""
    counts = buyers.group_by(list(keys)).agg(n=buyers.count()).to_pyarrow().to_pandas()
    return counts.sort_values(list(keys), ignore_index=True)


def spend_pairs(buyers: ir.Table, max_pairs: int = MAX_SPEND_PAIRS) -> pd.DataFrame:
    """frequency, monetary, n: the distinct (repeat purchases, mean repeat value) pairs of the
    buyers Gamma-Gamma is fitted on (frequency > 0 and monetary > 0). Past ``max_pairs``
    pairs monetary is rounded to cents, which changes the fit by far less than its standard
    errors and bounds what is pulled."""
    repeat = buyers.filter((buyers.frequency > 0) & (buyers.monetary > 0))
    pairs = repeat.select("frequency", monetary=repeat.monetary.cast(F64))
    counted = pattern_counts(pairs, ("frequency", "monetary"))
    if len(counted) > max_pairs:
        rounded = pairs.mutate(monetary=pairs.monetary.round(2))
        counted = pattern_counts(rounded, ("frequency", "monetary"))
    return counted


def expected_spend(gg: GammaGamma, frequency: ir.Value, monetary: ir.Value) -> ir.FloatingValue:
    """Gamma-Gamma's E[spend per purchase | x, m] as an engine expression (Fader, Hardie &
    Lee 2005, "RFM and CLV", eq. 5): ``p (gamma + m x) / (p x + q - 1)``, ``m`` taken as 0
    when missing or negative (the population mean when ``x = 0``). A boundary fit (no
    heterogeneity in spend) gives ``p / nu`` for every customer."""
    if (nested := gg.nested_) is not None:
        return f64(float(nested.params_["p"] / nested.params_["nu"])) + frequency.cast(F64) * 0.0
    p, q, gamma = (float(gg.params_[name]) for name in ("p", "q", "gamma"))
    x = frequency.cast(F64)
    m = ibis.greatest(ibis.coalesce(monetary.cast(F64), f64(0.0)), f64(0.0))
    return (m * x + f64(gamma)) * f64(p) / (x * f64(p) + f64(q - 1.0))


def upload(store: Store, name: str, frame: pd.DataFrame | pa.Table) -> ir.Table:
    """``frame`` as a temporary table ``name`` of the store's engine (:meth:`Store.upload`)."""
    return store.upload(name, frame)


def drop_upload(store: Store, name: str) -> None:
    """Drop a table made by :func:`upload` (nothing happens when it is gone)."""
    store.drop_upload(name)


# -- the distribution of future purchases -----------------------------------------------------


def _params(model: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in model.params_.items()}


def p_at_least(
    model: Any,
    need: FloatArray,
    span: float,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    alive: FloatArray | None = None,
) -> FloatArray:
    """P(at least ``need`` purchases in (T, T + span] | x, t_x, T), per row.

    BG/NBD and MBG/NBD (exact): an alive customer's rate is ``Gamma(r+x, alpha+T)`` and their
    drop-out probability ``Beta(a, b+k)`` (``k = x``, or ``x + 1`` for MBG/NBD); they make at
    least ``n`` more purchases when at least ``n`` Poisson arrivals fall in the span
    (a negative binomial tail) and they stay after each of the first ``n - 1``
    (``B(a, b+k+n-1) / B(a, b+k)``), so ``P = P(alive) NB-tail(n) B(a, b+k+n-1)/B(a, b+k)``.
    Pareto/NBD: with rate ``Gamma(r+x, alpha+T)`` and drop-out rate ``Gamma(s, beta+T)``,
    ``P(N >= n | alive) = int_0^span u^(n-1)/Gamma(n) Gamma(r+x+n)/Gamma(r+x)
    (alpha+T)^(r+x) (alpha+T+u)^-(r+x+n) ((beta+T)/(beta+T+u))^s du`` (the n-th arrival comes
    before the span ends and before the customer leaves), by Gauss-Legendre quadrature.
    A boundary fit (no drop-out, the NBD): the negative binomial tail of the posterior rate.
    ``need <= 0`` gives 1. Other models: NaN. ``alive``: the model's P(alive) of the rows,
    when the caller has it already.
    """
    need = np.asarray(need, dtype=np.float64)
    if alive is None:
        alive = np.asarray(model.p_alive(x, t_x, age), dtype=np.float64)
    values = _tail_given_alive(model, np.maximum(need, 1.0), span, x, age)
    return np.where(need <= 0, 1.0, alive * values)


def _tail_given_alive(
    model: Any, n: FloatArray, span: float, x: FloatArray, age: FloatArray
) -> FloatArray:
    nested = getattr(model, "nested_", None)
    if nested is not None:  # a boundary fit: no drop-out, the nested model's tail
        model = nested
    if isinstance(model, NBD):
        return model.p_at_least(n, span, x, age)
    params = _params(model)
    if isinstance(model, BetaGeo | ModifiedBetaGeo):
        r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
        k = x + (1.0 if isinstance(model, ModifiedBetaGeo) else 0.0)
        arrivals = nbinom_sf(n - 1.0, r + x, (alpha + age) / (alpha + age + span))
        stay = np.exp(special.betaln(a, b + k + n - 1.0) - special.betaln(a, b + k))
        return np.asarray(arrivals * stay, dtype=np.float64)
    if set(params) == {"r", "alpha", "s", "beta"}:
        return _pareto_tail(params, n, span, x, age)
    return np.full(len(n), np.nan)


def _pareto_tail(
    params: dict[str, float], n: FloatArray, span: float, x: FloatArray, age: FloatArray
) -> FloatArray:
    """The Pareto/NBD tail, in chunks of rows (each row costs ``_NODES`` evaluations)."""
    out = np.empty(len(n))
    for start in range(0, len(n), _CHUNK):
        rows = slice(start, start + _CHUNK)
        out[rows] = _pareto_chunk(params, n[rows], span, x[rows], age[rows])
    return out


def _pareto_chunk(
    params: dict[str, float], n: FloatArray, span: float, x: FloatArray, age: FloatArray
) -> FloatArray:
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    u = (nodes + 1.0) * span / 2.0  # nodes on (0, span)
    shape = (params["r"] + x)[:, None]
    scale = (params["alpha"] + age)[:, None]
    leave = (params["beta"] + age)[:, None]
    count = n[:, None]
    log_f = (count - 1.0) * np.log(u) - special.gammaln(count)
    log_f += special.gammaln(shape + count) - special.gammaln(shape)
    log_f += shape * np.log(scale) - (shape + count) * np.log(scale + u)
    log_f += params["s"] * (np.log(leave) - np.log(leave + u))
    total = np.exp(log_f) @ weights * span / 2.0
    return np.asarray(np.clip(total, 0.0, 1.0), dtype=np.float64)


def median_wait(model: Any, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """Median days from T to the next purchase of a customer still alive: the model's
    ``expected_time_to_next_purchase`` when it has one, else the median wait of a Poisson
    rate ``Gamma(r+x, alpha+T)``, ``(alpha+T)(2^(1/(r+x)) - 1)``; NaN without those."""
    if hasattr(model, "expected_time_to_next_purchase"):
        return np.asarray(model.expected_time_to_next_purchase(x, t_x, age), dtype=np.float64)
    params = _params(model)
    if "r" in params and "alpha" in params:
        return (params["alpha"] + age) * np.expm1(np.log(2.0) / (params["r"] + x))
    return np.full(len(x), np.nan)


def score_patterns(
    model: Any, patterns: pd.DataFrame, *, horizon_months: int, monthly_rate: float
) -> pd.DataFrame:
    """Per row of ``patterns`` (frequency, recency_days, T_days and ``need``, the purchases a
    buyer needs to reach the VIP threshold): p_alive, expected_orders (purchase days in the
    horizon), discounted_orders (the same, each month's discounted by ``(1 + rate)^k``),
    next_purchase_days (median wait if alive) and p_reach (P(at least ``need`` purchases))."""
    x, t_x, age = (patterns[k].to_numpy(dtype=np.float64) for k in KEYS)
    span = horizon_months * MONTH_DAYS
    out = patterns[[*KEYS, "need"]].copy()
    # BLAS on one thread: the Pareto/NBD tail's matrix products are small, and BLAS threads
    # spinning on busy cores cost more than they bring (base.one_blas_thread).
    with one_blas_thread():
        alive = np.asarray(model.p_alive(x, t_x, age), dtype=np.float64)
        out["p_alive"] = alive
        # E[Y(span)] is the last month's expectation: span = horizon_months * MONTH_DAYS
        history = check_transactions("predict", x, t_x, age)
        out["expected_orders"], out["discounted_orders"] = expected_and_discounted(
            model, history, horizon_months, monthly_rate, MONTH_DAYS
        )
        out["next_purchase_days"] = median_wait(model, x, t_x, age)
        need = patterns["need"].to_numpy(dtype=np.float64)
        out["p_reach"] = p_at_least(model, need, span, x, t_x, age, alive)
    return out

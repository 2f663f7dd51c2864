"""Gamma-Gamma spend model and customer lifetime value.

Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4), 415-430, section "Spend". A customer's
transaction values are ``Gamma(p, nu)`` around their own mean ``p / nu``, and ``nu`` varies
across customers as ``Gamma(q, gamma)``. The model is fitted on the average value ``m`` of
each customer's ``x >= 1`` repeat transactions, whose density is

    f(m | x) = Gamma(px+q) / (Gamma(px) Gamma(q)) gamma^q m^(px-1) x^(px) / (gamma + m x)^(px+q).

Spend is assumed independent of the purchase process (check it: the correlation between
frequency and monetary value should be weak).

When every customer's spend comes from the same distribution (no heterogeneity), ``q`` and
``gamma`` run to infinity with ``gamma / q`` fixed: ``nu`` is then the same ``nu = q / gamma``
for every customer, ``m | x ~ Gamma(p x, nu x)``, and the expected spend per transaction is
``p / nu`` for every customer. That limit is the nested :class:`GammaSpend`, fitted instead
as Gamma-Gamma's boundary fit (docs/models.md, "Boundary fits").
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from tenure.models.base import SAME_PREDICTIONS, BaseFitter, Boundary, Data, PurchaseModel
from tenure.models.errors import ModelDataError, ModelError
from tenure.models.inputs import (
    FloatArray,
    Transactions,
    as_float_array,
    check_scalar,
    check_transactions,
    check_weights,
    compress,
    fail_rows,
    like_input,
    row_labels,
    same_lengths,
    wsum,
)

#: (customer pattern, period) cells evaluated per call of the purchase model.
_CELLS_PER_CALL = 1_000_000
#: An interior optimum with q above this is also tried against the boundary: nu's coefficient
#: of variation across customers, 1 / sqrt(q), is then below 1% (no heterogeneity in effect).
FLAT_Q = 1e4


def _check_spend(
    owner: str, frequency: ArrayLike, monetary: ArrayLike, *, fitting: bool
) -> tuple[FloatArray, FloatArray]:
    """Validate (frequency, monetary). Fitting needs x >= 1; predictions accept x = 0,
    whose monetary value is ignored (and may be missing)."""
    labels = row_labels(frequency, monetary)
    x = as_float_array(owner, "frequency", frequency)
    m = as_float_array(owner, "monetary_value", monetary)
    same_lengths(owner, {"frequency": x, "monetary_value": m})
    if len(labels) != len(x):
        labels = np.arange(len(x))
    fail_rows(
        owner,
        ~np.isfinite(x) | (x < 0) | (x != np.floor(x)),
        labels,
        "have a frequency that is not a whole number >= 0",
        hint="frequency counts repeat purchases.",
    )
    if fitting:
        fail_rows(
            owner,
            x == 0,
            labels,
            "have frequency 0",
            hint="Gamma-Gamma is fitted on customers with repeat purchases only "
            "(their monetary value is the mean repeat-purchase value); pass the rows with "
            "frequency > 0.",
        )
    used = x > 0
    fail_rows(
        owner,
        used & ~(np.isfinite(m) & (m > 0)),
        labels,
        "have a monetary value that is missing or <= 0",
        hint="monetary_value is the mean value of the repeat purchases; drop free or fully "
        "refunded customers, or fix their values.",
    )
    return x, np.where(used, m, 1.0)


def _spend_data(
    owner: str, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None
) -> tuple[list[FloatArray], FloatArray]:
    """The compressed (frequency, monetary) of the customers to fit spend on, and weights."""
    x, m = _check_spend(owner, frequency, monetary_value, fitting=True)
    if len(x) == 0:
        raise ModelDataError(
            f"{owner}: no customer to fit spend on: Gamma-Gamma needs customers with a "
            "repeat purchase of positive value (frequency > 0, monetary value > 0).",
            hint="With every amount 0 (free orders, or order totals not imported) there is "
            "no spend to model: import the order amounts.",
        )
    w = check_weights(owner, weights, len(x))
    columns, w, _ = compress([x, m], w)
    return columns, w


class GammaSpend(BaseFitter):
    """Spend without heterogeneity: Gamma-Gamma's boundary (``q, gamma -> inf``).

    Every customer's transaction values are ``Gamma(p, nu)`` (shape ``p``, rate ``nu``), so
    the mean ``m`` of ``x`` of them is ``Gamma(p x, nu x)``:

        log f(m | x) = p x log(nu x) + (p x - 1) log m - nu x m - log Gamma(p x),

    the limit of Gamma-Gamma's density as ``q, gamma -> inf`` with ``q / gamma = nu``. The
    expected spend per transaction is ``p / nu`` for every customer. Same constructor and
    learned attributes as GammaGamma, with ``params_`` (p, nu). Fitted on its own, or by
    GammaGamma as its boundary fit (its ``nested_``).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "nu")
    _rescale_hint: ClassVar[str] = "rescale monetary values (e.g. to hundreds of the currency unit)"

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on customers with ``frequency >= 1`` and their mean repeat-purchase value."""
        self._validate_params()
        columns, w = _spend_data(f"{type(self).__name__}.fit", frequency, monetary_value, weights)
        self._fit(tuple(columns), w)
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        # moments: E[m] = p / nu and x Var(m | x) = p / nu^2
        x, m = data
        total = float(np.sum(weights))
        mean = wsum(weights, m) / total
        spread = max(wsum(weights, x * (m - mean) ** 2) / total, 1e-12 * mean**2)
        return np.log(np.array([max(mean**2 / spread, 1e-6), max(mean / spread, 1e-12)]))

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        p, nu = np.exp(log_params)
        x, m = data
        px = p * x
        log_nux = np.log(nu * x)
        ll = px * log_nux + (px - 1.0) * np.log(m) - nu * x * m - special.gammaln(px)
        d_p = x * (log_nux + np.log(m) - special.digamma(px))
        d_nu = px / nu - x * m
        grad = np.array([wsum(weights, d_p), wsum(weights, d_nu)])
        return -wsum(weights, ll), -grad * np.exp(log_params)

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> Any:
        """E[spend per transaction | x, m] = ``p / nu`` for every customer (a customer's own
        mean tells nothing more when every customer spends alike)."""
        p, nu = self._param_values()
        owner = f"{type(self).__name__}.conditional_expected_average_profit"
        x, _ = _check_spend(owner, frequency, monetary_value, fitting=False)
        return like_input(np.full(len(x), p / nu), frequency, monetary_value)


class GammaGamma(BaseFitter):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV").

    Learned: ``params_`` (p, q, gamma), ``standard_errors_``, ``log_likelihood_``,
    ``n_customers_``, ``aic_``, ``bic_``, ``boundary_`` (True for the boundary fit without
    heterogeneity in spend: ``q = gamma = inf``) and ``nested_`` (that fitted
    :class:`GammaSpend`, else None). Same constructor and penalizer as BetaGeo.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    _rescale_hint: ClassVar[str] = GammaSpend._rescale_hint
    _dropout: ClassVar[tuple[str, str] | None] = ("q", "gamma")
    _nested_name: ClassVar[str] = "Gamma(p, nu) spend"
    _without: ClassVar[str] = "heterogeneity in spend"
    _boundary_at: ClassVar[tuple[float, float]] = (np.inf, np.inf)
    _boundary_notes: ClassVar[tuple[str, str]] = (
        "no heterogeneity in spend (boundary fit)",
        "infinite with q (gamma / q = 1 / nu)",
    )

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit on customers with ``frequency >= 1`` and their mean repeat-purchase value.
        When the data show no heterogeneity in spend the fit is :class:`GammaSpend`, its
        boundary (``boundary_``, ``nested_``; docs/models.md, "Boundary fits")."""
        self._validate_params()
        columns, w = _spend_data(f"{type(self).__name__}.fit", frequency, monetary_value, weights)
        x, m = columns
        boundary = Boundary(lambda: GammaSpend(**self.get_params()).fit(x, m, weights=w), (x, m), w)
        self._fit((x, m), w, boundary)
        return self

    def _weak_dropout(self, log_params: FloatArray, hessian: FloatArray) -> bool:
        """Whether to try the boundary from an interior optimum: q, gamma unidentified in
        effect, or q above :data:`FLAT_Q` (found at q = 2e7 on a shop without heterogeneity)."""
        q = float(np.exp(log_params[self._param_names.index("q")]))
        return q > FLAT_Q or super()._weak_dropout(log_params, hessian)

    def _predictions_differ(
        self, log_params: FloatArray, nested: BaseFitter, boundary: Boundary
    ) -> str:
        """Why Gamma-Gamma at ``log_params`` does not predict the nested model's spend ("" when
        it does): some customer's expected spend per transaction differs from ``p / nu`` by
        more than SAME_PREDICTIONS."""
        p, q, gamma = np.exp(log_params)
        x, m = boundary.patterns
        full = p * (gamma + m * x) / (p * x + q - 1.0) if q > 1.0 else np.full(len(x), np.inf)
        bare = float(nested.params_["p"] / nested.params_["nu"])
        gap = float(np.max(np.abs(full - bare))) / bare
        if gap <= SAME_PREDICTIONS:
            return ""
        return (
            "The predictions are not determined either: where the search ended the expected "
            f"spend per transaction ranges from {np.min(full):,.4g} to {np.max(full):,.4g} "
            f"across these customers, and is {bare:,.4g} for every one without heterogeneity "
            f"({self._nested_name}); the data cannot tell which."
        )

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        _, m = data
        mean = wsum(weights, m) / float(np.sum(weights))
        # p = 1, q = 2: population mean spend p * gamma / (q - 1) = gamma.
        return np.log(np.array([1.0, 2.0, max(mean, 1e-6)]))

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        p, q, gamma = np.exp(log_params)
        x, m = data
        px = p * x
        log_gm = np.log(gamma + m * x)
        ll = special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
        ll += q * np.log(gamma) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_gm
        psi = special.digamma(px + q)
        d_p = x * (psi - special.digamma(px) + np.log(m) + np.log(x) - log_gm)
        d_q = psi - special.digamma(q) + np.log(gamma) - log_gm
        d_gamma = q / gamma - (px + q) / (gamma + m * x)
        grad = np.array([wsum(weights, d) for d in (d_p, d_q, d_gamma)])
        return -wsum(weights, ll), -grad * np.exp(log_params)

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> Any:
        """E[spend per transaction | x, m] (FHL 2005, "RFM and CLV", eq. 5).

        ``(gamma + m x) p / (p x + q - 1)``: a weighted average of the population mean
        ``p gamma / (q - 1)`` and the customer's own mean ``m``. With ``x = 0`` it is the
        population mean (``m`` is ignored). Needs ``q > 1`` (else the mean is infinite).
        A boundary fit gives ``p / nu`` for every customer (the limit as ``q, gamma -> inf``).
        """
        if (nested := self._nested_model()) is not None:
            return nested.conditional_expected_average_profit(frequency, monetary_value)
        p, q, gamma = self._param_values()
        if q <= 1.0:
            raise ModelError(
                f"GammaGamma: q = {q:.4g} <= 1, so the expected spend is infinite.",
                hint="Spend has a very heavy tail; cap extreme monetary values before fitting.",
            )
        owner = f"{type(self).__name__}.conditional_expected_average_profit"
        x, m = _check_spend(owner, frequency, monetary_value, fitting=False)
        value = p * (gamma + m * x) / (p * x + q - 1.0)
        return like_input(value, frequency, monetary_value)

    def clv(
        self,
        purchase_model: PurchaseModel,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        *,
        horizon: int,
        discount_rate: float,
        time_unit: float,
        margin: ArrayLike = 1.0,
    ) -> Any:
        """Discounted expected margin over ``horizon`` periods, per customer.

        ``CLV = sum_{k=1..horizon} [E[Y(k u)] - E[Y((k-1) u)]] * spend * margin / (1+d)^k``
        with ``E[Y(s)]`` the purchase model's conditional expected purchases in (T, T + s],
        ``spend`` :meth:`conditional_expected_average_profit`, ``u = time_unit`` and
        ``d = discount_rate``. Purchases in period k are discounted by a full period.

        horizon: number of periods (a whole number >= 1); discount_rate: per period, >= 0;
        time_unit: the length of one period in the purchase model's time unit (4.348 for
        months with a model fitted in weeks, 30.4375 for months in days); margin: share
        of spend kept as margin, in [0, 1], one value or one per customer.
        CLV is never negative and never decreases as the horizon grows.
        """
        name = type(self).__name__
        check_scalar(name, "horizon", horizon, int, 1)
        check_scalar(name, "discount_rate", discount_rate, float, 0.0)
        check_scalar(name, "time_unit", time_unit, float, 0.0, low_open=True)
        owner = f"{name}.clv"
        shares = as_float_array(owner, "margin", margin)
        fail_rows(
            owner,
            ~np.isfinite(shares) | (shares < 0) | (shares > 1),
            row_labels(margin),
            "have a margin outside [0, 1]",
            hint="margin is the share of spend kept, e.g. 0.3 for 30%.",
        )
        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        per_period = discounted_purchases(
            purchase_model, owner, frequency, recency, T, horizon, discount_rate, time_unit
        )
        value = per_period * np.asarray(spend, dtype=np.float64) * shares
        return like_input(value, frequency)


def discounted_purchases(
    model: PurchaseModel,
    owner: str,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    horizon: int,
    discount_rate: float,
    time_unit: float,
) -> FloatArray:
    """``sum_k [E[Y(k u)] - E[Y((k-1) u)]] / (1+d)^k`` per customer.

    The model is evaluated on the unique (x, t_x, T) patterns only, for many periods per
    call (its ``expected_purchases_by_span`` when it has one). Increments below 0 (rounding
    at ~1e-16) are set to 0, so the sum never decreases.
    """
    data = check_transactions(owner, frequency, recency, T)
    return expected_and_discounted(model, data, horizon, discount_rate, time_unit)[1]


def expected_and_discounted(
    model: PurchaseModel, data: Transactions, horizon: int, discount_rate: float, time_unit: float
) -> tuple[FloatArray, FloatArray]:
    """``E[Y(horizon u)]`` (the model's ``conditional_expected_purchases`` over the whole
    horizon, the same numbers) and :func:`discounted_purchases`, per customer of ``data``
    (:func:`~tenure.models.inputs.check_transactions`), from one evaluation of the model."""
    n = len(data.frequency)
    columns, _, inverse = compress([data.frequency, data.recency, data.T], np.ones(n))
    m = len(columns[0])
    total = np.zeros(m)
    previous = np.zeros(m)
    current = np.zeros(m)
    per_call = max(1, _CELLS_PER_CALL // max(m, 1))
    for first in range(1, horizon + 1, per_call):
        periods = np.arange(first, min(horizon, first + per_call - 1) + 1)
        expected = _by_period(model, periods * float(time_unit), columns)
        for k, current in zip(periods, expected, strict=True):
            total += np.maximum(current - previous, 0.0) / (1.0 + discount_rate) ** k
            previous = np.maximum(current, previous)
    return current[inverse], total[inverse]


def _by_period(model: PurchaseModel, spans: Any, columns: list[FloatArray]) -> FloatArray:
    """The model's conditional expected purchases of each (x, t_x, T) of ``columns`` for each
    horizon of ``spans``, one row per span."""
    by_span = getattr(model, "expected_purchases_by_span", None)
    if by_span is not None:
        return np.asarray(by_span(spans, *columns), dtype=np.float64)
    m = len(columns[0])
    grid = [np.tile(col, len(spans)) for col in columns]
    expected = model.conditional_expected_purchases(np.repeat(spans, m), *grid)
    return np.reshape(np.asarray(expected, dtype=np.float64), (len(spans), m))

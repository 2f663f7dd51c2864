"""The NBD: repeat purchases of customers who never leave (the boundary of BG/NBD, MBG/NBD
and Pareto/NBD without drop-out).

Each customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)`` for ever (Ehrenberg 1959,
"The pattern of consumer purchases", Applied Statistics 8(1), 26-41; Morrison & Schmittlein
1988, "Generalizing the NBD model for customer purchases", Journal of Business & Economic
Statistics 6(2), 145-159). The likelihood of ``x`` repeat purchases at given times in
``(0, T]`` is

    L = Gamma(r+x)/Gamma(r) alpha^r / (alpha + T)^(r+x),

the density of the purchase times, as BG/NBD and Pareto/NBD write theirs (no ``x!`` or
``T^x``): it is their "alive at T" term with no drop-out, so at the boundary (BG/NBD and
MBG/NBD with ``a -> 0``, Pareto/NBD with ``s -> 0``) their log-likelihood equals this one and
the two can be compared. Recency does not enter. A customer's posterior rate is
``Gamma(r+x, alpha+T)``, which gives every prediction; P(alive) is 1.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from tenure.models.base import BaseFitter, Boundary, Data
from tenure.models.inputs import (
    FloatArray,
    as_float_array,
    check_time,
    check_transactions,
    compress,
    compressed_transactions,
    fail_rows,
    like_input,
    require_repeats,
    row_labels,
    wsum,
)


def nbinom_sf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> FloatArray:
    """``P(N > k)`` for ``N ~ NB(n, p)`` (failures before the ``n``-th success): the numbers
    of ``scipy.stats.nbinom.sf`` (1 below the support, NaN for ``n <= 0`` or ``p`` outside
    ``(0, 1]``), from the routine it calls, without importing ``scipy.stats`` (~0.4 s, paid
    by every daily re-scoring otherwise)."""
    try:  # scipy.stats.nbinom's own routine (Boost's complemented negative binomial cdf)
        from scipy.special._ufuncs import _nbinom_sf as tail
    except ImportError:  # a scipy without it: the public route
        from scipy import stats

        return np.asarray(stats.nbinom.sf(k, n, p), dtype=np.float64)
    k, n, p = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (k, n, p)))
    valid = (n > 0) & (p > 0) & (p <= 1)
    inside = valid & (k >= 0) & np.isfinite(k)
    out = np.where(valid & (k < 0), 1.0, 0.0)
    out[~valid | np.isnan(k)] = np.nan
    out[inside] = np.clip(tail(np.floor(k[inside]), n[inside], p[inside]), 0.0, 1.0)
    return out


class NBD(BaseFitter):
    """The NBD: Poisson purchases at gamma-distributed rates, no drop-out.

    Same constructor and learned attributes as BetaGeo, with ``params_`` (r, alpha). Fitted on
    its own, or by BetaGeo, ModifiedBetaGeo and ParetoNBD as their boundary fit (their
    ``nested_``) when no drop-out is visible in the data.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha")

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the unique (frequency, T) pairs; ``recency`` is
        checked (as BetaGeo checks it) but does not enter the likelihood."""
        self._validate_params()
        owner = f"{type(self).__name__}.fit"
        (x, _, age), w = compressed_transactions(owner, frequency, recency, T, weights)
        require_repeats(owner, x, w, "repeat purchase, so no purchase rate can be estimated")
        return self._fit_checked(x, age, w)

    def _fit_checked(self, x: FloatArray, age: FloatArray, weights: FloatArray) -> Self:
        """Fit on (frequency, T) already checked (by ``fit``, or by the model whose boundary
        this is, which validated and compressed the same data)."""
        self._validate_params()
        (ux, uage), uw, _ = compress([x, age], weights)
        self._fit((ux, uage), uw)
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        x, age = data
        rate = max(wsum(weights, x) / max(wsum(weights, age), 1e-9), 1e-6)
        return np.log(np.array([1.0, 1.0 / rate]))

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        r, alpha = np.exp(log_params)
        x, age = data
        n = float(np.sum(weights))
        log_t = np.log(alpha + age)
        ll = wsum(weights, special.gammaln(r + x) - (r + x) * log_t)
        ll += n * (r * np.log(alpha) - special.gammaln(r))
        d_r = wsum(weights, special.digamma(r + x) - log_t) + n * (
            np.log(alpha) - special.digamma(r)
        )
        d_alpha = n * r / alpha - wsum(weights, (r + x) / (alpha + age))
        return -ll, -np.array([d_r, d_alpha]) * np.exp(log_params)

    # -- predictions -----------------------------------------------------------------------

    def _history(
        self, owner: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        self._check_is_fitted()
        data = check_transactions(f"{type(self).__name__}.{owner}", frequency, recency, T)
        return data.frequency, data.T

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Any:
        """1 for every customer: nobody leaves."""
        x, _ = self._history("p_alive", frequency, recency, T)
        return like_input(np.ones(len(x)), frequency)

    def expected_purchases(self, t: ArrayLike) -> Any:
        """E[X(t)] = r t / alpha: expected repeat purchases in (0, t] of a new customer."""
        r, alpha = self._param_values()
        span = check_time(f"{type(self).__name__}.expected_purchases", "t", t)
        return like_input(r / alpha * span, t)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Any:
        """E[Y(t) | x, T] = (r + x) t / (alpha + T): the posterior mean rate times ``t``
        (a scalar or one horizon per customer)."""
        r, alpha = self._param_values()
        x, age = self._history("conditional_expected_purchases", frequency, recency, T)
        span = check_time(f"{type(self).__name__}.conditional_expected_purchases", "t", t)
        value = (r + x) / (alpha + age) * span
        return like_input(np.asarray(value, dtype=np.float64), frequency, t)

    def expected_purchases_by_span(
        self, spans: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """:meth:`conditional_expected_purchases` for each horizon of ``spans``: one row per
        span, one column per customer (the same numbers, the history checked once)."""
        r, alpha = self._param_values()
        x, age = self._history("expected_purchases_by_span", frequency, recency, T)
        span = check_time(f"{type(self).__name__}.expected_purchases_by_span", "t", spans)
        return np.asarray((r + x) / (alpha + age) * span[:, None], dtype=np.float64)

    def p_purchases(self, x: ArrayLike, t: ArrayLike) -> Any:
        """P(X(t) = x): the negative binomial ``NB(x; r, alpha / (alpha + t))``."""
        r, alpha = self._param_values()
        owner = f"{type(self).__name__}.p_purchases"
        count = as_float_array(owner, "x", x)
        fail_rows(
            owner,
            ~np.isfinite(count) | (count < 0) | (count != np.floor(count)),
            row_labels(x),
            "have an x that is not a whole number >= 0",
            hint="x counts repeat purchases.",
        )
        span = check_time(owner, "t", t)
        count, span = np.broadcast_arrays(count, span)
        from scipy import stats  # ~0.4 s to import: only where a pmf is asked for

        value = stats.nbinom.pmf(count, r, alpha / (alpha + span))
        return like_input(np.asarray(value, dtype=np.float64), x, t)

    def p_at_least(self, need: FloatArray, span: float, x: FloatArray, T: FloatArray) -> FloatArray:
        """P(at least ``need`` purchases in (T, T + span] | x, T): the negative binomial tail
        of the posterior rate ``Gamma(r+x, alpha+T)``."""
        r, alpha = self._param_values()
        p = (alpha + T) / (alpha + T + span)
        return nbinom_sf(need - 1.0, r + x, p)

    def expected_time_to_next_purchase(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Any:
        """Median time from T to the next purchase, ``(alpha+T)(2^(1/(r+x)) - 1)``: the
        median of the posterior Lomax wait (as BetaGeo's; here every customer is alive)."""
        r, alpha = self._param_values()
        x, age = self._history("expected_time_to_next_purchase", frequency, recency, T)
        return like_input((alpha + age) * np.expm1(np.log(2.0) / (r + x)), frequency)


def nbd_boundary(model: BaseFitter, columns: list[FloatArray], weights: FloatArray) -> Boundary:
    """The :class:`Boundary` of a model whose no-drop-out limit is the NBD, on the compressed
    ``(frequency, recency, T)`` ``columns``; the NBD gets the model's own settings."""
    x, t_x, age = columns
    nested = NBD(**model.get_params())
    return Boundary(lambda: nested._fit_checked(x, age, weights), (x, t_x, age), weights)

"""Pareto/NBD: repeat purchases of customers who may leave at any moment.

While alive, a customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)``; they leave at
an exponential time with rate ``mu ~ Gamma(s, beta)``, independently (Schmittlein, Morrison &
Colombo 1987, "Counting your customers: who are they and what will they do next?",
Management Science 33(1), 1-24).

Likelihood of ``x`` repeat purchases, the last at age ``t_x``, observed until age ``T``
(Fader & Hardie 2005, "A note on deriving the Pareto/NBD model and related expressions",
eqs. 22-23, written with the integral they come from):

    L = Gamma(r+x)/Gamma(r) alpha^r beta^s [ (alpha+T)^-(r+x) (beta+T)^-s
                                             + s (K(t_x) - K(T)) ],
    K(t) = int_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du.

The first term is "alive at T", the second "left between t_x and T". ``K`` is the note's
hypergeometric term, in its two branches:

    alpha >= beta:  K(t) = (alpha+t)^-(r+x) (beta+t)^-s G(r+x, r+s+x+1; (alpha-beta)/(alpha+t))
    alpha <  beta:  K(t) = (alpha+t)^(1-r-x) (beta+t)^-(s+1) G(s+1, r+s+x+1; (beta-alpha)/(beta+t))

each divided by ``r+s+x``, with ``G(p, c; z) = 2F1(1, p; c; z)``: the note's
``2F1(r+s+x, s+1 or r+x; r+s+x+1; z)`` after Euler's transformation. ``1 <= G <= 1/(1-z)``,
every large power is taken in logs, so the likelihood is finite for any number of purchases;
``G`` and its partial derivatives come from a continued fraction (``_hyp2f1``), which makes the
gradient analytic. ``K(t_x) - K(T) >= 0`` is formed as ``K(t_x) (1 - exp(log K(T) - log K(t_x)))``.

Speed: ``K`` depends on a customer only through ``(x, t)``, so it is evaluated once per
distinct (frequency, recency) and (frequency, T) pair of the compressed data (with time in
whole days there are a few thousand of them for any number of customers) and gathered.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from tenure.models._data import (
    FloatArray,
    check_time,
    check_transactions,
    compress,
    compressed_transactions,
    like_input,
    wsum,
)
from tenure.models._hyp2f1 import hyp2f1_one
from tenure.models.base import BaseFitter, Data

#: (r, alpha, s, beta)
Params = tuple[float, float, float, float]


def _as_params(values: FloatArray | tuple[float, ...]) -> Params:
    r, alpha, s, beta = (float(v) for v in values)
    return r, alpha, s, beta


def log_k(params: Params, x: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``log(alpha^r beta^s K(t))`` for ``x`` purchases, and its gradient (rows r, alpha, s,
    beta). The prefactor's ``alpha^r beta^s`` is folded in as ``-r log(1 + t/alpha)`` and
    ``-s log(1 + t/beta)``, which keeps full precision when r or s is in the millions."""
    r, alpha, s, beta = params
    la, lb = np.log(alpha + t), np.log(beta + t)
    la1, lb1 = np.log1p(t / alpha), np.log1p(t / beta)
    # d/d(alpha) of -r log(1 + t/alpha), and the same for beta.
    ra, sb = r * t / (alpha * (alpha + t)), s * t / (beta * (beta + t))
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + t)
        g, gp, gc, gz = hyp2f1_one(r + x, c, z)
        log_value = -r * la1 - x * la - s * lb1 + np.log(g) - np.log(c - 1.0)
        d_r = -la1 + (gp + gc) / g
        d_s = -lb1 + gc / g
        d_alpha = ra - x / (alpha + t) + gz / g * (beta + t) / (alpha + t) ** 2
        d_beta = sb - gz / g / (alpha + t)
    else:
        z = (beta - alpha) / (beta + t)
        g, gp, gc, gz = hyp2f1_one(s + 1.0, c, z)
        log_value = -r * la1 + (1.0 - x) * la - s * lb1 - lb + np.log(g) - np.log(c - 1.0)
        d_r = -la1 + gc / g
        d_s = -lb1 + (gp + gc) / g
        d_alpha = ra + (1.0 - x) / (alpha + t) - gz / g / (beta + t)
        d_beta = sb - 1.0 / (beta + t) + gz / g * (alpha + t) / (beta + t) ** 2
    inv = 1.0 / (c - 1.0)
    return log_value, np.stack((d_r - inv, d_alpha, d_s - inv, d_beta))


def _log_alive(params: Params, x: FloatArray, age: FloatArray) -> FloatArray:
    """log(alpha^r beta^s (alpha+T)^-(r+x) (beta+T)^-s): the "alive at T" term."""
    r, alpha, s, beta = params
    return np.asarray(
        -r * np.log1p(age / alpha) - x * np.log(alpha + age) - s * np.log1p(age / beta)
    )


def _log_terms(
    params: Params,
    x: FloatArray,
    age: FloatArray,
    log_kx: FloatArray,
    log_kt: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """log of the likelihood's two terms (times alpha^r beta^s): alive at T, left in (t_x, T]."""
    s = params[2]
    with np.errstate(divide="ignore"):
        left = np.log(s) + log_kx + np.log(-np.expm1(np.minimum(log_kt - log_kx, 0.0)))
    return _log_alive(params, x, age), left


def _log_odds_left(params: Params, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """log(P(left in (t_x, T]) / P(alive at T)) given the history (no gradient)."""
    log_kx, _ = log_k(params, x, t_x)
    log_kt, _ = log_k(params, x, age)
    alive, left = _log_terms(params, x, age, log_kx, log_kt)
    return np.asarray(left - alive, dtype=np.float64)


def _span_factor(span: FloatArray, s: float, scale: FloatArray | float) -> FloatArray:
    """``scale/(s-1) (1 - (scale/(scale+t))^(s-1))``, continuous through ``s = 1``."""
    log_ratio = np.log1p(span / scale)
    return np.asarray(scale * log_ratio * special.exprel(-(s - 1.0) * log_ratio))


def _pattern_data(x: FloatArray, t_x: FloatArray, age: FloatArray, weights: FloatArray) -> Data:
    """The fitting data: patterns, their distinct (x, t) pairs, and the weight of each x.

    ``K`` is evaluated once per distinct (x, t) over both ends of every pattern;
    ``end_x`` and ``end_t`` (indices, kept as floats) say where each pattern's ends are.
    """
    m = len(x)
    (pair_x, pair_t), _, where = compress(
        [np.concatenate([x, x]), np.concatenate([t_x, age])], np.zeros(2 * m)
    )
    ends = where.astype(np.float64)
    (distinct_x,), weight_x, _ = compress([x], weights)
    return (x, t_x, age, pair_x, pair_t, ends[:m], ends[m:], distinct_x, weight_x)


class ParetoNBD(BaseFitter):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): customers may leave at any time.

    Parameters: ``penalizer`` (>= 0, adds ``penalizer * sum(params**2)`` to the mean
    negative log-likelihood), ``tol`` (largest allowed gradient component of that objective
    with respect to the log-parameters), ``max_iter`` (L-BFGS-B iterations).
    Learned: ``params_`` (r, alpha, s, beta), ``standard_errors_``, ``covariance_``,
    ``log_likelihood_``, ``n_customers_``, ``aic_``, ``bic_``.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the unique (frequency, recency, T) patterns.

        frequency: repeat purchases (purchase days after the first); recency: age at the
        last repeat purchase (0 without one); T: age at the end of the calibration period;
        weights: how many customers each row stands for (default 1 each).
        """
        self._validate_params()
        owner = f"{type(self).__name__}.fit"
        (x, t_x, age), w = compressed_transactions(owner, frequency, recency, T, weights)
        self._fit(_pattern_data(x, t_x, age, w), w)
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        x, _, age = data[:3]
        rate = max(wsum(weights, x) / max(wsum(weights, age), 1e-9), 1e-6)
        span = max(wsum(weights, age) / float(weights.sum()), 1e-6)
        return np.log(np.array([0.5, 0.5 / rate, 0.5, 0.5 * span]))

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        params = _as_params(np.exp(log_params))
        r, alpha, s, beta = params
        x, _, age, pair_x, pair_t, end_x, end_t, distinct_x, weight_x = data
        log_kp, grad_kp = log_k(params, pair_x, pair_t)
        ix, it = end_x.astype(np.intp), end_t.astype(np.intp)
        log_kx, log_kt = log_kp[ix], log_kp[it]
        alive, left = _log_terms(params, x, age, log_kx, log_kt)
        top = np.maximum(alive, left)
        w_alive, w_left = np.exp(alive - top), np.exp(left - top)
        mix = w_alive + w_left
        share = weights / mix  # d(weight * log mix) = share * d(mix)
        # Terms that depend on x alone, summed per distinct x.
        ll = wsum(weight_x, special.gammaln(r + distinct_x)) + wsum(weights, top + np.log(mix))
        ll += float(weights.sum()) * -special.gammaln(r)
        # "Left" term: s (K(t_x) - K(T)) / exp(top), its gradient scattered to the pairs.
        n_pairs = len(pair_x)
        to_x = np.bincount(ix, share * s * np.exp(log_kx - top), n_pairs)
        to_t = np.bincount(it, share * s * np.exp(log_kt - top), n_pairs)
        grad = np.einsum("kj,j->k", grad_kp, to_x - to_t)
        grad[2] += wsum(share, w_left) / s
        # "Alive" term: -r log(1+T/alpha) - x log(alpha+T) - s log(1+T/beta).
        on_alive = share * w_alive
        grad[0] -= wsum(on_alive, np.log1p(age / alpha))
        grad[1] += wsum(on_alive, (r * age / alpha - x) / (alpha + age))
        grad[2] -= wsum(on_alive, np.log1p(age / beta))
        grad[3] += s / beta * wsum(on_alive, age / (beta + age))
        # Prefactor Gamma(r+x)/Gamma(r).
        grad[0] += wsum(weight_x, special.digamma(r + distinct_x))
        grad[0] -= float(weights.sum()) * special.digamma(r)
        return -ll, -grad * np.exp(log_params)

    # -- predictions -----------------------------------------------------------------------

    def _history(
        self, owner: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        data = check_transactions(f"{type(self).__name__}.{owner}", frequency, recency, T)
        return data.frequency, data.recency, data.T

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Any:
        """P(the customer is still alive at T | x, t_x, T) (Fader & Hardie 2005 note, eq. 18):
        the likelihood's "alive at T" term over the whole likelihood."""
        params = _as_params(self._param_values())
        x, t_x, age = self._history("p_alive", frequency, recency, T)
        alive = special.expit(-_log_odds_left(params, x, t_x, age))
        return like_input(np.asarray(alive, dtype=np.float64), frequency)

    def expected_purchases(self, t: ArrayLike) -> Any:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer (note, eq. 17):
        ``r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``."""
        r, alpha, s, beta = self._param_values()
        span = check_time(f"{type(self).__name__}.expected_purchases", "t", t)
        return like_input(r / alpha * _span_factor(span, s, beta), t)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Any:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (note, eq. 20):
        ``P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``.

        ``t`` is a scalar or one horizon per customer.
        """
        params = _as_params(self._param_values())
        r, alpha, s, beta = params
        x, t_x, age = self._history("conditional_expected_purchases", frequency, recency, T)
        span = check_time(f"{type(self).__name__}.conditional_expected_purchases", "t", t)
        alive = special.expit(-_log_odds_left(params, x, t_x, age))
        value = alive * (r + x) / (alpha + age) * _span_factor(span, s, beta + age)
        return like_input(np.asarray(value, dtype=np.float64), frequency, t)

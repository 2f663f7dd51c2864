"""BG/NBD and MBG/NBD: repeat purchases of customers who may silently leave.

While alive, a customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)``; right after each
purchase they leave for good with probability ``p ~ Beta(a, b)``.

- **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative
  to the Pareto/NBD model", Marketing Science 24(2), 275-284): a customer can only leave
  after a repeat purchase, so one with no repeat purchase is alive for sure.
- **MBG/NBD** (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of
  models for customer base analysis", International Journal of Research in Marketing 24(3),
  201-209): a customer may also leave right after the first purchase, i.e. at time 0.

Both are one model with ``k`` chances to leave so far: ``k = x`` (BG/NBD) or ``k = x + 1``
(MBG/NBD) for a customer with ``x`` repeat purchases, the last at age ``t_x``, now aged ``T``:

    L = B(a, b+k)/B(a, b) NB(T) + [k >= 1] B(a+1, b+k-1)/B(a, b) NB(t_x),
    NB(s) = Gamma(r+x)/Gamma(r) alpha^r / (alpha + s)^(r+x).

The first term is "still alive", the second "left right after the last chance". An alive
customer's posterior is ``lambda ~ Gamma(r+x, alpha+T)``, ``p ~ Beta(a, b+k)``, and from there
on behaves as a BG/NBD customer, which gives every conditional prediction. Time is in
whatever unit frequency/recency/T are measured in (weeks in the papers).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from tenure.models._special import log_abs_hyp2f1
from tenure.models.base import BaseFitter, Data
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
from tenure.models.nbd import nbd_boundary


def bg_expected(t: FloatArray, r: Any, alpha: Any, a: float, b: Any) -> FloatArray:
    """Expected purchases in (0, t] of a BG/NBD customer alive at 0 (FHL 2005, eq. 9).

    ``(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z)]``, ``z = t/(alpha+t)``,
    evaluated after Euler's transformation as ``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b-1; z)``:
    the large ``r`` and ``b`` of a frequent buyer cancel out of the upper parameters.
    ``a = 1`` and ``a + b = 1`` (2F1 with ``c = 0``) are removable singularities; ``a`` and
    ``b`` are moved 1e-7 and 1e-8 away from them.
    """
    am1 = np.where(np.abs(a - 1.0) < 1e-7, 1e-7, a - 1.0)
    b = np.where(np.abs(am1 + b) < 1e-8, b + 1e-8, b)
    z = t / (alpha + t)
    c = am1 + b
    log_f, sign = log_abs_hyp2f1(c - r, am1, c, z)
    log_term = am1 * np.log1p(-z) + log_f
    one_minus = np.where(sign > 0, -np.expm1(log_term), 1.0 - sign * np.exp(log_term))
    # Rounding can leave -1e-16 for t near 0; the expectation is never negative.
    return np.asarray(np.maximum(c / am1 * one_minus, 0.0), dtype=np.float64)


def _pattern_data(columns: list[FloatArray], weights: FloatArray) -> Data:
    """What the likelihood needs of the patterns, prepared once per fit.

    (x, t_x, T); the distinct x, each pattern's index into them (``xi``) and the weight of
    each distinct x; the distinct times (recency and T together), each pattern's index into
    them for t_x and T; per distinct time, the weight of the patterns whose T it is and that
    weight times x (the terms of ``(r + x) log(alpha + T)`` summed per time).
    """
    x, t_x, age = columns
    (ux,), wx, xi = compress([x], weights)
    (times,), _, ti = compress([np.concatenate([t_x, age])], np.zeros(2 * len(x)))
    ti_x, ti_age = ti[: len(x)], ti[len(x) :]
    w_age = np.bincount(ti_age, weights=weights, minlength=len(times))
    wx_age = np.bincount(ti_age, weights=weights * x, minlength=len(times))
    return (x, t_x, age, ux, xi, times, ti_x, ti_age, wx, w_age, wx_age)


#: Patterns per block of the likelihood: the block's arrays stay in the CPU cache.
_CHUNK = 1 << 16


def _mixture_sums(
    r: float,
    tables: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    x: FloatArray,
    xi: NDArray[np.intp],
    ti_x: NDArray[np.intp],
    ti_age: NDArray[np.intp],
    weights: FloatArray,
) -> FloatArray:
    """The per-pattern sums of the likelihood over a block of patterns.

    ``d = log(B(a+1, b+k-1)/B(a, b+k)) + (r+x) log((alpha+T)/(alpha+t_x))`` is the log-odds
    of "left" against "alive"; with ``e = exp(-|d|)``, ``softplus(d) = max(d, 0) +
    log(1 + e)`` and the share of "left" is ``expit(d) = (1 if d >= 0 else e) / (1 + e)``.
    Returns the weighted sums of softplus(d), of the share of "left" ``s``, and of ``s``
    times ``log((alpha+T)/(alpha+t_x))``, ``(r+x)(1/(alpha+t_x) - 1/(alpha+T))`` and
    ``1/(b+k-1)``. ``tables`` are per distinct x (the first and last) or time.
    """
    odds, log_t, inv_t, inv_bk1 = tables
    rx = x + r
    gap = np.take(log_t, ti_age)
    gap -= np.take(log_t, ti_x)  # >= 0
    d = rx * gap
    d += np.take(odds, xi)
    e = np.abs(d)
    np.negative(e, out=e)
    np.exp(e, out=e)
    one_e = e + 1.0
    softplus = np.maximum(d, 0.0)
    softplus += np.log(one_e)
    share = np.where(d >= 0.0, 1.0, e)
    share /= one_e
    share *= weights
    inv_gap = np.take(inv_t, ti_x)
    inv_gap -= np.take(inv_t, ti_age)  # >= 0
    inv_gap *= rx
    return np.array(
        [
            wsum(weights, softplus),
            float(np.sum(share)),
            wsum(share, gap),
            wsum(share, inv_gap),
            wsum(share, np.take(inv_bk1, xi)),
        ]
    )


class _BetaGeoFamily(BaseFitter):
    """BG/NBD and MBG/NBD differ only in ``_offset``: chances to leave before a repeat."""

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _dropout: ClassVar[tuple[str, str] | None] = ("a", "b")
    _nested_name: ClassVar[str] = "the NBD"
    _offset: ClassVar[int]

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

        Without visible drop-out (the search runs ``a`` to 0 or ``b`` to infinity) the fit
        is the NBD, its boundary (``boundary_``, ``nested_``; docs/models.md, "Boundary fits").
        """
        self._validate_params()
        owner = f"{type(self).__name__}.fit"
        columns, w = compressed_transactions(owner, frequency, recency, T, weights)
        require_repeats(
            owner, columns[0], w, "repeat purchase, so no purchase rate can be estimated"
        )
        self._fit(_pattern_data(columns, w), w, nbd_boundary(self, columns, w))
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        x, _, age = data[:3]
        rate = max(wsum(weights, x) / max(wsum(weights, age), 1e-9), 1e-6)
        return np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        """Terms of x alone are computed per distinct x, terms of alpha + time per distinct
        time, then gathered: special functions run on hundreds of values, not millions.

        Per pattern, with ``A = log B(a, b+k)/B(a, b) - (r+x) log(alpha+T)`` ("alive") and
        ``A + d`` ("left"), ``d = log(B(a+1, b+k-1)/B(a, b+k)) + (r+x) log((alpha+T)/(alpha+t_x))``:
        ``log L = A + softplus(d)`` and the share of "left" is ``expit(d)``, both from one
        ``e = exp(-|d|)``, summed over blocks of patterns (:func:`_mixture_sums`). The parts
        of A and of the gradient that do not involve ``d`` are sums per distinct x or per
        distinct T (prepared by :func:`_pattern_data`).
        """
        r, alpha, a, b = np.exp(log_params)
        x, _, _, ux, xi, times, ti_x, ti_age, wx, w_age, wx_age = data
        n = float(np.sum(weights))
        kx = ux + self._offset
        inv_bk1 = np.where(kx > 0, 1.0 / (b + np.maximum(kx - 1.0, 0.0)), 0.0)
        per_alive = special.betaln(a, b + kx)
        per_left = np.where(kx > 0, special.betaln(a + 1.0, b + np.maximum(kx - 1.0, 0.0)), -np.inf)
        log_t, inv_t = np.log(alpha + times), 1.0 / (alpha + times)
        tables = (per_left - per_alive, log_t, inv_t, inv_bk1)
        sums = np.zeros(5)
        for start in range(0, len(x), _CHUNK):
            rows = slice(start, start + _CHUNK)
            sums += _mixture_sums(
                r, tables, x[rows], xi[rows], ti_x[rows], ti_age[rows], weights[rows]
            )
        softplus, left, left_gap, left_inv_gap, left_inv_bk1 = sums
        # The "alive" part, A, summed per distinct x and per distinct T.
        by_age = r * w_age + wx_age  # sum of weight * (r + x) per T
        ll = wsum(wx, special.gammaln(r + ux) + per_alive) - wsum(by_age, log_t) + softplus
        ll += n * (r * np.log(alpha) - special.gammaln(r) - special.betaln(a, b))
        psi_ab, psi_abk = special.digamma(a + b), special.digamma(a + b + kx)
        d_r = wsum(wx, special.digamma(r + ux)) + n * (np.log(alpha) - special.digamma(r))
        d_r -= wsum(w_age, log_t) - left_gap
        d_alpha = n * r / alpha - wsum(by_age, inv_t) - left_inv_gap
        d_a = n * psi_ab - wsum(wx, psi_abk) + left / a
        d_b = n * (psi_ab - special.digamma(b)) + wsum(wx, special.digamma(b + kx) - psi_abk)
        d_b -= left_inv_bk1
        grad = np.array([d_r, d_alpha, d_a, d_b])
        return -ll, -grad * np.exp(log_params)

    # -- predictions -----------------------------------------------------------------------

    def _history(
        self, owner: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Validated (x, t_x, T, k) for a prediction."""
        data = check_transactions(f"{type(self).__name__}.{owner}", frequency, recency, T)
        return data.frequency, data.recency, data.T, data.frequency + self._offset

    def _log_odds_left(self, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
        """log(P(left after the last chance) / P(alive)) given the history."""
        r, alpha, a, b = self._param_values()
        k = x + self._offset
        log_ratio = np.log(a) - np.log(b + np.maximum(k - 1.0, 0.0))
        log_ratio += (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        return np.where(k > 0, log_ratio, -np.inf)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Any:
        """P(the customer is still alive at T | x, t_x, T) (FHL 2005, eq. 11)."""
        if (nested := self._nested_model()) is not None:
            return nested.p_alive(frequency, recency, T)
        x, t_x, age, _ = self._history("p_alive", frequency, recency, T)
        return like_input(special.expit(-self._log_odds_left(x, t_x, age)), frequency)

    def expected_purchases(self, t: ArrayLike) -> Any:
        """E[X(t)]: expected repeat purchases in (0, t] of a new customer (FHL 2005, eq. 9)."""
        if (nested := self._nested_model()) is not None:
            return nested.expected_purchases(t)
        r, alpha, a, b = self._param_values()
        span = check_time(f"{type(self).__name__}.expected_purchases", "t", t)
        share = np.exp(special.betaln(a, b + self._offset) - special.betaln(a, b))
        return like_input(share * bg_expected(span, r, alpha, a, b + self._offset), t)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Any:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL 2005, eq. 10).

        ``t`` is a scalar or one horizon per customer. Stable for any number of purchases
        (the hypergeometric is evaluated after Euler's transformation, in log space). The
        expectation of an alive customer depends on (t, x, T) only, so it is computed once
        per distinct (t, x, T) (with whole days, a few thousand for millions of customers)
        and times P(alive) per row.
        """
        if (nested := self._nested_model()) is not None:
            return nested.conditional_expected_purchases(t, frequency, recency, T)
        r, alpha, a, b = self._param_values()
        x, t_x, age, _ = self._history("conditional_expected_purchases", frequency, recency, T)
        span = check_time(f"{type(self).__name__}.conditional_expected_purchases", "t", t)
        span, x, t_x, age = np.broadcast_arrays(span, x, t_x, age)
        (u_span, ux, uage), _, inverse = compress([span, x, age], np.zeros(len(x)))
        if_alive = bg_expected(u_span, r + ux, alpha + uage, a, b + ux + self._offset)
        value = special.expit(-self._log_odds_left(x, t_x, age)) * if_alive[inverse]
        return like_input(np.asarray(value, dtype=np.float64), frequency, t)

    def expected_purchases_by_span(
        self, spans: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """:meth:`conditional_expected_purchases` for each horizon of ``spans``: one row per
        span, one column per customer (the same numbers). The history is checked and
        P(alive) computed once, the alive customer's expectation once per (span, x, T)."""
        if (nested := self._nested_model()) is not None:
            return np.asarray(nested.expected_purchases_by_span(spans, frequency, recency, T))
        r, alpha, a, b = self._param_values()
        x, t_x, age, _ = self._history("expected_purchases_by_span", frequency, recency, T)
        span = check_time(f"{type(self).__name__}.expected_purchases_by_span", "t", spans)
        alive = special.expit(-self._log_odds_left(x, t_x, age))
        (ux, uage), _, inverse = compress([x, age], np.zeros(len(x)))
        u_span = np.repeat(span, len(ux))
        ux, uage = np.tile(ux, len(span)), np.tile(uage, len(span))
        if_alive = bg_expected(u_span, r + ux, alpha + uage, a, b + ux + self._offset)
        per_span = np.reshape(if_alive, (len(span), -1))
        return np.asarray(alive * per_span[:, inverse], dtype=np.float64)

    def p_purchases(self, x: ArrayLike, t: ArrayLike) -> Any:
        """P(X(t) = x): probability that a new customer makes exactly x repeat purchases in t.

        FHL 2005 eq. 8 (BG/NBD) and Batislam et al. 2007 (MBG/NBD), with the negative
        binomial tail ``P(NB >= x)`` from scipy's regularised incomplete beta function.
        """
        if (nested := self._nested_model()) is not None:
            return nested.p_purchases(x, t)
        r, alpha, a, b = self._param_values()
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
        k = count + self._offset
        p = alpha / (alpha + span)
        from scipy import stats  # ~0.4 s to import: only where P(X(t) = x) is asked for

        log_nb = stats.nbinom.logpmf(count, r, p)
        tail = np.where(count > 0, stats.nbinom.sf(count - 1.0, r, p), 1.0)
        log_beta = special.betaln(a, b)
        first = np.exp(special.betaln(a, b + k) - log_beta + log_nb)
        second_w = np.exp(special.betaln(a + 1.0, b + np.maximum(k - 1.0, 0.0)) - log_beta)
        value = first + np.where(k > 0, second_w * tail, 0.0)
        return like_input(np.asarray(value, dtype=np.float64), x, t)

    def expected_time_to_next_purchase(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> Any:
        """Median time from T to the next purchase, for a customer who is still alive.

        Definition: an alive customer's rate is ``Gamma(r+x, alpha+T)`` a posteriori and, as
        leaving only happens right after a purchase, they will certainly buy again; the wait
        ``W`` is Lomax (Pareto II) distributed, ``P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x)``,
        so its median is ``(alpha+T)(2^(1/(r+x)) - 1)``. The median is used because the mean,
        ``(alpha+T)/(r+x-1)``, is infinite when ``r + x <= 1`` (new customers, as r < 1 in
        most stores). Whether the customer is alive at all is ``p_alive``: the unconditional
        wait is infinite with probability ``1 - p_alive``, so read the two together.
        """
        if (nested := self._nested_model()) is not None:
            return nested.expected_time_to_next_purchase(frequency, recency, T)
        r, alpha, _, _ = self._param_values()
        x, _, age, _ = self._history("expected_time_to_next_purchase", frequency, recency, T)
        return like_input((alpha + age) * np.expm1(np.log(2.0) / (r + x)), frequency)


class BetaGeo(_BetaGeoFamily):
    """BG/NBD (Fader, Hardie & Lee 2005): customers may leave right after a repeat purchase.

    Parameters: ``penalizer`` (>= 0, adds ``penalizer * sum(params**2)`` to the mean
    negative log-likelihood), ``tol`` (largest allowed gradient component of that objective
    with respect to the log-parameters), ``max_iter`` (L-BFGS-B iterations).
    Learned: ``params_`` (r, alpha, a, b), ``standard_errors_``, ``covariance_``,
    ``log_likelihood_``, ``n_customers_``, ``aic_``, ``bic_``, ``boundary_`` (True for the
    boundary fit without drop-out) and ``nested_`` (that fitted nested model, else None).
    """

    _offset: ClassVar[int] = 0


class ModifiedBetaGeo(_BetaGeoFamily):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): customers may also leave at time 0,
    so a customer without repeat purchases is not assumed alive. Same API as BetaGeo."""

    _offset: ClassVar[int] = 1

"""BG/BB: repeat transactions at discrete opportunities, by customers who may leave.

Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6), 1086-1108. After the first transaction (period 0) a
customer has ``n`` transaction opportunities (years of a donation drive, issues of a
magazine). While alive they transact at each one with probability ``p ~ Beta(alpha, beta)``;
at the start of each opportunity they leave for good with probability
``theta ~ Beta(gamma, delta)``.

A customer with ``x`` repeat transactions, the last at opportunity ``t_x``, out of ``n`` has
likelihood (FHS 2010, eq. 5)

    L = B(alpha+x, beta+n-x)/B(alpha, beta) B(gamma, delta+n)/B(gamma, delta)
        + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha, beta)
                              B(gamma+1, delta+t_x+i)/B(gamma, delta),

"alive through n" plus "left at opportunity t_x+i+1". Every term is computed as a log-beta
and combined with log-sum-exp; the gradient is analytic (digamma).

Time is counted in opportunities: ``recency`` and ``n_periods`` are whole numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from tenure.models.base import BaseFitter, Boundary, Data
from tenure.models.inputs import (
    FloatArray,
    Transactions,
    as_float_array,
    check_transactions,
    check_weights,
    compress,
    fail_rows,
    like_input,
    require_repeats,
    row_labels,
    wsum,
)

Params = tuple[float, float, float, float]


def check_periods(
    owner: str, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
) -> Transactions:
    """Validate a discrete-time history: BG/NBD's rules, whole periods, and x <= t_x."""
    data = check_transactions(owner, frequency, recency, n_periods, age="n_periods")
    labels = row_labels(frequency, recency, n_periods)
    if len(labels) != len(data.frequency):
        labels = np.arange(len(data.frequency))
    fail_rows(
        owner,
        (data.recency != np.floor(data.recency)) | (np.floor(data.T) != data.T),
        labels,
        "have a recency or n_periods that is not a whole number",
        hint="BG/BB counts transaction opportunities (periods), not time.",
    )
    fail_rows(
        owner,
        data.frequency > data.recency,
        labels,
        "have more repeat transactions than periods up to the last one (frequency > recency)",
        hint="recency is the period of the last repeat transaction, so frequency <= recency.",
    )
    return data


def check_count(owner: str, name: str, values: ArrayLike) -> FloatArray:
    """A whole number >= 0 (a count of transactions or of periods)."""
    array = as_float_array(owner, name, values)
    fail_rows(
        owner,
        ~np.isfinite(array) | (array < 0) | (array != np.floor(array)),
        row_labels(values),
        f"have an {name} that is not a whole number >= 0",
        hint=f"{name} counts periods or transactions.",
    )
    return array


def _digamma_pair(a: FloatArray | float, b: FloatArray | float) -> tuple[FloatArray, FloatArray]:
    """Gradient of log B(a, b) with respect to a and b."""
    both = special.digamma(np.add(a, b))
    return special.digamma(a) - both, special.digamma(b) - both


def _log_terms(params: Params, x: FloatArray, t_x: FloatArray, n: FloatArray) -> FloatArray:
    """log of every likelihood term (without the 1/B normalisers), one column per term.

    Column 0 is "alive through n"; column 1+i is "left at t_x+i+1" (-inf past n-t_x-1).
    Shape (4 + 1, m, k): row 0 the log-terms, rows 1..4 their gradients.
    """
    alpha, beta, gamma, delta = params
    width = int(np.max(n - t_x)) if len(n) else 0
    j = t_x[:, None] + np.arange(width)[None, :]  # opportunity before leaving
    used = j < n[:, None]
    j = np.where(used, j, t_x[:, None])
    xa = x[:, None]
    log_p = special.betaln(alpha + xa, beta + j - xa) + special.betaln(gamma + 1.0, delta + j)
    log_p = np.where(used, log_p, -np.inf)
    d_alpha, d_beta = _digamma_pair(alpha + xa, beta + j - xa)
    d_gamma, d_delta = _digamma_pair(gamma + 1.0, delta + j)
    left = np.stack((log_p, d_alpha, d_beta, d_gamma, d_delta))
    a_alpha, a_beta = _digamma_pair(alpha + x, beta + n - x)
    a_gamma, a_delta = _digamma_pair(gamma, delta + n)
    log_alive = special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n)
    alive = np.stack((log_alive, a_alpha, a_beta, a_gamma, a_delta))
    return np.concatenate((alive[:, :, None], left), axis=2)


def log_likelihood(
    params: Params, x: FloatArray, t_x: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient (rows alpha, beta, gamma, delta)."""
    alpha, beta, gamma, delta = params
    terms = _log_terms(params, x, t_x, n)
    log_mix = special.logsumexp(terms[0], axis=1)
    share = np.exp(terms[0] - log_mix[:, None])
    grad = np.einsum("kmj,mj->km", terms[1:], share)
    n_alpha, n_beta = _digamma_pair(alpha, beta)
    n_gamma, n_delta = _digamma_pair(gamma, delta)
    grad -= np.array([n_alpha, n_beta, n_gamma, n_delta])[:, None]
    ll = log_mix - special.betaln(alpha, beta) - special.betaln(gamma, delta)
    return ll, grad


def future_alive_sum(gamma: float, delta: float, n: FloatArray, horizon: FloatArray) -> FloatArray:
    """``sum_{j=1}^{horizon} B(gamma, delta+n+j) / B(gamma, delta)`` (FHS 2010, eq. 13).

    Closed form ``B(gamma-1, delta+n+1) - B(gamma-1, delta+n+horizon+1)`` over
    ``B(gamma, delta)``, with the pole at ``gamma = 1`` removed: near it the sum is added up.
    """
    n, horizon = np.broadcast_arrays(np.asarray(n, float), np.asarray(horizon, float))
    log_norm = special.betaln(gamma, delta)
    if abs(gamma - 1.0) < 1e-4:
        total = np.zeros(n.shape)
        for j in range(1, int(np.max(horizon, initial=0)) + 1):
            term = np.exp(special.betaln(gamma, delta + n + j) - log_norm)
            total += np.where(j <= horizon, term, 0.0)
        return total
    d = special.gammaln(delta + n + horizon + 1.0) - special.gammaln(delta + n + 1.0)
    d -= special.gammaln(gamma + delta + n + horizon) - special.gammaln(gamma + delta + n)
    scale = special.gammaln(gamma) + special.gammaln(delta + n + 1.0)
    scale -= special.gammaln(gamma + delta + n) + log_norm
    return np.asarray(np.exp(scale) * -np.expm1(d) / (gamma - 1.0), dtype=np.float64)


class BetaGeoBetaBinom(BaseFitter):
    """BG/BB (Fader, Hardie & Shang 2010): discrete transaction opportunities.

    Parameters: ``penalizer`` (>= 0, adds ``penalizer * sum(params**2)`` to the mean
    negative log-likelihood), ``tol`` (largest allowed gradient component of that objective
    with respect to the log-parameters), ``max_iter`` (L-BFGS-B iterations).
    Learned: ``params_`` (alpha, beta, gamma, delta), ``standard_errors_``, ``covariance_``,
    ``log_likelihood_``, ``n_customers_``, ``aic_``, ``bic_``, ``boundary_`` (True for the
    boundary fit without drop-out) and ``nested_`` (that fitted nested model, else None).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _dropout: ClassVar[tuple[str, str] | None] = ("gamma", "delta")
    _nested_name: ClassVar[str] = "the beta-binomial"

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the unique (frequency, recency, n_periods) patterns.

        frequency: repeat transactions; recency: the opportunity of the last one (0 without
        one); n_periods: opportunities after the first transaction; weights: how many
        customers each row stands for (default 1 each).

        Without visible drop-out (the search runs ``gamma`` to 0 or ``delta`` to infinity)
        the fit is the beta-binomial, its boundary (:class:`BetaBinomial`; ``boundary_``,
        ``nested_``; docs/models.md, "Boundary fits").
        """
        owner = f"{type(self).__name__}.fit"
        self._validate_params()
        data = check_periods(owner, frequency, recency, n_periods)
        w = check_weights(owner, weights, len(data.frequency))
        columns, w, _ = compress([data.frequency, data.recency, data.T], w)
        require_repeats(
            owner,
            columns[0],
            w,
            "repeat transaction, so no transaction probability can be estimated and the "
            "drop-out probability is not identified",
        )
        x, t_x, n = columns
        nested = BetaBinomial(**self.get_params())
        boundary = Boundary(lambda: nested.fit(x, t_x, n, weights=w), (x, t_x, n), w)
        self._fit(tuple(columns), w, boundary)
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        return np.zeros(4)

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        alpha, beta, gamma, delta = (float(v) for v in np.exp(log_params))
        x, t_x, n = data
        ll, grad = log_likelihood((alpha, beta, gamma, delta), x, t_x, n)
        return -wsum(weights, ll), -np.einsum("km,m->k", grad, weights) * np.exp(log_params)

    # -- predictions -----------------------------------------------------------------------

    def _params(self) -> Params:
        alpha, beta, gamma, delta = self._param_values()
        return alpha, beta, gamma, delta

    def _history(
        self, owner: str, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Validated (x, t_x, n) and each customer's log-likelihood."""
        self._check_is_fitted()
        data = check_periods(f"{type(self).__name__}.{owner}", frequency, recency, n_periods)
        ll, _ = log_likelihood(self._params(), data.frequency, data.recency, data.T)
        return data.frequency, data.recency, data.T, ll

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike) -> Any:
        """P(alive at opportunity n+1 | x, t_x, n) (FHS 2010, eq. 11):
        ``B(alpha+x, beta+n-x)/B(alpha, beta) B(gamma, delta+n+1)/B(gamma, delta) / L``."""
        if (nested := self._nested_model()) is not None:
            return nested.p_alive(frequency, recency, n_periods)
        alpha, beta, gamma, delta = self._params()
        x, _, n, ll = self._history("p_alive", frequency, recency, n_periods)
        log_alive = special.betaln(alpha + x, beta + n - x) - special.betaln(alpha, beta)
        log_alive += special.betaln(gamma, delta + n + 1.0) - special.betaln(gamma, delta)
        return like_input(np.exp(log_alive - ll), frequency)

    def expected_purchases(self, n_future: ArrayLike) -> Any:
        """E[X(n)]: expected repeat transactions of a new customer in their first ``n_future``
        opportunities (FHS 2010, eq. 8): ``alpha/(alpha+beta) sum_j B(gamma, delta+j)/B``."""
        if (nested := self._nested_model()) is not None:
            return nested.expected_purchases(n_future)
        alpha, beta, gamma, delta = self._params()
        horizon = check_count(f"{type(self).__name__}.expected_purchases", "n_future", n_future)
        value = alpha / (alpha + beta) * future_alive_sum(gamma, delta, np.zeros(1), horizon)
        return like_input(value, n_future)

    def conditional_expected_purchases(
        self, n_future: ArrayLike, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Any:
        """E[X(n, n+n*) | x, t_x, n]: expected transactions in the next ``n_future``
        opportunities (FHS 2010, eq. 13):
        ``B(alpha+x+1, beta+n-x)/B(alpha, beta) sum_j B(gamma, delta+n+j)/B(gamma, delta) / L``.
        """
        if (nested := self._nested_model()) is not None:
            return nested.conditional_expected_purchases(n_future, frequency, recency, n_periods)
        alpha, beta, gamma, delta = self._params()
        owner = "conditional_expected_purchases"
        x, _, n, ll = self._history(owner, frequency, recency, n_periods)
        horizon = check_count(f"{type(self).__name__}.{owner}", "n_future", n_future)
        log_p = special.betaln(alpha + x + 1.0, beta + n - x) - special.betaln(alpha, beta)
        value = np.exp(log_p - ll) * future_alive_sum(gamma, delta, n, horizon)
        return like_input(np.asarray(value, dtype=np.float64), frequency, n_future)

    def p_purchases(self, x: ArrayLike, n_periods: ArrayLike) -> Any:
        """P(X(n) = x): probability that a new customer makes exactly ``x`` repeat transactions
        in their first ``n`` opportunities (FHS 2010, eq. 7)."""
        if (nested := self._nested_model()) is not None:
            return nested.p_purchases(x, n_periods)
        alpha, beta, gamma, delta = self._params()
        owner = f"{type(self).__name__}.p_purchases"
        count = check_count(owner, "x", x)
        n = check_count(owner, "n_periods", n_periods)
        count, n = np.broadcast_arrays(count, n)
        log_norm = special.betaln(alpha, beta) + special.betaln(gamma, delta)
        possible = count <= n
        k = np.minimum(count, n)
        log_alive = _log_binom(n, k) + special.betaln(alpha + k, beta + n - k)
        value = np.exp(log_alive + special.betaln(gamma, delta + n) - log_norm)
        for i in range(int(np.max(n, initial=0))):
            log_left = _log_binom(np.float64(i), k) + special.betaln(alpha + k, beta + i - k)
            log_left += special.betaln(gamma + 1.0, delta + i) - log_norm
            value += np.where((k <= i) & (i < n), np.exp(np.where(k <= i, log_left, 0.0)), 0.0)
        return like_input(np.where(possible, value, 0.0), x, n_periods)

    def expected_time_to_next_purchase(
        self, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Any:
        """Median number of opportunities from n to the next transaction, for a customer who is
        still alive (a whole number >= 1: 1 means the next opportunity).

        Definition (BetaGeo's, in discrete time, so the models compare): an alive customer's
        transaction probability is ``Beta(alpha+x, beta+n-x)`` a posteriori, so the wait
        ``W`` for their next transaction is beta-geometric,
        ``P(W > w) = B(alpha+x, beta+n-x+w) / B(alpha+x, beta+n-x)``, and the median is the
        smallest ``w >= 1`` with ``P(W > w) <= 1/2``. The median is used because the mean,
        ``(alpha+beta+n-1)/(alpha+x-1)``, is infinite when ``alpha + x <= 1``. As with
        Pareto/NBD, ``W`` is the wait while the customer stays: they may also leave first
        (with probability ``theta`` at each opportunity), and whether they are alive at all is
        ``p_alive``: read the two together.
        """
        if (nested := self._nested_model()) is not None:
            return nested.expected_time_to_next_purchase(frequency, recency, n_periods)
        alpha, beta, _, _ = self._params()
        owner = f"{type(self).__name__}.expected_time_to_next_purchase"
        data = check_periods(owner, frequency, recency, n_periods)
        a, b = alpha + data.frequency, beta + data.T - data.frequency
        return like_input(median_wait_periods(a, b), frequency)


class BetaBinomial(BaseFitter):
    """The beta-binomial: transactions at discrete opportunities by customers who never
    leave, the boundary of BG/BB without drop-out (``gamma -> 0``).

    A customer transacts at each opportunity with probability ``p ~ Beta(alpha, beta)``. The
    likelihood of ``x`` transactions at given opportunities out of ``n`` is
    ``B(alpha+x, beta+n-x) / B(alpha, beta)`` (BG/BB's "alive through n" term with no
    drop-out, without the binomial coefficient, as BG/BB writes it: at the boundary the two
    log-likelihoods are equal). Recency does not enter; P(alive) is 1. Same constructor,
    learned attributes and prediction methods as BetaGeoBetaBinom, ``params_`` (alpha, beta).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        n_periods: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the unique (frequency, n_periods) pairs."""
        owner = f"{type(self).__name__}.fit"
        self._validate_params()
        data = check_periods(owner, frequency, recency, n_periods)
        w = check_weights(owner, weights, len(data.frequency))
        require_repeats(
            owner,
            data.frequency,
            w,
            "repeat transaction, so no transaction probability can be estimated",
        )
        columns, w, _ = compress([data.frequency, data.T], w)
        self._fit(tuple(columns), w)
        return self

    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        return np.zeros(2)

    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        alpha, beta = (float(v) for v in np.exp(log_params))
        x, n = data
        ll = special.betaln(alpha + x, beta + n - x) - special.betaln(alpha, beta)
        d_alpha, d_beta = _digamma_pair(alpha + x, beta + n - x)
        n_alpha, n_beta = _digamma_pair(alpha, beta)
        grad = np.array([wsum(weights, d_alpha - n_alpha), wsum(weights, d_beta - n_beta)])
        return -wsum(weights, ll), -grad * np.exp(log_params)

    def _history(
        self, owner: str, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Transactions:
        self._check_is_fitted()
        return check_periods(f"{type(self).__name__}.{owner}", frequency, recency, n_periods)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike) -> Any:
        """1 for every customer: nobody leaves."""
        data = self._history("p_alive", frequency, recency, n_periods)
        return like_input(np.ones(len(data.frequency)), frequency)

    def expected_purchases(self, n_future: ArrayLike) -> Any:
        """E[X(n)] = alpha / (alpha + beta) n: a new customer's expected transactions in
        their first ``n_future`` opportunities."""
        alpha, beta = self._param_values()
        horizon = check_count(f"{type(self).__name__}.expected_purchases", "n_future", n_future)
        return like_input(alpha / (alpha + beta) * horizon, n_future)

    def conditional_expected_purchases(
        self, n_future: ArrayLike, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Any:
        """E[X(n, n+n*) | x, n] = (alpha + x) / (alpha + beta + n) n*: the posterior mean
        transaction probability times the next ``n_future`` opportunities."""
        alpha, beta = self._param_values()
        owner = "conditional_expected_purchases"
        data = self._history(owner, frequency, recency, n_periods)
        horizon = check_count(f"{type(self).__name__}.{owner}", "n_future", n_future)
        value = (alpha + data.frequency) / (alpha + beta + data.T) * horizon
        return like_input(np.asarray(value, dtype=np.float64), frequency, n_future)

    def p_purchases(self, x: ArrayLike, n_periods: ArrayLike) -> Any:
        """P(X(n) = x) = C(n, x) B(alpha+x, beta+n-x) / B(alpha, beta)."""
        alpha, beta = self._param_values()
        owner = f"{type(self).__name__}.p_purchases"
        count = check_count(owner, "x", x)
        n = check_count(owner, "n_periods", n_periods)
        count, n = np.broadcast_arrays(count, n)
        k = np.minimum(count, n)
        log_p = _log_binom(n, k) + special.betaln(alpha + k, beta + n - k)
        value = np.where(count <= n, np.exp(log_p - special.betaln(alpha, beta)), 0.0)
        return like_input(value, x, n_periods)

    def expected_time_to_next_purchase(
        self, frequency: ArrayLike, recency: ArrayLike, n_periods: ArrayLike
    ) -> Any:
        """Median opportunities to the next transaction (:func:`median_wait_periods` of the
        posterior ``Beta(alpha+x, beta+n-x)``), as BetaGeoBetaBinom's; everyone is alive."""
        alpha, beta = self._param_values()
        data = self._history("expected_time_to_next_purchase", frequency, recency, n_periods)
        a, b = alpha + data.frequency, beta + data.T - data.frequency
        return like_input(median_wait_periods(a, b), frequency)


def median_wait_periods(a: FloatArray, b: FloatArray) -> FloatArray:
    """The median of a beta-geometric wait with transaction probability ``Beta(a, b)``: the
    smallest whole ``w >= 1`` with ``P(W > w) = B(a, b+w) / B(a, b) <= 1/2`` (infinite past
    1e300 periods); see :meth:`BetaGeoBetaBinom.expected_time_to_next_purchase`."""
    half = np.log(0.5)

    def waits_beyond(w: FloatArray) -> FloatArray:
        """log P(W > w), falling from 0 at w = 0 towards -inf."""
        return np.asarray(special.betaln(a, b + w) - special.betaln(a, b))

    # Bracket the median by doubling (past 1e300 periods it is taken as infinite), bisect
    # on log w, then settle on the whole number with P(W > w-1) > 1/2 >= P(W > w).
    high = np.ones(len(a))
    while True:
        short = (waits_beyond(high) > half) & (high < 1e300)
        if not short.any():
            break
        high = np.where(short, 2.0 * high, high)
    low, top = np.log(high / 2.0), np.log(high)
    for _ in range(64):
        mid = 0.5 * (low + top)
        above = waits_beyond(np.exp(mid)) > half
        low, top = np.where(above, mid, low), np.where(above, top, mid)
    median = np.maximum(np.ceil(np.exp(top)), 1.0)
    median = np.where(waits_beyond(median) > half, median + 1.0, median)
    earlier = np.maximum(median - 1.0, 1.0)
    median = np.where((median > 1.0) & (waits_beyond(earlier) <= half), earlier, median)
    median = np.where(waits_beyond(high) > half, np.inf, median)
    return np.asarray(median, dtype=np.float64)


def _log_binom(n: FloatArray | np.float64, k: FloatArray) -> FloatArray:
    """log C(n, k) for whole 0 <= k <= n."""
    return np.asarray(
        special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
    )

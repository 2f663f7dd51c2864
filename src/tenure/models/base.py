"""The estimator contract shared by every customer-lifetime model (scikit-learn's; docs/models.md,
"The estimator contract").

``__init__`` only stores its arguments; ``fit`` returns ``self`` and forgets any earlier fit;
learned state ends in ``_``; no training data is kept, so a fitted model pickles small.

Fitting is maximum likelihood in log-parameter space with an analytic gradient: L-BFGS-B
from a data-based start, then up to a few Newton steps on a finite-difference Hessian (of
the analytic gradient) to polish the optimum. The objective is the weighted mean negative
log-likelihood per customer plus ``penalizer * sum(params ** 2)`` (the convention of the
``lifetimes`` package, so the same penalizer means the same thing).

Standard errors come from the inverse Hessian of the (penalised) negative log-likelihood at
the optimum, taken in log-parameters and carried to the parameters by the delta method
(``se(p) = p * se(log p)``). The 95% interval is the Wald interval of ``log p``,
exponentiated: ``p * exp(+-1.96 se(log p))``; it stays positive and is asymmetric, as the
likelihood of a positive parameter is.

A subclass sets ``_param_names`` and implements ``_neg_log_likelihood`` (sum over rows of
``-weight * log-likelihood`` and its gradient with respect to the log-parameters) and
``_initial_log_params``; its ``fit`` validates and compresses the data and calls ``_fit``.

**Boundary fits.** A model with drop-out (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) contains the
model without it (the NBD; for BG/BB the beta-binomial) as the limit where the drop-out
shape parameter (``a``, ``s``, ``gamma``) goes to 0. When no drop-out is visible in the data
the maximum likelihood lies on that boundary: the search runs to the edge, or stops where the
likelihood is flat, and the drop-out parameters are not identified, but the predictions are.
The subclass then passes a :class:`Boundary` to ``_fit``: if the search fails, or converges
with the drop-out parameters unidentified in effect (:data:`WEAK_DROPOUT`), the nested model
is fitted; when it is identified, fits as well (likelihood ratio below :data:`LR_LIMIT`) and
the full model's predictions where its search ended are its own (:data:`SAME_PREDICTIONS`),
it is the fit: ``boundary_`` is True, ``nested_`` holds the fitted nested model, ``params_``
the drop-out shape at 0 and its partner NaN (not identified), and every prediction comes from
``nested_`` (P(alive) = 1). Otherwise a failed search's error stands, saying why there is no
boundary fit either (e.g. which predictions are undetermined), and a converged one is kept.
An interior fit has ``boundary_`` False and ``nested_`` None.

Gamma-Gamma uses the same mechanism on the spend side: its nested model is spend without
heterogeneity between customers (``q, gamma -> infinity`` with ``gamma / q = 1 / nu``), its
boundary values are ``q = gamma = inf``, and it compares expected spend, not purchases
(:meth:`BaseFitter._predictions_differ`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import ThreadpoolController

from tenure.models.errors import ConvergenceError, ModelError, NotFittedError
from tenure.models.inputs import FloatArray, check_scalar

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

#: Whatever a model's likelihood needs, prepared once per fit (arrays; indices allowed).
Data = tuple[NDArray[Any], ...]

#: log-parameters are kept inside [-_LOG_BOUND, _LOG_BOUND] (about 2e-9 .. 5e8).
_LOG_BOUND = 20.0
#: Two-sided 95% normal quantile.
_Z95 = 1.959963984540054
#: Made by the first :func:`one_blas_thread` (finding the loaded BLAS libraries takes ms).
_controller: ThreadpoolController | None = None
#: The boundary fit is taken only when the full model's best point found is not better than
#: the nested model by more than this likelihood ratio (chi-square, 1 df, 95%: 3.84).
LR_LIMIT = 3.841458820694124
#: ... and when its predictions there are the nested model's: the total expected purchases
#: within this relative difference, and the mean P(alive) at least ``1 -`` it. 5% is well
#: inside what a holdout forecast misses by (the backtest asks for 10%); a flat direction that
#: moves the predictions more leaves them undetermined.
SAME_PREDICTIONS = 0.05
#: An interior optimum whose drop-out parameters have a standard error of their log above
#: this (a 95% interval spanning a factor of more than 2,500) is also tried against the
#: boundary: the drop-out is not identified in effect.
WEAK_DROPOUT = 2.0


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS (OpenBLAS, MKL) runs on one thread, restored on exit.

    The models' BLAS work is tiny (L-BFGS-B on 3-5 parameters, 4 x 4 solves, dot products),
    and a multi-threaded BLAS makes its threads spin on busy cores: a CDNOW fit took 0.18 s
    with OpenBLAS's default threads on a loaded 2-core machine and 0.0044 s on one.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


class PurchaseModel(Protocol):
    """What a purchase-count model offers to CLV (BetaGeo, ModifiedBetaGeo, ParetoNBD)."""

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] for each customer given their history."""
        ...


@dataclass(frozen=True)
class Boundary:
    """What a model with drop-out needs to fall back to its nested model without drop-out.

    ``fit_nested`` fits the nested model (with the model's own settings) on the same data;
    ``patterns`` are the compressed ``(frequency, recency, T)`` (or ``n_periods``; Gamma-Gamma:
    ``(frequency, monetary)``) with their ``weights``, on which the two models' predictions are
    compared (:meth:`BaseFitter._predictions_differ`).
    """

    fit_nested: Callable[[], BaseFitter]
    patterns: tuple[FloatArray, ...]
    weights: FloatArray


class BaseFitter(ABC):
    """Maximum-likelihood fitter with the scikit-learn conventions (docs/models.md)."""

    _param_names: ClassVar[tuple[str, ...]]
    #: Models with drop-out: (the shape parameter that is 0 without drop-out, its partner,
    #: which is then not identified), and the nested model's name ("the NBD").
    _dropout: ClassVar[tuple[str, str] | None] = None
    _nested_name: ClassVar[str] = ""
    #: What the nested model is without (in messages), the values of the two ``_dropout``
    #: parameters in ``params_`` of a boundary fit, and the summary's notes on them ("" for
    #: :func:`fit_note`'s default).
    _without: ClassVar[str] = "drop-out"
    _boundary_at: ClassVar[tuple[float, float]] = (0.0, np.nan)
    _boundary_notes: ClassVar[tuple[str, str]] = ("", "not identified (no dropout)")
    #: How to rescale the data when the search fails (part of the ConvergenceError hint).
    _rescale_hint: ClassVar[str] = (
        "rescale time (weeks instead of days, so that T is in the tens or hundreds)"
    )

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- scikit-learn conventions ------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        return {"penalizer": self.penalizer, "tol": self.tol, "max_iter": self.max_iter}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        name = type(self).__name__
        check_scalar(name, "penalizer", self.penalizer, float, 0.0)
        check_scalar(name, "tol", self.tol, float, 0.0, low_open=True)
        check_scalar(name, "max_iter", self.max_iter, int, 1)

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this model."
            )

    def _forget(self) -> None:
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, key)

    # -- what a model provides ----------------------------------------------------------

    @abstractmethod
    def _neg_log_likelihood(
        self, log_params: FloatArray, data: Data, weights: FloatArray
    ) -> tuple[float, FloatArray]:
        """``-sum(weights * loglik)`` and its gradient with respect to ``log_params``."""

    @abstractmethod
    def _initial_log_params(self, data: Data, weights: FloatArray) -> FloatArray:
        """A starting point for the optimiser."""

    # -- fitting -----------------------------------------------------------------------

    def _penalised(
        self, log_params: FloatArray, neg_ll: float, grad: FloatArray, total: float
    ) -> tuple[float, FloatArray]:
        """The objective (mean penalised negative log-likelihood) and its gradient."""
        params = np.exp(log_params)
        value = neg_ll / total + self.penalizer * float(np.sum(params**2))
        grad = grad / total + 2.0 * self.penalizer * params**2
        if not np.isfinite(value):
            return np.inf, np.zeros_like(log_params)
        return value, grad

    def _fit(self, data: Data, weights: FloatArray, boundary: Boundary | None = None) -> None:
        """Maximise the likelihood of compressed ``data`` and set the learned attributes.

        With ``boundary``, a search that fails (runs to the edge, or ends where the
        likelihood is flat) or leaves the drop-out unidentified in effect falls back to the
        nested model when that is the maximum (:meth:`_try_boundary`)."""
        self._validate_params()
        self._forget()
        from scipy import optimize  # ~0.1 s to import: only when fitting

        with one_blas_thread():
            objective = _Objective(self, data, weights)
            x0 = np.clip(self._initial_log_params(data, weights), -5.0, 5.0)
            result = optimize.minimize(
                objective,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(x0),
                options={"maxiter": self.max_iter, "ftol": 1e-15, "gtol": self.tol},
            )
            log_params, hessian = self._polish(objective, result.x)
            total = objective.total
            neg_ll = objective.neg_ll(log_params)
            try:
                self._check_converged(objective, log_params, result)
                self._check_identified(hessian * total)
            except ConvergenceError as exc:
                if boundary is None:
                    raise
                nested, why_not = self._try_boundary(boundary, log_params, -neg_ll)
                if nested is None:
                    raise ConvergenceError(f"{exc.message} {why_not}", hint=exc.hint) from exc
                self._set_boundary(nested)
                return
            if boundary is not None and self._weak_dropout(log_params, hessian * total):
                nested, _ = self._try_boundary(boundary, log_params, -neg_ll)
                if nested is not None:
                    self._set_boundary(nested)
                    return
            self._set_results(log_params, hessian * total, neg_ll, total)
        if self._dropout is not None:  # models with drop-out say whether it is a boundary fit
            self.boundary_ = False
            self.nested_: BaseFitter | None = None

    def _weak_dropout(self, log_params: FloatArray, hessian: FloatArray) -> bool:
        """Whether an interior optimum leaves the drop-out parameters unidentified in effect:
        the standard error of the log of either is above :data:`WEAK_DROPOUT` (Gamma-Gamma
        adds its own rule on ``log_params``)."""
        assert self._dropout is not None
        try:
            variances = np.diag(np.linalg.inv(hessian))
        except np.linalg.LinAlgError:
            return True
        where = [self._param_names.index(name) for name in self._dropout]
        return bool(np.any(~(variances[where] <= WEAK_DROPOUT**2)))

    def _try_boundary(
        self, boundary: Boundary, log_params: FloatArray, ll: float
    ) -> tuple[BaseFitter | None, str]:
        """The fitted nested model when it is the maximum, else None and why not.

        ``ll`` is the full model's log-likelihood where the search ended. The nested model is
        the maximum when its own parameters are identified (standard errors of their logs at
        most WEAK_DROPOUT), it fits as well (likelihood ratio ``2 (ll - nested) <= LR_LIMIT``)
        and the full model predicts there what it predicts (:meth:`_predictions_differ`: total
        expected purchases over the longest T within SAME_PREDICTIONS, mean P(alive) >= 1 -
        SAME_PREDICTIONS; Gamma-Gamma: every customer's expected spend within it)."""
        try:
            nested = boundary.fit_nested()
        except ModelError as exc:
            return (
                None,
                f"Without {self._without} ({self._nested_name}) it cannot be fitted either: "
                f"{exc.message}",
            )
        se_log = nested.standard_errors_ / nested.params_
        loose = [str(k) for k, v in se_log.items() if not v <= WEAK_DROPOUT]
        if loose:
            return None, (
                f"Without {self._without} ({self._nested_name}) the data do not pin down "
                f"{', '.join(loose)} either, so there is no boundary fit."
            )
        ratio = 2.0 * (ll - float(nested.log_likelihood_))
        if ratio > LR_LIMIT:
            return None, (
                f"The model without {self._without} ({self._nested_name}) fits worse "
                f"(likelihood ratio {ratio:.3g}): {self._without} is visible in the data, so "
                "there is no boundary fit."
            )
        differ = self._predictions_differ(log_params, nested, boundary)
        return (None, differ) if differ else (nested, "")

    def _predictions_differ(
        self, log_params: FloatArray, nested: BaseFitter, boundary: Boundary
    ) -> str:
        """Why the full model at ``log_params`` does not predict what ``nested`` does ("" when
        it does): over the longest T of the data, the customers' total expected purchases
        differ by more than SAME_PREDICTIONS, or their mean P(alive) is below 1 minus it."""
        horizon, full, bare, alive = self._compare_predictions(log_params, nested, boundary)
        if abs(full - bare) > SAME_PREDICTIONS * max(bare, 1e-12) or alive < 1 - SAME_PREDICTIONS:
            return (
                f"The predictions are not determined either: over the next {horizon:g} time "
                f"units these customers' expected purchases total {full:,.1f} where the search "
                f"ended (mean P(alive) {alive:.3f}) and {bare:,.1f} without drop-out "
                f"({self._nested_name}); the data cannot tell which."
            )
        return ""

    def _compare_predictions(
        self, log_params: FloatArray, nested: BaseFitter, boundary: Boundary
    ) -> tuple[float, float, float, float]:
        """(horizon, total expected purchases of the full model at ``log_params``, of the
        nested model, mean P(alive) of the full model) over the longest T of the data."""
        x, t_x, age = boundary.patterns
        w = boundary.weights
        horizon = float(np.max(age)) if len(age) else 1.0
        self.params_ = pd.Series(np.exp(log_params), index=list(self._param_names))
        self.nested_ = None
        model: Any = self  # a purchase model (the classes with drop-out all are)
        try:
            full = float(w @ np.asarray(model.conditional_expected_purchases(horizon, x, t_x, age)))
            alive = float(w @ np.asarray(model.p_alive(x, t_x, age))) / float(np.sum(w))
        finally:
            self._forget()
        bare_model: Any = nested
        bare = float(
            w @ np.asarray(bare_model.conditional_expected_purchases(horizon, x, t_x, age))
        )
        return horizon, full, bare, alive

    def _set_boundary(self, nested: Any) -> None:
        """The learned attributes of a boundary fit: the nested model's (those of its
        parameters the full model has), the drop-out shape at 0 and its partner NaN
        (:attr:`_boundary_at`)."""
        assert self._dropout is not None
        names = list(self._param_names)
        params = pd.Series(np.nan, index=names, name="coef")
        errors = pd.Series(np.nan, index=names, name="se")
        kept = [k for k in nested.params_.index if k in names]
        params[kept] = nested.params_[kept].to_numpy()
        errors[kept] = nested.standard_errors_[kept].to_numpy()
        where = [names.index(k) for k in kept]
        cov = np.full((len(names), len(names)), np.nan)
        cov[np.ix_(where, where)] = nested.covariance_.loc[kept, kept].to_numpy()
        covariance = pd.DataFrame(cov, index=names, columns=names)
        params[list(self._dropout)] = np.array(self._boundary_at)
        self.params_, self.standard_errors_, self.covariance_ = params, errors, covariance
        self.log_likelihood_ = nested.log_likelihood_
        self.n_customers_ = nested.n_customers_
        self.aic_, self.bic_ = nested.aic_, nested.bic_
        self.boundary_ = True
        self.nested_ = nested

    def _hessian(self, objective: _Objective, log_params: FloatArray) -> FloatArray:
        """Central differences of the analytic gradient (of the mean objective)."""
        k = len(log_params)
        step = 1e-5
        hess = np.empty((k, k))
        for i in range(k):
            shift = np.zeros(k)
            shift[i] = step
            up = objective(log_params + shift)[1]
            down = objective(log_params - shift)[1]
            hess[i] = (up - down) / (2.0 * step)
        return (hess + hess.T) / 2.0

    def _polish(
        self, objective: _Objective, log_params: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """A few damped Newton steps from the L-BFGS-B answer; returns point and Hessian."""
        value, grad = objective(log_params)
        hessian = self._hessian(objective, log_params)
        for _ in range(5):
            if np.max(np.abs(grad)) <= self.tol:
                break
            try:
                step = -np.linalg.solve(hessian, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or grad @ step >= 0:
                break
            candidate = np.clip(log_params + step, -_LOG_BOUND, _LOG_BOUND)
            new_value, new_grad = objective(candidate)
            if not new_value <= value:
                break
            log_params, value, grad = candidate, new_value, new_grad
            hessian = self._hessian(objective, log_params)
        return log_params, hessian

    def _check_converged(
        self, objective: _Objective, log_params: FloatArray, result: OptimizeResult
    ) -> None:
        name = type(self).__name__
        hint = self._convergence_hint()
        value, grad = objective(log_params)
        at_edge = np.abs(log_params) >= _LOG_BOUND - 1e-3
        if at_edge.any():
            names = [n for n, e in zip(self._param_names, at_edge, strict=True) if e]
            raise ConvergenceError(
                f"{name} did not converge: {', '.join(names)} ran to the edge of the search "
                f"space (exp(+-{_LOG_BOUND:g})); the data carry no information to pin it down.",
                hint=hint,
            )
        gmax = float(np.max(np.abs(grad)))
        if not np.isfinite(value) or gmax > max(np.sqrt(self.tol), 1e-5):
            raise ConvergenceError(
                f"{name} did not converge after {result.nit} iterations "
                f"({result.message}); the largest gradient component is {gmax:.3g}, "
                f"the log-likelihood per customer {-value:.6g}.",
                hint=hint,
            )

    def _convergence_hint(self) -> str:
        name = type(self).__name__
        more = f"{name}(penalizer={10 * self.penalizer:g})" if self.penalizer else ""
        penalizer = more or f"{name}(penalizer=0.001)"
        return (
            f"Try {penalizer} (or larger) to keep the parameters finite, {self._rescale_hint}, "
            f"or raise max_iter (now {self.max_iter})."
        )

    def _check_identified(self, hessian: FloatArray) -> None:
        """Raise ConvergenceError if the log-likelihood is flat along some direction.

        An eigenvalue of the Hessian (in log-parameters) below 1e-8 of the largest means a
        standard error of that combination more than 1e4 times the best-determined one:
        the data cannot tell the parameters apart, and the numbers would be noise.
        """
        values, vectors = np.linalg.eigh(hessian)
        if values[0] > 1e-8 * max(values[-1], 1e-300):
            return
        loading = np.abs(vectors[:, 0])
        names = [n for n, v in zip(self._param_names, loading, strict=True) if v > 0.3]
        raise ConvergenceError(
            f"{type(self).__name__}: the data do not pin down {', '.join(names)}; the "
            "log-likelihood is flat along that direction at the optimum (too few customers, "
            "or too few repeat purchases, to estimate every parameter).",
            hint=self._convergence_hint(),
        )

    def _set_results(
        self, log_params: FloatArray, hessian: FloatArray, neg_ll: float, n: float
    ) -> None:
        names = list(self._param_names)
        params = np.exp(log_params)
        cov_log = np.linalg.inv(hessian)
        k = len(names)
        self.params_ = pd.Series(params, index=names, name="coef")
        self.covariance_ = pd.DataFrame(cov_log * np.outer(params, params), names, names)
        self.standard_errors_ = pd.Series(
            params * np.sqrt(np.diag(cov_log)), index=names, name="se"
        )
        self.log_likelihood_ = -float(neg_ll)
        self.n_customers_ = int(n) if float(n).is_integer() else n
        self.aic_ = 2.0 * k - 2.0 * self.log_likelihood_
        self.bic_ = k * float(np.log(n)) - 2.0 * self.log_likelihood_

    # -- reporting -----------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """One row per parameter: coef, se, lower 95%, upper 95% (log-scale Wald interval).

        A boundary fit adds a ``note`` column: the drop-out shape reads "no dropout (boundary
        fit: the NBD)" (coef 0, no standard error), its partner "not identified" (NaN); the
        other parameters are the nested model's, with its standard errors, followed by those
        of its parameters the full model does not have (Gamma-Gamma's ``nu``)."""
        self._check_is_fitted()
        coef = self.params_
        se_log = self.standard_errors_ / coef
        table = pd.DataFrame(
            {
                "coef": coef,
                "se": self.standard_errors_,
                "lower 95%": coef * np.exp(-_Z95 * se_log),
                "upper 95%": coef * np.exp(_Z95 * se_log),
            }
        )
        if self._dropout is not None and getattr(self, "boundary_", False):
            shape, partner = self._dropout
            table["note"] = ""
            table.loc[shape, "note"] = fit_note(self)
            table.loc[partner, "note"] = self._boundary_notes[1]
            nested = self._nested_model().summary()
            extra = nested.loc[[k not in table.index for k in nested.index]]
            table = pd.concat([table, extra.assign(note="")])
        return table

    def _nested_model(self) -> Any:
        """The fitted nested model of a boundary fit (None for an interior fit); raises
        NotFittedError before a fit."""
        self._check_is_fitted()
        return getattr(self, "nested_", None)

    def _param_values(self) -> tuple[float, ...]:
        self._check_is_fitted()
        return tuple(float(self.params_[n]) for n in self._param_names)


class _Objective:
    """A fit's objective, remembering every point it was evaluated at (the optimiser's last
    point is evaluated again by the polish, the convergence check and the results)."""

    def __init__(self, model: BaseFitter, data: Data, weights: FloatArray) -> None:
        self.model, self.data, self.weights = model, data, weights
        self.total = float(np.sum(weights))
        self._seen: dict[bytes, tuple[float, float, FloatArray]] = {}

    def _evaluate(self, log_params: FloatArray) -> tuple[float, float, FloatArray]:
        key = np.asarray(log_params, dtype=np.float64).tobytes()
        if key not in self._seen:
            neg_ll, grad = self.model._neg_log_likelihood(log_params, self.data, self.weights)
            value, penalised = self.model._penalised(log_params, neg_ll, grad, self.total)
            self._seen[key] = (float(neg_ll), value, penalised)
        return self._seen[key]

    def __call__(self, log_params: FloatArray) -> tuple[float, FloatArray]:
        """The mean penalised negative log-likelihood and its gradient (a copy)."""
        _, value, grad = self._evaluate(log_params)
        return value, grad.copy()

    def neg_ll(self, log_params: FloatArray) -> float:
        """``-sum(weights * loglik)`` (unpenalised)."""
        return self._evaluate(log_params)[0]


def as_params(values: NDArray[np.float64]) -> tuple[float, ...]:
    """Unpack exp(log-parameters) into floats."""
    return tuple(float(v) for v in np.exp(values))


def reported_params(model: BaseFitter) -> dict[str, float]:
    """A fitted model's parameters as floats, without the ones a boundary fit leaves
    unidentified or infinite (NaN, inf) and with its nested model's parameters the full
    model does not have (Gamma-Gamma's ``nu``): what the backtest and ``tenure predict``
    report and record."""
    params = {str(k): float(v) for k, v in model.params_.items() if np.isfinite(v)}
    nested = getattr(model, "nested_", None)
    if nested is not None:
        params.update({str(k): float(v) for k, v in nested.params_.items() if k not in params})
    return params


def fit_note(model: BaseFitter) -> str:
    """The note on a boundary fit, "no dropout (boundary fit: the NBD)" (or the
    beta-binomial; Gamma-Gamma: "no heterogeneity in spend (boundary fit)"); an empty
    string for any other fit."""
    if not getattr(model, "boundary_", False):
        return ""
    return model._boundary_notes[0] or f"no dropout (boundary fit: {model._nested_name})"

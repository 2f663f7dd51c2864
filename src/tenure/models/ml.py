"""Gradient-boosted CLV: next-``horizon`` margin per buyer from their facts (scikit-learn).

The model is scikit-learn's ``HistGradientBoostingRegressor`` on the features of
:mod:`tenure.predictions.features` (RFM numbers, orders, revenue, margin, tenure, recency, gap
statistics, first order value, trailing 90/365-day margin and orders; acquisition channel and
first category as native categorical features). It is trained on a past window: features as
of ``cutoff - horizon``, target the margin of ``(cutoff - horizon, cutoff]``
(:func:`~tenure.predictions.features.training_frame`), then applied to the features as of the
cutoff. With the default Poisson loss (log link) predictions are never negative and their
total matches the training total; targets below 0 (net refunds) are counted as 0.

Unlike the buy-till-you-die models it needs one row per buyer, so training and scoring on a
store (:mod:`tenure.predictions.boosted`) pull the feature table of every buyer into memory
(a few hundred bytes per buyer). This module never imports the store.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from tenure.errors import ConfigError
from tenure.models.errors import ModelDataError, NotFittedError
from tenure.models.inputs import FloatArray, as_float_array, check_scalar, fail_rows

#: Numeric features, in model order (``customer_facts`` columns and trailing windows).
NUMERIC_FEATURES: tuple[str, ...] = (
    "frequency",
    "recency_days",
    "T_days",
    "days_since_last_order",
    "orders",
    "revenue",
    "margin",
    "aov",
    "monetary",
    "gap_mean",
    "gap_median",
    "gap_std",
    "first_order_value",
    "margin_90d",
    "margin_365d",
    "orders_90d",
    "orders_365d",
)
#: Categorical features (strings; an unseen value is treated as missing).
CATEGORICAL_FEATURES: tuple[str, ...] = ("acquisition_channel", "first_category")

LOSSES = ("poisson", "squared_error", "absolute_error")


#: The one level of a categorical feature that no training row knows.
UNKNOWN_LEVEL = "(unknown)"


class GradientBoostingCLV:
    """Next-``horizon_days`` margin per buyer, by gradient boosting on their facts.

    Parameters: ``horizon_days`` (the window the target covers; informs
    :func:`train_on_store`), ``loss`` (``poisson``, ``squared_error`` or ``absolute_error``),
    ``learning_rate``, ``max_iter`` (boosting rounds), ``max_leaf_nodes``,
    ``min_samples_leaf``, ``l2_regularization``, ``random_state`` (seed of the ties
    scikit-learn breaks at random; with early stopping off the fit is deterministic anyway),
    ``n_threads`` (OpenMP threads of fit and predict; 1 by default: on a busy 2-core machine
    OpenMP's spinning threads made a 1,700-row fit take 35 s instead of 0.8 s).
    Learned: ``estimator_`` (the fitted regressor: trees and bin edges, no training rows),
    ``feature_names_in_``, ``categories_`` (the levels of each categorical feature seen in
    training), ``n_customers_``, ``target_mean_``.
    """

    def __init__(
        self,
        horizon_days: int = 365,
        loss: str = "poisson",
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        l2_regularization: float = 0.0,
        random_state: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.horizon_days = horizon_days
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.n_threads = n_threads

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        names = (
            "horizon_days",
            "loss",
            "learning_rate",
            "max_iter",
            "max_leaf_nodes",
            "min_samples_leaf",
            "l2_regularization",
            "random_state",
            "n_threads",
        )
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def validate_params(self) -> None:
        name = type(self).__name__
        check_scalar(name, "horizon_days", self.horizon_days, int, 1)
        check_scalar(name, "learning_rate", self.learning_rate, float, 0.0, low_open=True)
        check_scalar(name, "max_iter", self.max_iter, int, 1)
        check_scalar(name, "max_leaf_nodes", self.max_leaf_nodes, int, 2)
        check_scalar(name, "min_samples_leaf", self.min_samples_leaf, int, 1)
        check_scalar(name, "l2_regularization", self.l2_regularization, float, 0.0)
        check_scalar(name, "random_state", self.random_state, int, 0)
        check_scalar(name, "n_threads", self.n_threads, int, 1)
        if self.loss not in LOSSES:
            raise ConfigError(
                f"The 'loss' parameter of {name} must be a str among {list(LOSSES)}. "
                f"Got {self.loss!r} instead."
            )

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this model."
            )

    def _design(self, features: pd.DataFrame, owner: str) -> pd.DataFrame:
        """The model matrix: numeric columns as float, categorical ones with fixed levels."""
        expected = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]
        missing = [c for c in expected if c not in features.columns]
        if missing:
            raise ModelDataError(
                f"{owner}: the features lack {len(missing)} column(s): {', '.join(missing)}.",
                hint="Build them with tenure.predictions.features.feature_table (or "
                "training_frame / scoring_frame).",
            )
        design = features[expected].copy()
        for column in NUMERIC_FEATURES:
            design[column] = pd.to_numeric(design[column], errors="coerce").astype("float64")
        levels = getattr(self, "categories_", None)
        for column in CATEGORICAL_FEATURES:
            values = design[column].astype(object).where(design[column].notna(), None)
            known = levels[column] if levels else sorted(values.dropna().unique().tolist())
            if not known:  # no level at all (e.g. no order lines): one level for "unknown"
                known = [UNKNOWN_LEVEL]
            if known == [UNKNOWN_LEVEL]:
                values = values.where(values.notna(), UNKNOWN_LEVEL)
            design[column] = pd.Categorical(values, categories=known)
        return design

    def fit(self, features: pd.DataFrame, target: ArrayLike) -> Self:
        """Fit on one row per buyer: ``features`` (the columns of
        :data:`~tenure.predictions.features.NUMERIC_FEATURES` and ``CATEGORICAL_FEATURES``) and
        ``target``, the margin of the following ``horizon_days`` (negative values count as 0)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.validate_params()
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, key)
        owner = f"{type(self).__name__}.fit"
        y = as_float_array(owner, "target", target)
        fail_rows(
            owner,
            ~np.isfinite(y),
            np.arange(len(y)),
            "have a missing or infinite target",
            hint="The target is the margin of the window after the features' date; 0 when "
            "the customer did not buy.",
        )
        if len(y) != len(features) or len(y) < 2:
            raise ModelDataError(
                f"{owner}: need one target per feature row and at least 2 rows; got "
                f"{len(features)} feature rows and {len(y)} targets."
            )
        clipped = np.maximum(y, 0.0)
        if self.loss == "poisson" and not clipped.sum() > 0:
            raise ModelDataError(
                f"{owner}: none of the {len(y)} customers has a positive target, so the "
                "Poisson loss has nothing to fit.",
                hint="Train on a window in which customers bought, or use loss='squared_error'.",
            )
        design = self._design(features, owner)
        for column in NUMERIC_FEATURES:  # a feature never known (all missing) carries nothing;
            if design[column].isna().all():  # scikit-learn cannot bin a column with no value
                design[column] = 0.0
        categories = {c: list(design[c].cat.categories) for c in CATEGORICAL_FEATURES}
        estimator = HistGradientBoostingRegressor(
            loss=self.loss,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features="from_dtype",
            early_stopping=False,
            random_state=self.random_state,
        )
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self.estimator_ = estimator.fit(design, clipped)
        self.feature_names_in_ = list(design.columns)
        self.categories_ = categories
        self.n_customers_ = len(y)
        self.target_mean_ = float(clipped.mean())
        return self

    def predict(self, features: pd.DataFrame) -> FloatArray:
        """Expected margin of the next ``horizon_days`` per row of ``features`` (>= 0)."""
        self._check_is_fitted()
        design = self._design(features, f"{type(self).__name__}.predict")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            values = np.asarray(self.estimator_.predict(design), dtype=np.float64)
        return np.maximum(values, 0.0)

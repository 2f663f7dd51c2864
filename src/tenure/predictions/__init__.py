"""Predictions on a store: the store-aware work around the estimators of :mod:`tenure.models`.

``features.py`` the per-buyer features; ``holdout.py`` calibration/holdout frames and the data
floor; ``scoring.py`` pattern compression in the engine and scoring; ``boosted.py`` the
gradient-boosted model on a store; ``backtest.py`` + ``charts.py`` backtests and the chosen
model; ``predict.py`` the ``customer_predictions`` table; ``results.py`` reading it (every
person, the top N) and the recorded backtests, as DataFrames (docs/python-api.md).
"""

from __future__ import annotations

from tenure.predictions.backtest import BacktestResult, backtest, chosen_model
from tenure.predictions.holdout import data_sufficiency
from tenure.predictions.predict import PredictResult, predict
from tenure.predictions.results import customer_predictions, model_runs, top_customers

__all__ = [
    "BacktestResult",
    "PredictResult",
    "backtest",
    "chosen_model",
    "customer_predictions",
    "data_sufficiency",
    "model_runs",
    "predict",
    "top_customers",
]

"""Predictions on a store: the store-aware work around the estimators of :mod:`tenure.models`.

``features.py`` the per-buyer features; ``holdout.py`` calibration/holdout frames and the data
floor; ``scoring.py`` pattern compression in the engine and scoring; ``boosted.py`` the
gradient-boosted model on a store; ``backtest.py`` + ``charts.py`` backtests and the chosen
model, ``runs.py`` the recorded runs; ``predict.py`` the ``customer_predictions`` table (the
pipeline's step: ``tenure.pipeline.predict``); ``results.py`` reading it (every person, the
top N) as DataFrames (docs/python-api.md).
"""

from __future__ import annotations

from tenure.predictions.backtest import backtest
from tenure.predictions.holdout import data_sufficiency
from tenure.predictions.predict import PredictResult
from tenure.predictions.results import customer_predictions, top_customers
from tenure.predictions.runs import BacktestResult, chosen_model, model_runs

__all__ = [
    "BacktestResult",
    "PredictResult",
    "backtest",
    "chosen_model",
    "customer_predictions",
    "data_sufficiency",
    "model_runs",
    "top_customers",
]

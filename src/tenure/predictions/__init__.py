"""Predictions on a store: the store-aware work around the estimators of :mod:`tenure.models`.

``features.py`` the per-buyer features; ``holdout.py`` calibration/holdout frames and the data
floor; ``scoring.py`` pattern compression in the engine and scoring; ``boosted.py`` the
gradient-boosted model on a store; ``backtest.py`` + ``charts.py`` backtests and the chosen
model; ``predict.py`` the ``customer_predictions`` table.
"""

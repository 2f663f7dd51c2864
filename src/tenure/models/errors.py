"""Errors raised by the customer-lifetime models.

All derive from :class:`tenure.errors.TenureError` and are terminal: fitting the same data
with the same settings fails the same way. A bad hyperparameter (a negative ``penalizer``,
a discount rate of -1) raises the shared :class:`tenure.errors.ConfigError`.
"""

from __future__ import annotations

from tenure.errors import TerminalError


class ModelError(TerminalError):
    """A model cannot be fitted or used as asked."""


class ModelDataError(ModelError):
    """The data given to a model break one of its assumptions; the message names the rows."""


class NotFittedError(ModelError):
    """A prediction or summary was asked of a model that has not been fitted."""


class ConvergenceError(ModelError):
    """The maximum-likelihood search did not reach an interior optimum."""

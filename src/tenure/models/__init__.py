"""Customer-lifetime models: purchase counts (BG/NBD family), spend (Gamma-Gamma) and CLV.

Every model follows the estimator contract of STYLE.md: ``Model(penalizer=..., ...)``,
``fit(...)`` returns the model, learned state ends in ``_``, ``summary()`` gives the table.
"""

from __future__ import annotations

from tenure.models.base import BaseFitter, PurchaseModel
from tenure.models.errors import ConvergenceError, ModelDataError, ModelError, NotFittedError

__all__ = [
    "BaseFitter",
    "ConvergenceError",
    "ModelDataError",
    "ModelError",
    "NotFittedError",
    "PurchaseModel",
]

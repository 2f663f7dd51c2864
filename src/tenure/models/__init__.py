"""Customer-lifetime models: purchase counts (BG/NBD family), spend (Gamma-Gamma) and CLV.

Every model follows the estimator contract (docs/models.md, "The estimator contract"):
``Model(penalizer=..., ...)``, ``fit(...)`` returns the model, learned state ends in ``_``,
``summary()`` gives the table.
"""

from __future__ import annotations

from tenure.models.base import BaseFitter, PurchaseModel
from tenure.models.beta_geo import BetaGeo, ModifiedBetaGeo
from tenure.models.bgbb import BetaBinomial, BetaGeoBetaBinom
from tenure.models.errors import ConvergenceError, ModelDataError, ModelError, NotFittedError
from tenure.models.gamma_gamma import GammaGamma
from tenure.models.nbd import NBD
from tenure.models.pareto_nbd import ParetoNBD

__all__ = [
    "NBD",
    "BaseFitter",
    "BetaBinomial",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "ConvergenceError",
    "GammaGamma",
    "ModelDataError",
    "ModelError",
    "ModifiedBetaGeo",
    "NotFittedError",
    "ParetoNBD",
    "PurchaseModel",
]

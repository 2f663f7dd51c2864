"""A fitted model as plain JSON-ready data, and back: what a store keeps to score again
without fitting (``prediction_fits``), with no code in it (unlike a pickle, reading a state
can only build one of the estimators listed here).

The state holds the constructor parameters (``get_params()``) and every learned attribute
(names ending in ``_``): numbers, strings, booleans, parameter Series, covariance frames and
nested fitted models (a boundary fit's ``nested_``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tenure.models.base import BaseFitter
from tenure.models.beta_geo import BetaGeo, ModifiedBetaGeo
from tenure.models.bgbb import BetaBinomial, BetaGeoBetaBinom
from tenure.models.errors import ModelError
from tenure.models.gamma_gamma import GammaGamma, GammaSpend
from tenure.models.nbd import NBD
from tenure.models.pareto_nbd import ParetoNBD

#: The estimators a state can name (nothing else is ever built from a state).
ESTIMATORS: dict[str, type[BaseFitter]] = {
    cls.__name__: cls
    for cls in (
        BetaGeo,
        ModifiedBetaGeo,
        ParetoNBD,
        NBD,
        BetaGeoBetaBinom,
        BetaBinomial,
        GammaGamma,
        GammaSpend,
    )
}


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # JSON has no nan/inf


def _encode(value: Any) -> Any:
    if isinstance(value, BaseFitter):
        return {"model": model_state(value)}
    if isinstance(value, pd.Series):
        return {"series": {str(k): _number(float(v)) for k, v in value.items()}}
    if isinstance(value, pd.DataFrame):
        return {"frame": {str(c): _encode(value[c])["series"] for c in value.columns}}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return {"float": _number(value)}
    raise ModelError(f"model_state: cannot keep a learned value of type {type(value).__name__}.")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "model" in value:
        return model_from_state(value["model"])
    if "series" in value:
        return pd.Series({k: float(v) for k, v in value["series"].items()}, dtype="float64")
    if "frame" in value:
        return pd.DataFrame({c: _decode({"series": s}) for c, s in value["frame"].items()})
    return float(value["float"])


def model_state(model: BaseFitter) -> dict[str, Any]:
    """The fitted ``model`` as JSON-ready data (:func:`model_from_state` reads it back)."""
    name = type(model).__name__
    if ESTIMATORS.get(name) is not type(model):
        raise ModelError(f"model_state: {name} is not one of {', '.join(ESTIMATORS)}.")
    learned = {k: _encode(v) for k, v in vars(model).items() if k.endswith("_")}
    return {"estimator": name, "params": model.get_params(), "learned": learned}


def model_from_state(state: dict[str, Any]) -> BaseFitter:
    """The fitted model a :func:`model_state` describes."""
    cls = ESTIMATORS.get(str(state.get("estimator")))
    if cls is None:
        raise ModelError(f"model_from_state: unknown estimator {state.get('estimator')!r}.")
    model = cls(**state["params"])
    for name, value in state["learned"].items():
        if not name.endswith("_") or name.startswith("_"):
            raise ModelError(f"model_from_state: {name!r} is not a learned attribute.")
        setattr(model, name, _decode(value))
    return model

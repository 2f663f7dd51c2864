"""The gradient-boosted CLV model on a store: trained on the store's buyers as of a past
cutoff and applied to their features now (:mod:`tenure.predictions.features`)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from tenure.models.errors import ModelDataError
from tenure.models.ml import GradientBoostingCLV
from tenure.predictions.features import scoring_frame, training_frame
from tenure.store import Store


def train_on_store(
    store: Store, *, cutoff: date, model: GradientBoostingCLV | None = None
) -> GradientBoostingCLV:
    """Fit ``model`` (default ``GradientBoostingCLV()``) on the store's buyers as of
    ``cutoff - horizon_days`` and their margin up to ``cutoff``."""
    model = model if model is not None else GradientBoostingCLV()
    model.validate_params()
    frame = training_frame(store, cutoff, model.horizon_days).to_pandas()
    if len(frame) < 2:
        raise ModelDataError(
            f"GradientBoostingCLV: only {len(frame)} buyer(s) before "
            f"{cutoff.isoformat()} minus {model.horizon_days} days; nothing to train on.",
            hint="Use a later cutoff or a shorter horizon_days.",
        )
    return model.fit(frame, frame["target"].to_numpy())


def predict_on_store(model: GradientBoostingCLV, store: Store, *, as_of: date) -> pd.DataFrame:
    """person_id, predicted_margin: the next ``horizon_days`` margin of every buyer as of
    ``as_of`` (their features then)."""
    frame = scoring_frame(store, as_of).to_pandas()
    return pd.DataFrame({"person_id": frame["person_id"], "predicted_margin": model.predict(frame)})

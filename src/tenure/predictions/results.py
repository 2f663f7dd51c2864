"""Reading the predictions: the ``customer_predictions`` table as data frames (every person, or
the top N by a column). The recorded backtests: :func:`tenure.predictions.runs.model_runs`.

Each frame carries ``attrs``: ``money`` (its CLV columns, in the reporting currency) and
``currency``, as the analytics results do.
"""

from __future__ import annotations

import re

import ibis
import pandas as pd

from tenure.analytics.base import limited
from tenure.errors import ConfigError
from tenure.identity.lookup import read_with_labels, with_labels
from tenure.predictions.predict import PREDICTIONS
from tenure.store import Store, reporting_currency

_CLV = re.compile(r"clv_\d+m")


def _with_money(frame: pd.DataFrame, store: Store) -> pd.DataFrame:
    money = [c for c in frame.columns if _CLV.fullmatch(str(c))]
    frame.attrs.update(money=money, currency=reporting_currency(store))
    return frame


def clv_column(store: Store) -> str | None:
    """The CLV column of the stored predictions (``clv_12m``...), None without them."""
    if not store.exists(PREDICTIONS):
        return None
    return next((c for c in store.read(PREDICTIONS).columns if _CLV.fullmatch(c)), None)


def customer_predictions(
    store: Store, *, limit: int | None = None, with_identifiers: bool = True
) -> pd.DataFrame:
    """Every person's row of ``customer_predictions`` (the last `tenure predict`), by
    ``person_id``; prospects included, with null predictions. With ``limit``, the first
    ``limit`` rows and ``attrs["rows"]``, the count of them all. With ``with_identifiers``
    (default), each person's customer id and e-mail follow the person id
    (:func:`tenure.identity.lookup.read_with_labels`)."""
    table = store.read(PREDICTIONS)
    return _with_money(
        read_with_labels(
            store,
            table,
            lambda e: limited(e.order_by("person_id"), limit),
            limited=limit is not None,
            with_identifiers=with_identifiers,
        ),
        store,
    )


def top_customers(
    store: Store, n: int = 10, *, by: str | None = None, with_identifiers: bool = True
) -> pd.DataFrame:
    """The ``n`` persons with the highest ``by`` in ``customer_predictions`` (default: its
    CLV column, ``clv_12m`` for a 12-month horizon), highest first, ties by ``person_id``;
    persons whose ``by`` is unknown (prospects) are left out. With ``with_identifiers``
    (default), each person's customer id and e-mail follow the person id, looked up for these
    ``n`` persons only (:func:`tenure.identity.with_labels`)."""
    table = store.read(PREDICTIONS)
    numeric = [c for c, t in table.schema().items() if t.is_numeric()]
    if by is None:
        by = next((c for c in table.columns if _CLV.fullmatch(c)), "p_alive")
    if by not in numeric:
        raise ConfigError(
            f"Cannot rank the predictions by {by!r}: not a numeric column of {PREDICTIONS}.",
            hint=f"Rank by one of: {', '.join(numeric)}.",
        )
    if n < 0:
        raise ConfigError(f"The number of customers must be 0 or more. Got {n} instead.")
    value = table[by]
    best = table.filter(value.notnull()).order_by([ibis.desc(value), "person_id"])
    frame = best.limit(n).to_pandas()
    return _with_money(with_labels(store, frame) if with_identifiers else frame, store)

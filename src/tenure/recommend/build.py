"""The recommendations step: ``product_pairs``, ``product_recommendations`` and
``category_candidates`` built from the purchase lines as of a day (docs/recommendations.md).

The pipeline's ``recommendations`` step calls :func:`build_recommendations`; the readers
(:mod:`tenure.recommend.read`) read the three tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from tenure.progress import ProgressCallback, Steps
from tenure.store import Store

PAIRS = "product_pairs"
RECOMMENDATIONS = "product_recommendations"
CANDIDATES = "category_candidates"

#: The columns of each table, so that a store with nothing to recommend still holds them.
PAIRS_SCHEMA = ibis.schema(
    {
        "product_id": "string",
        "other_id": "string",
        "together": "int64",
        "product_orders": "int64",
        "other_orders": "int64",
        "baskets": "int64",
        "support": "float64",
        "confidence": "float64",
        "lift": "float64",
    }
)
RECOMMENDATIONS_SCHEMA = ibis.schema(
    {
        "person_id": "string",
        "rank": "int64",
        "product_id": "string",
        "score": "float64",
        "reason": "string",
    }
)
CANDIDATES_SCHEMA = ibis.schema(
    {
        "person_id": "string",
        "category": "string",
        "rank": "int64",
        "propensity": "float64",
        "reason": "string",
    }
)

#: The options of the step (``tenure run`` uses these; the settings may override them later).
DEFAULTS: dict[str, Any] = {"top": 10, "categories": 3, "min_together": 2}


@dataclass
class RecommendationsBuild:
    """What one build wrote (rows per table) and the notes a reader should see: baskets too
    few, products missing from the catalogue, categories skipped."""

    as_of: date
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "rows": dict(self.rows), "notes": self.notes}


def _typed(expr: ir.Table, schema: ibis.Schema) -> ir.Table:
    """``expr`` with exactly the columns of ``schema``, cast to their types."""
    return expr.select(*[expr[name].cast(dtype).name(name) for name, dtype in schema.items()])


def _write_frame(store: Store, name: str, frame: pd.DataFrame, schema: ibis.Schema) -> int:
    """Write a local frame as derived table ``name`` (through an engine upload)."""
    upload = f"_tenure_upload_{name}"
    columns = {c: frame[c] if c in frame.columns else None for c in schema.names}
    data = pd.DataFrame(columns, index=frame.index).reset_index(drop=True)
    arrow = pa.Table.from_pandas(data, schema=schema.to_pyarrow(), preserve_index=False)
    table = store.upload(upload, arrow)
    try:
        store.replace(name, _typed(table, schema))
    finally:
        store.drop_upload(upload)
    return len(data)


def _write(store: Store, name: str, expr: ir.Table, schema: ibis.Schema) -> int:
    return int(store.replace(name, _typed(expr, schema)).count().execute())


def build_recommendations(
    store: Store,
    *,
    as_of: date,
    options: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> RecommendationsBuild:
    """Build the three tables from the purchase lines up to the end of ``as_of``:
    ``product_pairs`` (:func:`tenure.recommend.rules.product_pairs`),
    ``product_recommendations`` (:func:`tenure.recommend.similar.next_products`, honouring the
    catalogue's active and stock flags) and ``category_candidates``
    (:func:`tenure.recommend.cross.cross_category`). ``options``: ``top`` products per
    person, ``categories`` per person, ``min_together`` orders for a pair."""
    from tenure.recommend.baskets import basket_warnings, purchase_lines
    from tenure.recommend.cross import cross_category
    from tenure.recommend.rules import product_pairs
    from tenure.recommend.similar import catalogue_warnings, next_products

    opts = {**DEFAULTS, **(options or {})}
    build = RecommendationsBuild(as_of)
    steps = Steps(progress, "Recommendations", 3)
    lines = purchase_lines(store, as_of=as_of)
    with store.scratch("rec_lines", lines) as name:
        stored = store.read(name)
        steps("pairs")
        build.notes += basket_warnings(store, stored, as_of=as_of)
        pairs = product_pairs(stored, min_together=int(opts["min_together"]))
        build.rows[PAIRS] = _write(store, PAIRS, pairs, PAIRS_SCHEMA)
        steps("next products")
        products = store.read("products") if store.exists("products") else None
        build.notes += catalogue_warnings(stored, products)
        nxt = next_products(stored, as_of=as_of, products=products, top=int(opts["top"]))
        build.rows[RECOMMENDATIONS] = _write(store, RECOMMENDATIONS, nxt, RECOMMENDATIONS_SCHEMA)
        steps("cross-category")
        cross = cross_category(store, as_of=as_of, lines=stored, top=int(opts["categories"]))
        build.notes += list(cross.notes)
        build.rows[CANDIDATES] = _write_frame(
            store, CANDIDATES, cross.candidates, CANDIDATES_SCHEMA
        )
        steps.done()
    return build

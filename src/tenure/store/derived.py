"""The one list of derived tables: what each is, which pipeline step builds it, its key and
what it is built from (docs/ARCHITECTURE.md, "Derived tables").

Derived tables are caches of Ibis expressions over the canonical tables, never edited by
hand: a step of :mod:`tenure.pipeline` builds them, privacy deletion removes a person's rows
from them, ``tenure store info`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedTable:
    """One derived table: ``name``, the ``step`` that builds it, its ``key`` (the columns
    that identify a row), the tables it is ``built_from``, and one line on what it holds.
    ``person_column``: the column holding the person id (privacy deletion), if any."""

    name: str
    step: str
    key: tuple[str, ...]
    built_from: tuple[str, ...]
    doc: str
    person_column: str | None = "person_id"


#: The canonical tables the orders base (:func:`tenure.analytics.base.orders_base`) reads:
#: orders attributed to persons through the identities, margins from the lines and products,
#: amounts converted with the FX rates.
ORDERS_BASE = ("orders", "order_items", "products", "fx_rates", "identities")

DERIVED: dict[str, DerivedTable] = {
    t.name: t
    for t in (
        DerivedTable(
            "customer_facts",
            "customer_facts",
            ("person_id",),
            (*ORDERS_BASE, "events", "customers"),
            "One row per person: BTYD summary, gaps, acquisition, value.",
        ),
        DerivedTable(
            "purchase_gaps",
            "customer_facts",
            ("person_id", "k"),
            ("orders", "order_items", "identities"),
            "Days between a buyer's purchase days k and k + 1: the input of the status rhythm.",
        ),
        DerivedTable(
            "facts_identities",
            "customer_facts",
            ("kind", "value"),
            ("identities",),
            "The identifiers customer_facts was built with (the incremental run's baseline).",
        ),
        DerivedTable(
            "customer_rfm",
            "customer_rfm",
            ("person_id",),
            ("customer_facts",),
            "RFM scores, segment and value tier per buyer.",
        ),
        DerivedTable(
            "customer_status",
            "customer_status",
            ("person_id",),
            ("customer_facts", "purchase_gaps"),
            "The lifecycle status of every person (prospect ... vip).",
        ),
        DerivedTable(
            "stage_history",
            "stage_history",
            ("person_id", "entered_at"),
            ("customer_status",),
            "Status spells: the day a person entered each status and the day they left it.",
        ),
        DerivedTable(
            "journey_history",
            "journey",
            ("person_id", "entered_at"),
            ("customer_status", "feedback", "referrals", "flagged_values"),
            "Journey stays: the day a person entered each journey stage and the day they left.",
        ),
        DerivedTable(
            "customer_predictions",
            "predictions",
            ("person_id",),
            ("customer_facts", *ORDERS_BASE),
            "CLV, P(alive), expected orders, next purchase, future VIP per buyer.",
        ),
        DerivedTable(
            "product_pairs",
            "recommendations",
            ("product_id", "other_id"),
            ("orders", "order_items", "products", "identities"),
            "Products bought together: orders, support, confidence, lift and the reason.",
            person_column=None,
        ),
        DerivedTable(
            "product_recommendations",
            "recommendations",
            ("person_id", "rank"),
            ("orders", "order_items", "products", "identities"),
            "The next products to show each buyer, best first, each with its reason.",
        ),
        DerivedTable(
            "category_candidates",
            "recommendations",
            ("person_id", "category"),
            ("customer_facts", "orders", "order_items", "products", "identities"),
            "Categories a buyer never bought, ranked by a propensity learnt from the movers.",
        ),
        DerivedTable(
            "segment_membership",
            "segments",
            ("segment", "person_id", "entered_at"),
            (
                "customer_facts",
                "customer_status",
                "customer_rfm",
                "journey_history",
                "customer_predictions",
                "product_recommendations",
                "category_candidates",
                "events",
                "customers",
                "consents",
                "suppressions",
                "feedback",
                "referrals",
                "identities",
            ),
            "Segment stays: when each person entered a segment and when they left it.",
        ),
        DerivedTable(
            "prediction_fits",
            "predictions",
            ("fitted_at",),
            ("customer_facts", "orders"),
            "The fitted prediction models, re-used by the daily run until a refit is due.",
            person_column=None,
        ),
    )
}


#: Tables of the store that are neither canonical nor derived: bookkeeping, with no person
#: column (privacy deletion leaves them alone). Scratch tables (``_tenure_<prefix>_<hex>``,
#: :meth:`tenure.store.Store.scratch`) live only while the work that made them runs.
INTERNAL: dict[str, str] = {
    "_tenure_migrations": "the data-model migrations applied (tenure.store.migrations)",
    "model_runs": "one row per model of each recorded backtest (tenure.predictions.backtest)",
    "segment_runs": "one row per segment and refresh: size, entries, exits (tenure.engage)",
}


def derived_table(name: str) -> DerivedTable:
    """The registry entry of derived table ``name`` (KeyError if it is not one)."""
    return DERIVED[name]

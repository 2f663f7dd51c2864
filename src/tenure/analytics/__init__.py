"""Customer analytics: customer facts, KPIs, RFM, statuses and cohorts, written once in Ibis.

Every function takes a :class:`~tenure.store.Store` and returns an Ibis expression or a
DataFrame; the same code runs on DuckDB and on PySpark (docs/metrics.md). The derived tables
are built by the steps of :mod:`tenure.pipeline` (``tenure run`` / ``tenure refresh``).
"""

from __future__ import annotations

from tenure.analytics.base import as_of_note, orders_base, store_end
from tenure.analytics.cohorts import cohort_cells, cohort_matrix, cohorts
from tenure.analytics.customers import customer_row
from tenure.analytics.facts import customer_facts
from tenure.analytics.money import money_warnings
from tenure.analytics.periods import kpis

__all__ = [
    "as_of_note",
    "cohort_cells",
    "cohort_matrix",
    "cohorts",
    "customer_facts",
    "customer_row",
    "kpis",
    "money_warnings",
    "orders_base",
    "store_end",
]

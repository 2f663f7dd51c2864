"""Customer analytics: customer facts, KPIs, RFM, statuses and cohorts, written once in Ibis.

Every function takes a :class:`~tenure.store.Store`. What a user reads (the result of a
command) is a pandas DataFrame, with ``attrs`` (``as_of``, ``currency``, ``money``,
``warnings``) where they apply; what a caller composes further (``orders_base``,
``customer_facts``, ``rfm``, ``customer_status``, ``cohort_cells``) is an Ibis expression.
The same code runs on DuckDB and on PySpark (docs/metrics.md); docs/python-api.md lists each
public function, its command and what it returns. The derived tables are built by the steps
of :mod:`tenure.pipeline` (``tenure run`` / ``tenure refresh``).
"""

from __future__ import annotations

from tenure.analytics.base import as_of_note, orders_base, store_end
from tenure.analytics.channels import channels
from tenure.analytics.cohorts import cohort_cells, cohort_matrix, cohorts
from tenure.analytics.customers import customer_row, list_customers, search_customers
from tenure.analytics.demo_store import DemoReport, demo
from tenure.analytics.facts import customer_facts
from tenure.analytics.money import money_warnings
from tenure.analytics.periods import kpis
from tenure.analytics.rfm import rfm, rfm_customers, rfm_segments
from tenure.analytics.stages import backfill_stages, stage_entries, transitions
from tenure.analytics.status import customer_status, status_counts, status_customers

__all__ = [
    "DemoReport",
    "as_of_note",
    "backfill_stages",
    "channels",
    "cohort_cells",
    "cohort_matrix",
    "cohorts",
    "customer_facts",
    "customer_row",
    "customer_status",
    "demo",
    "kpis",
    "list_customers",
    "money_warnings",
    "orders_base",
    "rfm",
    "rfm_customers",
    "rfm_segments",
    "search_customers",
    "stage_entries",
    "status_counts",
    "status_customers",
    "store_end",
    "transitions",
]

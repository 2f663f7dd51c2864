"""``tenure refresh``: materialise the derived tables, step by step, timed.

Derived tables are rebuilt from the canonical tables at every refresh (they are caches of
Ibis expressions, never edited by hand): ``customer_facts`` first, then the steps that read
it. Each step's wall time is reported, so a slow step is visible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import ibis.expr.types as ir

from tenure.analytics.base import orders_base, store_end
from tenure.analytics.facts import customer_facts
from tenure.analytics.money import money_warnings
from tenure.progress import ProgressCallback
from tenure.store import Store

#: The orders base (:func:`orders_base`) of a running refresh: written once, read by every
#: step, dropped at the end (computing it inside each step cost more than writing it).
SCRATCH_ORDERS = "_refresh_orders_base"
#: The columns of the orders base the steps read: the scratch copy holds only these. Writing a
#: column costs (10M orders: 0.4-1.4 CPU-seconds per string column); a step that needs another
#: one adds it here.
SCRATCH_COLUMNS = ("order_id", "person_id", "ordered_at", "day", "revenue", "margin", "is_purchase")


@dataclass
class RefreshResult:
    """What a refresh wrote: rows per table and seconds per step, and the money warnings
    (:func:`tenure.analytics.money.money_warnings`) of the figures it wrote."""

    as_of: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


def materialise(store: Store, name: str, expr: ir.Table, *, scratch: bool = False) -> ir.Table:
    """Write ``expr`` as table ``name`` (replacing it) and return the stored table.
    ``scratch``: a table read during the refresh only, then dropped."""
    con = store.con
    if store.backend_name == "pyspark":  # Ibis 12 cannot overwrite a table on Spark
        staged = f"{name}__staged"
        con.drop_table(staged, force=True)
        con.create_table(staged, expr)
        con.drop_table(name, force=True)
        con.rename_table(staged, name)
        return con.table(name)
    # a derived table has no row order to keep; keeping it costs DuckDB ~1 GB at 10M rows
    settings = {"preserve_insertion_order": "false"}
    if scratch:  # compressing its strings costs more than they save (10M orders: 2.5 CPU-s)
        settings["disabled_compression_methods"] = "'fsst,dict_fsst,dictionary'"
    for setting, value in settings.items():
        con.raw_sql(f"SET {setting} = {value}")
    try:
        con.create_table(name, expr, overwrite=True)
    finally:
        for setting in settings:
            con.raw_sql(f"RESET {setting}")
    return con.table(name)


def derived(store: Store, name: str) -> ir.Table:
    """A derived table, refreshing first if it does not exist yet."""
    if name not in store.con.list_tables():
        refresh(store)
    return store.con.table(name)


Step = Callable[[Store, date], ir.Table]


def refresh_orders(store: Store) -> ir.Table:
    """The orders base the running refresh wrote (for its steps)."""
    return store.con.table(SCRATCH_ORDERS)


def _steps() -> list[tuple[str, Step]]:
    from tenure.analytics.rfm import rfm
    from tenure.analytics.status import customer_status

    return [
        (
            "orders_base",
            lambda store, end: orders_base(store, as_of=end).select(*SCRATCH_COLUMNS),
        ),
        (
            "customer_facts",
            lambda store, end: customer_facts(store, as_of=end, orders=refresh_orders(store)),
        ),
        (
            "customer_rfm",
            lambda store, end: rfm(store, as_of=end, facts=store.con.table("customer_facts")),
        ),
        (
            "customer_status",
            lambda store, end: customer_status(store, as_of=end, orders=refresh_orders(store)),
        ),
    ]


def _reattach_predictions(store: Store) -> None:
    """Keep the last ``tenure predict`` columns on the rebuilt ``customer_facts``: the rows
    of ``customer_predictions`` as they are (``predicted_as_of`` says their day; a person new
    since then has none). Renewing them means fitting again: ``tenure predict``."""
    from tenure.predictions.predict import PREDICTIONS, attach

    if PREDICTIONS in store.con.list_tables():
        attach(store, store.con.table(PREDICTIONS))


def _record_stages(store: Store, end: date, result: RefreshResult) -> None:
    """The stage-history step: append the day's statuses (docs/metrics.md, "Stage history")."""
    from tenure.analytics.stages import TABLE, record_stages

    started = time.perf_counter()
    result.rows[TABLE] = record_stages(store, store.con.table("customer_status"), end)
    result.seconds[TABLE] = round(time.perf_counter() - started, 3)


def refresh(
    store: Store, *, as_of: date | None = None, progress: ProgressCallback | None = None
) -> RefreshResult:
    """Rebuild every derived table as of ``as_of`` (default: :func:`store_end`)."""
    end = as_of if as_of is not None else store_end(store)
    result = RefreshResult(as_of=end)
    steps = _steps()
    try:
        for done, (name, build) in enumerate(steps):
            started = time.perf_counter()
            target = SCRATCH_ORDERS if name == "orders_base" else name
            table = materialise(store, target, build(store, end), scratch=name == "orders_base")
            result.rows[name] = int(table.count().execute())
            result.seconds[name] = round(time.perf_counter() - started, 3)
            if progress is not None:
                progress("Refresh", done + 1, len(steps) + 1)
        _reattach_predictions(store)
        _record_stages(store, end, result)
        if progress is not None:
            progress("Refresh", len(steps) + 1, len(steps) + 1)
    finally:
        store.con.drop_table(SCRATCH_ORDERS, force=True)
    result.warnings = money_warnings(store, as_of=end)
    return result

"""The update path: an import with ``update=True`` applies newer versions of stored rows.

Without it, a row whose natural key is stored with other content is quarantined as ``same
key with different content`` (the safe default). With it, the row is the newer version: it
replaces the stored row, whose previous version is kept in ``row_history`` (as JSON, with the
import that replaced it), and it is counted as ``updated``. "Newer" means imported later: no
canonical table has an updated-at column to order versions by, so the row of this import wins
over the stored one, and of the files of one run a later file wins over an earlier one. Rows
of one file that repeat a key with different content stay quarantined (a file is one
snapshot: nothing orders its rows). See docs/import-mapping.md, "Updating changed rows".

An update replaces the columns the file maps; the columns it does not map keep their stored
values (they were not compared either). Events are not updatable: a Segment message id names
one message, which never changes.

The pipeline (:mod:`tenure.ingest.pipeline`) classifies a row whose content differs from the
stored row as ``changed`` (instead of ``conflict``) and hands it here:

* :func:`resolve` turns ``changed`` into ``updated`` (or, for order lines, ``present`` when
  neither the line nor its order really changes, ``stored`` for a new line of a stored order);
* :func:`apply` writes, inside the file's transaction on DuckDB: previous versions into
  ``row_history``, then the stored rows replaced (:meth:`Staging.replace_rows`: ``DELETE`` +
  ``INSERT`` on DuckDB; on another backend the table is rewritten, kept rows copied to a
  scratch table first, like a privacy deletion).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb

from tenure.errors import IngestError
from tenure.ingest.entities import key_equal
from tenure.store.schema import TABLES
from tenure.store.staging import Staging

#: Entities an import may update (events are immutable messages).
UPDATABLE = ("orders", "customers", "products", "spend", "feedback", "referrals")
#: Status the pipeline gives a row whose content differs from the stored row's, with update.
CHANGED = "changed"
_AUDIT = ("source", "imported_at")
_ORDER_TOTALS = ("total", "subtotal")


class Scratch(Protocol):
    """The pipeline's temporary tables of one file (dropped when the file is done)."""

    work: duckdb.DuckDBPyConnection

    def table(self, name: str, select: str, params: dict[str, Any] | None = None) -> str: ...

    def view(self, name: str, select: str) -> str: ...


@dataclass(frozen=True)
class UpdatePlan:
    """What one file updates: its rows' table and key, the columns it maps, and the names (in
    the work connection) of the stored rows it is compared with, per table."""

    table: str
    key: tuple[str, ...]
    items: bool
    mapped: frozenset[str]
    existing: dict[str, str]

    def compared(self, table: str, key: tuple[str, ...]) -> list[str]:
        """Content columns of ``table`` the file maps (the ones an update replaces)."""
        return [
            c
            for c in TABLES[table].columns
            if c not in key and c not in _AUDIT and c in self.mapped
        ]

    @property
    def computed_totals(self) -> list[str]:
        """Order totals computed from the lines (the file maps no such column)."""
        if not {"quantity", "unit_price"} <= self.mapped:
            return []
        return [c for c in _ORDER_TOTALS if c not in self.mapped]


def check_updatable(entity: str) -> None:
    """Refuse ``update=True`` for an entity whose rows never change."""
    if entity not in UPDATABLE:
        raise IngestError(
            f"{entity.capitalize()} cannot be updated: a {entity[:-1]} id names one record "
            "that never changes, so a different content under the same id is a conflict.",
            hint=f"Import without --update; --update applies to {', '.join(UPDATABLE)}.",
        )


def _q(column: str) -> str:
    return f'"{column}"'


def _on(key: tuple[str, ...], a: str, b: str) -> str:
    return " AND ".join(key_equal(k, a, b, quote=True) for k in key)


def _differs(columns: list[str], a: str, b: str) -> str:
    return " OR ".join(f"{a}.{_q(c)} IS DISTINCT FROM {b}.{_q(c)}" for c in columns) or "false"


# ------------------------------------------------------------------------------ statuses
def resolve(scratch: Scratch, plan: UpdatePlan, classified: str) -> str:
    """The classified rows with every ``changed`` status resolved; the table's name.

    Rows of one table per key: ``changed`` is ``updated``. Order lines: the order's new
    version (its first line's order columns, the totals computed from its lines) is compared
    with the stored order; a line is ``updated`` when its own columns or its order's differ,
    ``present`` when neither does, ``stored`` when the line is new. Adds ``__iu``: the line's
    own columns differ (it replaces the stored line).
    """
    if not plan.items:
        return scratch.view(
            classified + "_u",
            f"SELECT * REPLACE (CASE WHEN __status = '{CHANGED}' THEN 'updated' "
            f"ELSE __status END AS __status) FROM {classified}",
        )
    orders = _changed_orders(scratch, plan, classified)
    ex_items = plan.existing["order_items"]
    key = ("order_id", "line")
    item_diff = _differs(plan.compared("order_items", key), "c", "x")
    return scratch.table(
        classified + "_u",
        f"SELECT c.* REPLACE (CASE WHEN c.__status <> '{CHANGED}' THEN c.__status "
        "WHEN x.order_id IS NULL THEN 'stored' "
        f"WHEN ({item_diff}) OR o.order_id IS NOT NULL THEN 'updated' "
        "ELSE 'present' END AS __status), "
        f"(c.__status = '{CHANGED}' AND x.order_id IS NOT NULL AND ({item_diff})) AS __iu "
        f"FROM {classified} c LEFT JOIN {ex_items} x ON {_on(key, 'c', 'x')} "
        f"LEFT JOIN {orders} o ON c.order_id = o.order_id",
    )


def _file_lines(classified: str) -> str:
    """The file's version of each line of a stored order: its first good occurrence."""
    return (
        f"SELECT * FROM {classified} WHERE __eo IS NOT NULL "
        f"AND __status IN ('stored', 'present', '{CHANGED}') "
        "QUALIFY row_number() OVER (PARTITION BY order_id, line ORDER BY __rn) = 1"
    )


def _changed_orders(scratch: Scratch, plan: UpdatePlan, classified: str) -> str:
    """Stored orders whose new version differs: order_id and the new values (table name).

    The new version's order columns come from the order's first line in the file (as for a
    new order); totals the file does not give are summed over the order's lines after the
    update (the file's lines, and the stored lines the file does not repeat)."""
    ex_orders, ex_items = plan.existing["orders"], plan.existing["order_items"]
    lines = scratch.table(classified + "_l", _file_lines(classified))
    cols = plan.compared("orders", ("order_id",))
    picks = [f"arg_min({_q(c)}, __rn) AS {_q(c)}" for c in cols]
    totals = plan.computed_totals
    sums = ""
    if totals:
        every_line = (
            f"SELECT order_id, quantity, unit_price FROM {lines} UNION ALL "
            f"SELECT i.order_id, i.quantity, i.unit_price FROM {ex_items} i "
            f"WHERE i.order_id IN (SELECT order_id FROM {lines}) "
            f"AND NOT EXISTS (SELECT 1 FROM {lines} l WHERE {_on(('order_id', 'line'), 'l', 'i')})"
        )
        sums = (
            ", s AS (SELECT order_id, CAST(sum(quantity * unit_price) AS DECIMAL(18,4)) AS __sum "
            f"FROM ({every_line}) GROUP BY order_id)"
        )
    version = ", ".join(["order_id", *picks]) + f" FROM {lines} GROUP BY order_id"
    return scratch.table(
        classified + "_o", _changed_orders_sql(ex_orders, version, sums, cols, totals)
    )


def _changed_orders_sql(
    ex_orders: str, version: str, sums: str, cols: list[str], totals: list[str]
) -> str:
    new = [f"n.{_q(c)}" for c in cols] + [f"s.__sum AS {_q(c)}" for c in totals]
    differs = [f"e.{_q(c)} IS DISTINCT FROM n.{_q(c)}" for c in cols]
    differs += [f"e.{_q(c)} IS DISTINCT FROM s.__sum" for c in totals]
    join_sums = "JOIN s ON n.order_id = s.order_id " if totals else ""
    return (
        f"WITH n AS (SELECT {version}){sums} "
        f"SELECT {', '.join(['n.order_id', *new])} FROM n {join_sums}"
        f"JOIN {ex_orders} e ON n.order_id = e.order_id "
        f"WHERE {' OR '.join(differs) or 'false'}"
    )


# ------------------------------------------------------------------------------ writes
@dataclass(frozen=True)
class _Write:
    """One run's writes: where, and the audit values of the new rows and of the history."""

    staging: Staging
    params: dict[str, Any]


def apply(staging: Staging, plan: UpdatePlan, resolved: str, audit: dict[str, Any]) -> Counter[str]:
    """Replace the stored rows the file updates; keep their previous versions in
    ``row_history``. ``audit`` holds ``src`` (the file), ``now`` and ``iid`` (the import).
    Returns the rows written per table. ``replaced_at`` is the time of this file's writes,
    so a row replaced by two files of one run keeps both previous versions apart."""
    replaced = datetime.now(UTC).replace(tzinfo=None)
    w = _Write(staging, {**audit, "replaced": replaced})
    counts: Counter[str] = Counter()
    if not plan.items:
        rows = f"SELECT * FROM {resolved} WHERE __status = 'updated'"
        _replace(w, plan, plan.table, plan.key, rows, counts)
        return counts
    orders = ("order_id",)
    _replace(w, plan, "orders", orders, f"SELECT * FROM {resolved[:-2]}_o", counts)
    lines = f"SELECT * FROM {resolved} WHERE __iu"
    _replace(w, plan, "order_items", ("order_id", "line"), lines, counts)
    return counts


def _replace(
    w: _Write,
    plan: UpdatePlan,
    table: str,
    key: tuple[str, ...],
    rows: str,
    counts: Counter[str],
) -> None:
    """Replace the stored rows of ``table`` with the keys of ``rows`` by their new version."""
    work = w.staging.work
    old = plan.existing[table]
    new = f"__upd_{table}_{uuid.uuid4().hex[:8]}"
    select = _new_version(plan, table, key, rows, old)
    work.execute(f"CREATE TEMP TABLE {new} AS {select}", _used(select, w.params))
    try:
        if not _count(work, new):
            return
        record_key = ", ".join(f"'{k}', e.{_q(k)}" for k in key)
        history = (
            f"SELECT $table AS entity, json_object({record_key}) AS record_key, "
            'CAST(to_json(e) AS VARCHAR) AS "row", $replaced AS replaced_at, $iid AS import_id '
            f"FROM {old} e WHERE EXISTS (SELECT 1 FROM {new} n WHERE {_on(key, 'n', 'e')})"
        )
        params = _used(history, {**w.params, "table": table})
        counts["row_history"] += w.staging.emit("row_history", history, params)
        counts[table] += w.staging.replace_rows(table, key, new)
    finally:
        work.execute(f"DROP TABLE IF EXISTS {new}")


def _new_version(plan: UpdatePlan, table: str, key: tuple[str, ...], rows: str, old: str) -> str:
    """The new version of each row: the columns the file maps from ``rows`` (and, for an
    order built from lines, its computed totals), the others kept from the stored row."""
    given = set(plan.compared(table, key))
    if table == "orders" and plan.items:
        given |= set(plan.computed_totals)
    cols = [f"r.{_q(k)}" for k in key]
    for c in TABLES[table].columns:
        if c not in key and c not in _AUDIT:
            cols.append(f"{'r' if c in given else 'e'}.{_q(c)}")
    cols += ["$src AS source", "$now AS imported_at"]
    return f"SELECT {', '.join(cols)} FROM ({rows}) r JOIN {old} e ON {_on(key, 'r', 'e')}"


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names (DuckDB refuses the others)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _count(work: duckdb.DuckDBPyConnection, table: str) -> int:
    row = work.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0

"""Amounts that are stored but flagged: far beyond the store's own distribution.

An order total (or, in an order file with lines and no total, a line's unit price) is
flagged when its absolute value exceeds ``amount_flag_factor`` times the 99th percentile of
the store's stored and incoming values of that column; with fewer than
:data:`MIN_AMOUNTS` of them the bound is the fixed ``amount_flag_limit``. A flagged row is
stored as usual (it may be a real, large order) and recorded in ``flagged_values`` with its
file, line, natural key, column, value and reason, for ``tenure store info`` and the money
commands to report (:func:`flagged_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis

from tenure.store import Store
from tenure.store.staging import Staging

#: the percentile of the store's amounts the bound is a multiple of
QUANTILE = 0.99
#: fewer amounts than this (stored + incoming) give no distribution: the fixed bound applies
MIN_AMOUNTS = 1000
_NOUNS = {"total": "totals", "unit_price": "unit prices"}


@dataclass(frozen=True)
class AmountCheck:
    """What one file's rows are checked against: column, bound and the flag's reason."""

    column: str
    #: the natural key of a flagged record (``order_id``, or ``order_id`` and ``line``)
    key: tuple[str, ...]
    bound: Decimal
    reason: str
    #: an order-level column of an order file with lines: flagged once, on the order's
    #: first stored line (the one the order is built from)
    per_order: bool = False


def amount_check(staging: Staging, mapped: set[str], items: bool, rows: str) -> AmountCheck | None:
    """The check for an orders file whose classified rows are ``rows`` (in the staging
    connection); None when the file has no amount column or none of its values can exceed the bound.

    The percentile (a sort) is computed only when needed: when more than 1% of the values
    reach the largest incoming one divided by the factor, the percentile does too, and
    nothing can be flagged (two scans instead of a sort, for the common case).
    """
    if "total" in mapped:
        column, table = "total", "orders"
    elif items and "unit_price" in mapped:
        column, table = "unit_price", "order_items"
    else:
        return None
    incoming = (
        f"SELECT abs({column}) AS v FROM {rows} WHERE __status = 'stored' AND {column} IS NOT NULL"
    )
    row = staging.work.execute(f"SELECT max(v) FROM ({incoming})").fetchone()
    top = row[0] if row else None
    if top is None:
        return None
    settings = staging.store.settings
    factor = Decimal(str(settings.amount_flag_factor))
    limit = Decimal(str(settings.amount_flag_limit))
    n, near = _reaching(staging, (table, column), incoming, top / factor)
    key = ("order_id", "line") if column == "unit_price" else ("order_id",)
    per_order = items and column == "total"
    if n < MIN_AMOUNTS:
        if top <= limit:
            return None
        reason = (
            f"above the fixed bound {limit.normalize():f} (amount_flag_limit): "
            f"under {MIN_AMOUNTS:,} amounts"
        )
        return AmountCheck(column, key, limit, reason, per_order)
    if near > (1 - QUANTILE) * n + 1:
        return None
    q = _percentile(staging, (table, column), incoming)
    if factor * q >= top:
        return None
    reason = (
        f"above {factor.normalize():f} x the {QUANTILE * 100:.0f}th percentile of the store's "
        f"{_NOUNS[column]} ({q})"
    )
    return AmountCheck(column, key, factor * q, reason, per_order)


def _reaching(
    staging: Staging, stored: tuple[str, str], incoming: str, floor: Decimal
) -> tuple[int, int]:
    """How many stored and incoming values there are, and how many are ``floor`` or more."""
    table, column = stored
    store, work = staging.store, staging.work
    count = "SELECT count(*), count_if(v >= $floor) FROM "
    if staging.reads_store:
        union = f"{incoming} UNION ALL SELECT abs({column}) FROM {table} WHERE {column} IS NOT NULL"
        row = work.execute(f"{count}({union})", {"floor": floor}).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
    row = work.execute(f"{count}({incoming})", {"floor": floor}).fetchone()
    n, near = (int(row[0]), int(row[1])) if row else (0, 0)
    values = store.table(table)[column].abs()
    both = values.count().name("n"), (values >= ibis.literal(floor)).sum().name("near")
    got = store.table(table).aggregate(list(both)).to_pyarrow().to_pylist()[0]
    return n + int(got["n"] or 0), near + int(got["near"] or 0)


def _percentile(staging: Staging, stored: tuple[str, str], incoming: str) -> Decimal:
    """The 99th percentile of the stored and incoming values. Where the store's tables are
    not readable in the staging connection (another backend than DuckDB), the stored values
    stay in the engine: the percentile of the larger of the two sets (a small batch's own
    percentile would follow its outlier)."""
    table, column = stored
    store, work = staging.store, staging.work
    sql = f"SELECT count(*), quantile_disc(v, {QUANTILE}) FROM "
    if staging.reads_store:
        union = f"{incoming} UNION ALL SELECT abs({column}) FROM {table} WHERE {column} IS NOT NULL"
        row = work.execute(f"{sql}({union})").fetchone()
        return Decimal(row[1]) if row and row[1] is not None else Decimal(0)
    row = work.execute(f"{sql}({incoming})").fetchone()
    n, mine = (int(row[0]), row[1]) if row else (0, None)
    values = store.table(table)[column].abs()
    got = (
        store.table(table)
        .aggregate([values.count().name("n"), values.quantile(QUANTILE).name("q")])
        .to_pyarrow()
        .to_pylist()[0]
    )
    theirs = got["q"] if int(got["n"] or 0) > n else mine
    return Decimal(str(theirs)) if theirs is not None else Decimal(0)


def flagged_rows(check: AmountCheck, rows: str) -> tuple[str, dict[str, Any]]:
    """The stored rows of ``rows`` the check flags (all of ``rows``' columns), as a SELECT
    and its parameters."""
    where = f"__status = 'stored' AND abs({check.column}) > $bound"
    params = {"bound": check.bound}
    if not check.per_order:
        return f"SELECT * FROM {rows} WHERE {where}", params
    return (
        f"SELECT * FROM {rows} WHERE __status = 'stored' AND __eo IS NULL "
        f"QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY __rn) = 1 "
        f"AND abs({check.column}) > $bound"
    ), params


def flag_select(
    check: AmountCheck, flagged: str, lines: str, meta: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The ``flagged_values`` rows of the table ``flagged`` (from :func:`flagged_rows`), as a
    SELECT and its parameters; ``lines`` is the file's ``(__rn, __line)`` view, ``meta``
    gives ``iid``, ``entity``, ``file`` and ``now``."""
    params = {**meta, "column": check.column, "reason": check.reason}
    pairs = []
    for i, name in enumerate(check.key):
        params[f"k{i}"] = name
        pairs.append(f"$k{i}, f.{name}")
    select = (
        "SELECT $iid AS import_id, $entity AS entity, $file AS file, l.__line AS line, "
        f"CAST(json_object({', '.join(pairs)}) AS VARCHAR) AS record_key, "
        f'$column AS "column", CAST(f.{check.column} AS VARCHAR) AS value, '
        f"$reason AS reason, $now AS flagged_at FROM {flagged} f JOIN {lines} l "
        "ON f.__rn = l.__rn"
    )
    return select, params


def flagged_counts(store: Store) -> dict[tuple[str, str], int]:
    """Flagged values in the store per (entity, column), e.g. ``{("orders", "total"): 2}``."""
    table = store.table("flagged_values")
    counts = table.group_by(["entity", "column"]).aggregate(n=ibis._.count()).to_pyarrow()
    return {
        (str(e), str(c)): int(n)
        for e, c, n in zip(
            counts["entity"].to_pylist(),
            counts["column"].to_pylist(),
            counts["n"].to_pylist(),
            strict=True,
        )
    }

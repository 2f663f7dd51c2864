"""One import run: stage each file, parse and check it, deduplicate, store, quarantine, log.

Every staged row ends in exactly one status: ``suppressed`` (it holds an identifier of a
deleted person, :mod:`tenure.ingest.suppress`), ``stored``, ``present`` (identical to a stored
row or to an earlier row of the same run), ``quarantined`` (a failed check) or ``conflict``
(same key, different content; quarantined too). Records DuckDB's CSV reader rejects
are quarantined as ``wrong column count``, ``invalid encoding`` or ``unreadable row``.

The work happens in DuckDB, in temporary tables of the connection the store lends
(:meth:`Store.staging`, :mod:`tenure.store.staging`): the staging decides how the stored
rows a file is compared with are read, and how its rows reach the store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.datatypes as dt

from tenure.errors import MappingError
from tenure.ingest.entities import Entity, key_equal
from tenure.ingest.flags import AmountCheck, amount_check, flag_select, flagged_rows
from tenure.ingest.layouts import fit_layout
from tenure.ingest.mapping import Mapping, require_fields, resolve
from tenure.ingest.parse import DateBounds, ParsePlan, plan
from tenure.ingest.readers import Staged, detect_format, stage_file
from tenure.ingest.suppress import active, suppressed_rows
from tenure.ingest.update import CHANGED, UpdatePlan
from tenure.ingest.update import apply as apply_updates
from tenure.ingest.update import resolve as resolve_updates
from tenure.progress import ProgressCallback, Steps, no_progress
from tenure.store.protocol import StoreLike
from tenure.store.schema import TABLES
from tenure.store.staging import Staging

CONFLICT = "same key with different content"
_REJECTED = "__status IN ('quarantined', 'conflict')"
_AUDIT = ("source", "imported_at")


@dataclass
class FileOutcome:
    """Counts of one file: rows read, per status, per quarantine reason, per table."""

    rows_read: int = 0
    stored: int = 0
    updated: int = 0
    present: int = 0
    quarantined: int = 0
    suppressed: int = 0
    #: stored records recorded in ``flagged_values`` (a subset of ``stored``)
    flagged: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    tables: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)

    def add(self, other: FileOutcome) -> None:
        """Add another file's counts to these."""
        self.rows_read += other.rows_read
        self.stored += other.stored
        self.updated += other.updated
        self.present += other.present
        self.quarantined += other.quarantined
        self.suppressed += other.suppressed
        self.flagged += other.flagged
        self.by_reason.update(other.by_reason)
        self.tables.update(other.tables)
        self.ignored_columns += other.ignored_columns


def _duck_type(dtype: dt.DataType) -> str:
    if dtype.is_decimal():
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if dtype.is_timestamp():
        return "TIMESTAMP"
    names = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "boolean": "BOOLEAN"}
    return names.get(str(dtype).rstrip("!").split("(")[0], str(dtype).upper())


def _content(table: str, key: tuple[str, ...]) -> list[str]:
    return [c for c in TABLES[table].columns if c not in key and c not in _AUDIT]


def _hash(table: str, columns: list[str], prefix: str = "") -> str:
    schema = TABLES[table].schema
    parts = [f"CAST({prefix}{c} AS {_duck_type(schema[c])})" for c in columns]
    return f"hash({', '.join(parts) or 'NULL'})"


@dataclass
class _Targets:
    """Which store tables a run compares with and writes to; which columns it compares.

    Only columns the file maps are compared: a file without a column cannot conflict on it.
    """

    main: str
    key: tuple[str, ...]
    items: bool
    mapped: set[str]

    @property
    def order_cols(self) -> list[str]:
        return _content("orders", ("order_id",))

    @property
    def item_cols(self) -> list[str]:
        return _content("order_items", ("order_id", "line"))

    def _compared(self, table: str, columns: list[str]) -> list[str]:
        return [c for c in columns if c in self.mapped]

    def row_hash(self, prefix: str = "") -> str:
        if self.items:
            items = _hash("order_items", self._compared("order_items", self.item_cols), prefix)
            return f"hash({self.order_hash(prefix)}, {items})"
        return _hash(self.main, self._compared(self.main, _content(self.main, self.key)), prefix)

    def order_hash(self, prefix: str = "") -> str:
        return _hash("orders", self._compared("orders", self.order_cols), prefix)


def _targets(entity: Entity, parsed: ParsePlan) -> _Targets:
    if entity.name == "orders" and parsed.has_items:
        return _Targets("order_items", ("order_id", "line"), True, parsed.mapped)
    return _Targets(entity.table, entity.key, False, parsed.mapped)


def _existing(staging: Staging, t: _Targets, parsed: str) -> dict[str, str]:
    """Names (in the staging connection) of the store tables to compare with: the tables, or
    their rows with the file's keys (:meth:`Staging.stored`)."""
    column = "order_id" if t.main in ("orders", "order_items") else t.key[0]
    keys = f"SELECT DISTINCT {column} AS k FROM {parsed}"
    names = [t.main, "orders"] if t.items else [t.main]
    return {name: staging.stored(name, column, keys) for name in names}


def _classify(
    work: duckdb.DuckDBPyConnection,
    t: _Targets,
    parsed: str,
    out: str,
    existing: dict[str, str],
    update: bool = False,
) -> None:
    on = " AND ".join(key_equal(k, "p", "x") for k in t.key)
    # with update, a row differing from the stored one is `changed` (ingest/update.py
    # resolves it), and a repeat of the file's first version of a key is present
    changed = f"'{CHANGED}'" if update else "'conflict'"
    repeat = "WHEN f.__first IS NOT NULL AND p.__rn <> f.__first THEN 'present' " if update else ""
    keys = ", ".join(t.key)
    ex_main = existing[t.main]
    if t.items:
        ex = _item_hash_sql(t, ex_main, existing["orders"])
        eo = f", eo AS (SELECT order_id, {t.order_hash()} AS __eo FROM {existing['orders']})"
        eo_join = "LEFT JOIN eo ON p.order_id = eo.order_id"
        eo_col, ho = ", eo.__eo", f", {t.order_hash()} AS __ho"
        eo_conflict = f"WHEN eo.__eo IS NOT NULL AND eo.__eo <> p.__ho THEN {changed} "
    else:
        ex = f"SELECT {keys}, {t.row_hash()} AS __eh FROM {ex_main}"
        eo = eo_join = eo_col = ho = eo_conflict = ""
    work.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS "
        f"WITH p AS (SELECT *, {t.row_hash()} AS __h{ho} FROM {parsed}), "
        f"good AS (SELECT {keys}, __rn, __h FROM p WHERE __reason IS NULL), "
        f"dup AS (SELECT {keys}, min(__rn) AS __first FROM good GROUP BY ALL HAVING count(*) > 1), "
        f"dupf AS (SELECT d.*, g.__h AS __first_h FROM dup d JOIN good g "
        f"ON d.__first = g.__rn), "
        f"ex AS ({ex}){eo} "
        f"SELECT p.*, x.__eh{eo_col}, CASE "
        "WHEN p.__reason IS NOT NULL THEN 'quarantined' "
        "WHEN f.__first IS NOT NULL AND p.__rn <> f.__first AND p.__h <> f.__first_h "
        f"THEN 'conflict' {repeat}"
        f"WHEN x.__eh IS NOT NULL AND x.__eh <> p.__h THEN {changed} "
        f"{eo_conflict}"
        "WHEN x.__eh IS NOT NULL OR (f.__first IS NOT NULL AND p.__rn <> f.__first) "
        "THEN 'present' ELSE 'stored' END AS __status "
        f"FROM p LEFT JOIN dupf f ON {on.replace('x.', 'f.')} "
        f"LEFT JOIN ex x ON {on} {eo_join}"
    )


def _item_hash_sql(t: _Targets, items: str, orders: str) -> str:
    order_part = t.order_hash("o.")
    item_part = _hash("order_items", t._compared("order_items", t.item_cols), "i.")
    return (
        f"SELECT i.order_id, i.line, hash({order_part}, {item_part}) AS __eh "
        f"FROM {items} i JOIN {orders} o ON i.order_id = o.order_id"
    )


def _store_rows(
    staging: Staging, t: _Targets, cls: str, source: str, now: datetime
) -> Counter[str]:
    audit = {"src": source, "now": now}
    counts: Counter[str] = Counter()
    audit_sql = "$src AS source, $now AS imported_at"
    if t.items:
        item_cols = ", ".join(("order_id", "line", *t._compared("order_items", t.item_cols)))
        counts["order_items"] = staging.emit(
            "order_items",
            f"SELECT {item_cols}, {audit_sql} FROM {cls} WHERE __status = 'stored'",
            audit,
        )
        counts["orders"] = staging.emit("orders", _orders_select(t, cls, audit_sql), audit)
        return counts
    cols = ", ".join((*t.key, *t._compared(t.main, _content(t.main, t.key))))
    # the audit columns the table has (fx_rates: `source` only)
    kept = {
        c: p for c, p in (("source", "src"), ("imported_at", "now")) if c in TABLES[t.main].columns
    }
    audit_sql = ", ".join(f"${p} AS {c}" for c, p in kept.items())
    counts[t.main] = staging.emit(
        t.main,
        f"SELECT {cols}, {audit_sql} FROM {cls} WHERE __status = 'stored'",
        {p: audit[p] for p in kept.values()},
    )
    return counts


def _orders_select(t: _Targets, cls: str, audit_sql: str) -> str:
    """Orders from their stored lines (orders not stored yet): order-level columns from the
    order's first stored line; ``total`` and ``subtotal``, when the file has none, the sum of
    quantity x unit price. (``arg_min`` per column measured faster at 10M lines than a join
    on each order's first row, or one ``arg_min`` of a struct.)"""
    computable = {"quantity", "unit_price"} <= t.mapped
    picks = []
    for c in t.order_cols:
        if c in t.mapped:
            picks.append(f"arg_min({c}, __rn) AS {c}")
        elif c in ("total", "subtotal") and computable:
            picks.append(f"CAST(sum(quantity * unit_price) AS DECIMAL(18,4)) AS {c}")
    return (
        f"SELECT order_id, {', '.join([*picks, audit_sql])} FROM {cls} "
        "WHERE __status = 'stored' AND __eo IS NULL GROUP BY order_id"
    )


def _quarantine(
    staging: Staging,
    staged: Staged,
    t: _Targets,
    cls: str,
    meta: dict[str, Any],
) -> None:
    """Keep every rejected row of the file, with its line, column, value and reason."""
    params = {**meta, "keyname": ",".join(t.key), "conflict": CONFLICT}
    if staged.fmt in ("jsonl", "whitespace"):
        raw_row = "s.raw"
    else:
        pairs = []
        for i, name in enumerate(staged.columns):
            params[f"h{i}"] = name
            pairs.append(f"$h{i}, s.s{i}")
        raw_row = f"json_object({', '.join(pairs)})" if pairs else "NULL"
    key_text = " || '/' || ".join(f"CAST(c.{k} AS VARCHAR)" for k in t.key)
    select = (
        "SELECT $iid AS import_id, $entity AS entity, $file AS file, l.__line AS line, "
        "CASE WHEN c.__status = 'conflict' THEN $keyname ELSE c.__column END AS \"column\", "
        f"CASE WHEN c.__status = 'conflict' THEN {key_text} ELSE c.__raw_value END AS raw_value, "
        f"coalesce(c.__reason, $conflict) AS reason, CAST({raw_row} AS VARCHAR) AS raw_row, "
        f"$now AS quarantined_at FROM {cls} c JOIN {staged.table} s ON c.__rn = s.__rn "
        f"JOIN {staged.table}_lines l ON c.__rn = l.__rn "
        f"WHERE c.{_REJECTED}"
    )
    staging.emit("quarantine", select, params)
    if staged.rejected:
        staging.emit(
            "quarantine",
            "SELECT $iid AS import_id, $entity AS entity, $file AS file, line, raw AS raw_value, "
            f"reason, raw AS raw_row, $now AS quarantined_at FROM {staged.rejects}",
            meta,
        )


def _keep_rejects_and_flags(
    staging: Staging,
    staged: Staged,
    t: _Targets,
    cls: str,
    outcome: FileOutcome,
    flags: tuple[AmountCheck | None, str],
    meta: dict[str, Any],
) -> None:
    """Read the lines of the quarantined and flagged rows (one more scan of the file), then
    write their ``quarantine`` and ``flagged_values`` rows."""
    check, flagged = flags
    wanted = f"SELECT __rn FROM {cls} WHERE {_REJECTED}"
    if check and outcome.flagged:
        wanted += f" UNION ALL SELECT __rn FROM {flagged}"
    staged.materialize(staging.work, wanted)
    if outcome.quarantined:
        _quarantine(staging, staged, t, cls, meta)
    if check and outcome.flagged:
        select, params = flag_select(check, flagged, f"{staged.table}_lines", meta)
        staging.emit("flagged_values", select, params)


def _tally(
    work: duckdb.DuckDBPyConnection, cls: str, staged: Staged, suppressed: int
) -> FileOutcome:
    outcome = FileOutcome(
        rows_read=staged.rows + sum(staged.rejected.values()), suppressed=suppressed
    )
    rows = work.execute(
        f"SELECT __status, coalesce(__reason, $c), count(*) FROM {cls} GROUP BY ALL",
        {"c": CONFLICT},
    ).fetchall()
    for status, reason, n in rows:
        status = _SUMMED.get(status, status)
        if status == "stored":
            outcome.stored += n
        elif status == "updated":
            outcome.updated += n
        elif status == "present":
            outcome.present += n
        else:
            outcome.quarantined += n
            outcome.by_reason[reason] += n
    outcome.quarantined += sum(staged.rejected.values())
    outcome.by_reason.update(staged.rejected)
    return outcome


@dataclass
class _Scratch:
    """Temporary tables and views one file's import creates in ``work``; dropped at the end."""

    work: duckdb.DuckDBPyConnection
    tables: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)

    def table(self, name: str, select: str, params: dict[str, Any] | None = None) -> str:
        self.work.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", params)
        self.tables.append(name)
        return name

    def view(self, name: str, select: str) -> str:
        self.work.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")
        self.views.append(name)
        return name

    def drop(self) -> None:
        for name in reversed(self.views):
            self.work.execute(f"DROP VIEW IF EXISTS {name}")
        for name in self.tables:
            self.work.execute(f"DROP TABLE IF EXISTS {name}")


def import_one(
    staging: Staging,
    entity: Entity,
    mapping: Mapping,
    path: Path,
    import_id: str,
    now: datetime,
    progress: ProgressCallback = no_progress,
    update: bool = False,
    source: str | None = None,
) -> FileOutcome:
    """Import one file into the store of ``staging`` (the DuckDB connection doing the work).

    ``source``: the file the rows come from, when ``path`` holds a copy of some of them (a
    retry of quarantined rows): the stored rows' ``source`` and the quarantine's ``file``.

    With ``update``, rows that differ from the stored row with their key replace it
    (:mod:`tenure.ingest.update`), in the same transaction as the file's other writes.

    Reports to ``progress`` the four named steps of task ``Import <file>`` (read and check,
    compare, store, quarantine; the rows read once known) and how far the running step is
    (percent, DuckDB's estimate). On a DuckDB store the file's rows, orders and quarantined
    rows are written in one transaction.
    """
    origin = source or str(path)
    steps = Steps(progress, f"Import {Path(origin).name}", 4)
    args = (staging, entity, mapping, path, import_id, now, steps, update, origin)
    if progress is no_progress:
        return _import_one(*args)
    with staging.watch(lambda percent: steps.detail(f"{percent}%")):
        return _import_one(*args)


def _import_one(
    staging: Staging,
    entity: Entity,
    mapping: Mapping,
    path: Path,
    import_id: str,
    now: datetime,
    steps: Steps,
    update: bool,
    origin: str,
) -> FileOutcome:
    store, work = staging.store, staging.work
    steps("read and check")
    fmt = detect_format(path, mapping.format)
    if fmt != "parquet" and path.is_file() and path.stat().st_size == 0:
        steps.done()
        return FileOutcome()  # an empty text file holds no rows (not even a header)
    staged = stage_file(
        work,
        path,
        fmt,
        delim=mapping.delimiter,
        quote=mapping.quote,
        header=mapping.header,
        names=mapping.names,
        encoding=mapping.encoding,
    )
    scratch = _Scratch(work)
    try:
        parsed, p_table = _parse_file(store, scratch, entity, mapping, staged, now)
        p_table, suppressed = _unsuppressed(staging, scratch, entity, staged, p_table)
        steps(f"compare {staged.rows:,} rows with the store")
        targets = _targets(entity, parsed)
        p_table, members = _summed(scratch, entity, p_table)
        existing = _existing(staging, targets, p_table)
        c_table = _statuses(scratch, targets, p_table, existing, update)
        plan_u = UpdatePlan(
            targets.main, targets.key, targets.items, frozenset(targets.mapped), existing
        )
        if update:
            c_table = resolve_updates(scratch, plan_u, c_table)
        if members:
            c_table = _with_members(scratch, c_table, members)
        steps(f"store {staged.rows:,} rows")
        outcome = _tally(work, c_table, staged, suppressed)
        outcome.ignored_columns = parsed.ignored_columns
        check, flagged = _flagged(staging, scratch, entity, targets, c_table)
        outcome.flagged = _count(work, flagged) if flagged else 0
        with staging.transaction():
            outcome.tables.update(_store_rows(staging, targets, c_table, origin, now))
            if update:
                audit = {"src": origin, "now": now, "iid": import_id}
                outcome.tables.update(apply_updates(staging, plan_u, c_table, audit))
            steps("quarantine and flags")
            meta = {"iid": import_id, "entity": entity.name, "file": origin, "now": now}
            if outcome.quarantined or outcome.flagged:
                flags = (check, flagged)
                _keep_rejects_and_flags(staging, staged, targets, c_table, outcome, flags, meta)
        steps.done()
        return outcome
    finally:
        scratch.drop()
        staging.drop_copies()
        staged.drop(work)


def _parse_file(
    store: StoreLike,
    scratch: _Scratch,
    entity: Entity,
    mapping: Mapping,
    staged: Staged,
    now: datetime,
) -> tuple[ParsePlan, str]:
    """Read, parse and check the file in one scan into a temporary table; its name."""
    path, fmt = staged.path, staged.fmt
    if mapping.names and fmt == "csv":
        staged.columns = _named(staged, mapping, path)
    sources = list(mapping.names) if fmt == "whitespace" else staged.columns
    field_map = resolve(mapping, entity.fields, sources, str(path), fmt)
    _require_keys(entity, mapping, field_map, sources, path)
    require_fields(entity, mapping, field_map, sources, str(path))
    timezone = mapping.timezone or store.settings.timezone
    mapping = fit_layout(scratch.work, entity, mapping, staged, field_map, timezone)
    parsed = plan(
        entity,
        mapping,
        staged,
        field_map,
        timezone=timezone,
        accepted=list(store.settings.accepted_currencies),
        bounds=date_bounds(store, now),
    )
    p_table = staged.table + "_p"
    if parsed.has_rn:
        scratch.table(p_table, parsed.sql, parsed.params)
    else:  # rows kept in file order: the table's rowid gives the row number
        raw = scratch.table(p_table + "_raw", parsed.sql, parsed.params)
        scratch.view(p_table, f"SELECT rowid + 1 AS __rn, * FROM {raw}")
    staged.collect_rejects(scratch.work)
    staged.rows = _count(scratch.work, p_table)
    return parsed, p_table


def _unsuppressed(
    staging: Staging, scratch: _Scratch, entity: Entity, staged: Staged, p_table: str
) -> tuple[str, int]:
    """The parsed rows that are not suppressed (a view of ``p_table``), and how many are."""
    if not active(staging.store, entity.name):
        return p_table, 0
    hits = suppressed_rows(staging, entity.name, p_table)
    scratch.tables.append(hits)
    n = _count(scratch.work, hits)
    if not n:
        return p_table, 0
    kept = scratch.view(
        staged.table + "_k", f"SELECT * FROM {p_table} WHERE __rn NOT IN (SELECT __rn FROM {hits})"
    )
    return kept, n


def _statuses(
    scratch: _Scratch, t: _Targets, p_table: str, existing: dict[str, str], update: bool
) -> str:
    """The parsed rows with their ``__status``: a full comparison only when keys repeat."""
    c_table = p_table[:-2] + "_c"
    if _needs_dedup(scratch.work, t, p_table, existing):
        _classify(scratch.work, t, p_table, c_table, existing, update)
        scratch.tables.append(c_table)
        return c_table
    return scratch.view(
        c_table,
        "SELECT *, CASE WHEN __reason IS NULL THEN 'stored' ELSE 'quarantined' END AS __status, "
        f"CAST(NULL AS UBIGINT) AS __eo FROM {p_table}",
    )


#: Status of a row added into an earlier row of its file (spend without a campaign) ->
#: the status it counts as: the status of the row holding the sum.
_SUMMED = {"summed": "stored", "summed_present": "present", "summed_updated": "updated"}


def _summed(scratch: _Scratch, entity: Entity, p_table: str) -> tuple[str, str]:
    """Spend rows of one file with the same day and channel and no campaign, added up.

    A spend sheet may list a channel's costs of one day on several lines (invoices, ad
    accounts) without a campaign: their sum is the channel's spend that day. The first such
    row carries the sum; the others (the *members*) are kept aside and take its status
    (:func:`_with_members`). Rows in different currencies are not added up (they are
    compared as usual: same key, other content). Returns the rows to classify, and the
    table of members ("" when there are none)."""
    if not entity.optional_key:
        return p_table, ""
    empty = " AND ".join(f"{k} IS NULL" for k in entity.optional_key)
    others = [k for k in entity.key if k not in entity.optional_key]
    groups = scratch.table(
        p_table + "_g",
        f"SELECT {', '.join(others)}, min(__rn) AS __first, "
        f"CAST(sum(cost) AS DECIMAL(18,4)) AS __sum FROM {p_table} "
        f"WHERE __reason IS NULL AND {empty} GROUP BY ALL "
        "HAVING count(*) > 1 AND count(DISTINCT currency) = 1",
    )
    if not _count(scratch.work, groups):
        return p_table, ""
    on = " AND ".join(f"p.{k} = g.{k}" for k in others)
    empty_p = " AND ".join(f"p.{k} IS NULL" for k in entity.optional_key)
    grouped = scratch.table(
        p_table + "_sg",
        "SELECT p.* REPLACE (CASE WHEN g.__first = p.__rn THEN g.__sum ELSE p.cost END AS cost), "
        f"g.__first AS __group FROM {p_table} p LEFT JOIN {groups} g "
        f"ON p.__reason IS NULL AND {empty_p} AND {on}",
    )
    heads = scratch.view(
        p_table + "_h",
        f"SELECT * EXCLUDE (__group) FROM {grouped} WHERE __group IS NULL OR __group = __rn",
    )
    members = scratch.view(
        p_table + "_m",
        f"SELECT __rn, __group FROM {grouped} WHERE __group IS NOT NULL AND __group <> __rn",
    )
    return heads, members


def _with_members(scratch: _Scratch, c_table: str, members: str) -> str:
    """The classified rows and the rows added into them (:func:`_summed`), each with the
    status of the row holding the sum: ``summed`` (stored), ``summed_present``,
    ``summed_updated``, or the quarantined head's status (the members are quarantined with
    it, so no row of the sum is lost)."""
    status = (
        "CASE h.__status WHEN 'stored' THEN 'summed' WHEN 'present' THEN 'summed_present' "
        "WHEN 'updated' THEN 'summed_updated' ELSE h.__status END"
    )
    return scratch.table(
        c_table + "_all",
        f"SELECT * FROM {c_table} UNION ALL BY NAME "
        f"SELECT h.* REPLACE (m.__rn AS __rn, {status} AS __status) "
        f"FROM {members} m JOIN {c_table} h ON h.__rn = m.__group",
    )


def _flagged(
    staging: Staging, scratch: _Scratch, entity: Entity, t: _Targets, c_table: str
) -> tuple[AmountCheck | None, str]:
    """The amount check of an orders file, and the table of the rows it flags (else "")."""
    if entity.name != "orders":
        return None, ""
    check = amount_check(staging, t.mapped, t.items, c_table)
    if check is None:
        return None, ""
    select, params = flagged_rows(check, c_table)
    return check, scratch.table(c_table + "_f", select, params)


def _count(work: duckdb.DuckDBPyConnection, table: str) -> int:
    row = work.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _needs_dedup(
    work: duckdb.DuckDBPyConnection, t: _Targets, parsed: str, existing: dict[str, str]
) -> bool:
    """Whether any good row repeats a key of the file or of the store (else all are new)."""
    # fewer distinct key hashes than rows: a repeated key (or, rarely, a hash collision,
    # which only costs the full comparison)
    dups = work.execute(
        f"SELECT count(*) > count(DISTINCT hash({', '.join(t.key)})) FROM {parsed} "
        "WHERE __reason IS NULL"
    ).fetchone()
    if dups and dups[0]:
        return True
    return any(_count(work, f"(SELECT 1 FROM {name} LIMIT 1)") for name in existing.values())


def _require_keys(
    entity: Entity, mapping: Mapping, field_map: dict[str, str], sources: list[str], path: Path
) -> None:
    """Refuse a file none of whose columns gives a key field (every row would be rejected)."""
    derived = {"order_id"} if mapping.order_id_from else set()
    if set(entity.key_from) & set(field_map):
        derived |= set(entity.key)  # built from the fields (referrals: referrer>referred)
    missing = [k for k in entity.key if k not in field_map and k not in derived]
    if missing:
        raise MappingError(
            f"{path}: no column gives {', '.join(repr(m) for m in missing)}, part of the "
            f"{entity.name} key. Columns found: {', '.join(repr(c) for c in sources)}.",
            hint="Name the column in the file's header, or map it with --mapping "
            "(see docs/import-mapping.md)" + _delimiter_hint(sources, mapping.delimiter),
        )


def _delimiter_hint(sources: list[str], delimiter: str) -> str:
    """The end of the missing-key hint: the delimiter the one column seems to hold."""
    if len(sources) == 1:
        for candidate, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
            if candidate != delimiter and candidate in sources[0]:
                return (
                    f"; the columns run together (read with the delimiter {delimiter!r}): "
                    f"this file seems to use {name}, so pass --delimiter {name}."
                )
    return "; if the columns run together, pass --delimiter (e.g. --delimiter ';')."


def _named(staged: Staged, mapping: Mapping, path: Path) -> list[str]:
    if len(mapping.names) != len(staged.columns):
        raise MappingError(
            f"{path}: the mapping names {len(mapping.names)} columns but the file has "
            f"{len(staged.columns)}.",
            hint="Fix `names` in the mapping.",
        )
    return list(mapping.names)


def date_bounds(store: StoreLike, now: datetime) -> DateBounds:
    """The dates an import at ``now`` accepts, from the store's settings."""
    settings = store.settings
    return DateBounds(
        earliest=datetime.combine(settings.earliest_date, datetime.min.time()),
        latest=now + timedelta(hours=settings.future_tolerance_hours),
    )


def now_utc() -> datetime:
    """Now, as the naive UTC timestamp the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)

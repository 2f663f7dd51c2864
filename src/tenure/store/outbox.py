"""The outbox's writes to ``messages`` (docs/delivery.md): claiming due messages under a lease,
and updating claimed rows only while their lease is still held. The engine branches of the
dispatcher live here.

On DuckDB a claim is one transaction: the due rows are picked and updated to ``sending`` in
it, so two dispatchers (two connections of one process: DuckDB lets one process write a
file) never claim the same row; the second to write gets DuckDB's transaction conflict and
claims again. Updates are one ``UPDATE ... FROM`` of the new values, guarded by the state and
the lease owner. On another engine (Spark, no row updates) the rows are read and written back
with :meth:`Store.upsert`: correct for one dispatcher at a time, which is what the Spark
store's lock allows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from tenure.store.protocol import StoreLike
from tenure.store.schema import TABLES

#: How many times a claim is tried again after a transaction conflict with another dispatcher.
CONFLICT_RETRIES = 50
#: The claim's own columns, returned beside the row: the row was claimed back from a
#: dispatcher that died (``reclaimed``) after handing it over (``resend``).
CLAIM_FLAGS = ("reclaimed", "resend")


def _due_filter(t: ibis.Table, now: datetime, channels: Sequence[str]) -> ibis.BooleanValue:
    at = ibis.coalesce(t.next_attempt_at, t.release_at, t.due_at, ibis.literal(now))
    pending = (t.state == "pending") & (at <= ibis.literal(now))
    expired = (t.state == "sending") & (
        t.lease_until.isnull() | (t.lease_until < ibis.literal(now))
    )
    return t.channel.isin(list(channels)) & (pending | expired)


#: The due rows, on DuckDB (the same filter as :func:`_due_filter`, without Ibis's compile
#: time, which is most of a small claim's).
_PICK_SQL = (
    "SELECT message_key, state = 'sending' AS reclaimed, "
    "state = 'sending' AND handed_at IS NOT NULL AS resend FROM {table} "
    "WHERE list_contains(?, channel) AND ("
    "(state = 'pending' AND coalesce(next_attempt_at, release_at, due_at, ?) <= ?) "
    "OR (state = 'sending' AND (lease_until IS NULL OR lease_until < ?))) "
    "ORDER BY coalesce(next_attempt_at, release_at, due_at) NULLS FIRST, message_key LIMIT ?"
)


def _picked(store: StoreLike, now: datetime, channels: Sequence[str], limit: int) -> pa.Table:
    if store.con.name == "duckdb":
        sql = _PICK_SQL.format(table=store.physical("messages"))  # our own table name
        return store.con.con.execute(
            sql, [list(channels), now, now, now, limit]
        ).fetch_arrow_table()
    t = store.table("messages")
    t = t.filter(_due_filter(t, now, channels))
    order = ibis.coalesce(t.next_attempt_at, t.release_at, t.due_at)
    t = t.order_by([order.asc(nulls_first=True), t.message_key]).limit(limit)
    return t.select(
        "message_key",
        reclaimed=t.state == "sending",
        resend=(t.state == "sending") & t.handed_at.notnull(),
    ).to_pyarrow()


def claim_messages(
    store: StoreLike,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    channels: Sequence[str],
) -> pa.Table:
    """Claim at most ``limit`` due messages of ``channels`` for ``owner`` until
    ``lease_until``: ``pending`` ones whose time has come (``next_attempt_at``, else
    ``release_at``, else ``due_at``), and ``sending`` ones whose lease expired. Each becomes
    ``sending`` with ``attempts`` + 1 (``resends`` + 1 when it had been handed over). Returns
    the claimed rows as they are now, with :data:`CLAIM_FLAGS`, in due order."""
    if limit <= 0 or not channels:
        return pa.table({"message_key": pa.array([], pa.string())})
    if store.con.name != "duckdb":
        return _claim_rewrite(store, owner, now, lease_until, limit, channels)
    import duckdb

    for _ in range(CONFLICT_RETRIES):
        try:
            with store.transaction():
                picked = _picked(store, now, channels, limit)
                rows = _claim_duckdb(store, picked, owner, now, lease_until)
            return rows
        except duckdb.TransactionException:
            continue
    from tenure.errors import StoreLockedError

    raise StoreLockedError(
        f"Could not claim messages: {CONFLICT_RETRIES} transaction conflicts in a row with "
        "other dispatchers.",
        hint="Run fewer dispatchers at once, or a smaller --batch.",
    )


def _claim_duckdb(
    store: StoreLike, picked: pa.Table, owner: str, now: datetime, until: datetime
) -> pa.Table:
    if picked.num_rows == 0:
        return picked
    raw = store.con.con
    table = store.physical("messages")
    view = f"_tenure_claim_{uuid.uuid4().hex[:12]}"
    raw.register(view, picked)
    try:
        claimed = raw.execute(
            f"UPDATE {table} AS m SET state = 'sending', lease_owner = ?, lease_until = ?, "
            "attempts = coalesce(m.attempts, 0) + 1, "
            "resends = coalesce(m.resends, 0) + CASE WHEN c.resend THEN 1 ELSE 0 END, "
            "handed_at = NULL, updated_at = ? "
            f"FROM {view} AS c WHERE m.message_key = c.message_key RETURNING m.*",
            [owner, until, now],
        ).fetch_arrow_table()
    finally:
        raw.unregister(view)
    return _with_flags(claimed, picked)


def _with_flags(rows: pa.Table, picked: pa.Table) -> pa.Table:
    """``rows`` in the order of ``picked``, with its claim flags."""
    position = {k: i for i, k in enumerate(picked.column("message_key").to_pylist())}
    order = sorted(range(rows.num_rows), key=lambda i: position[rows["message_key"][i].as_py()])
    rows = rows.take(pa.array(order, pa.int64()))
    at = pa.array([position[k] for k in rows.column("message_key").to_pylist()], pa.int64())
    for flag in CLAIM_FLAGS:
        rows = rows.append_column(flag, picked.column(flag).take(at))
    return rows


def _claim_rewrite(
    store: StoreLike,
    owner: str,
    now: datetime,
    until: datetime,
    limit: int,
    channels: Sequence[str],
) -> pa.Table:
    picked = _picked(store, now, channels, limit)
    if picked.num_rows == 0:
        return picked
    t = store.table("messages")
    keys = picked.column("message_key").to_pylist()
    current = t.filter(t.message_key.isin(keys)).to_pyarrow()
    current = _with_flags(current, picked)
    n = current.num_rows
    resend = current.column("resend")
    updated = _set(
        current,
        state=pa.array(["sending"] * n),
        lease_owner=pa.array([owner] * n),
        lease_until=pa.array([until] * n, pa.timestamp("us")),
        attempts=pc.add(pc.fill_null(current.column("attempts"), 0), 1),
        resends=pc.add(pc.fill_null(current.column("resends"), 0), pc.cast(resend, pa.int64())),
        handed_at=pa.nulls(n, pa.timestamp("us")),
        updated_at=pa.array([now] * n, pa.timestamp("us")),
    )
    store.upsert("messages", ["message_key"], updated.drop_columns(list(CLAIM_FLAGS)))
    return updated


def _set(rows: pa.Table, **columns: pa.Array | pa.ChunkedArray) -> pa.Table:
    for name, values in columns.items():
        i = rows.schema.get_field_index(name)
        values = values.cast(rows.schema.field(name).type)
        rows = rows.set_column(i, name, values)
    return rows


def update_claimed(store: StoreLike, rows: pa.Table, *, owner: str) -> set[str]:
    """Write the columns of ``rows`` (``message_key`` and any columns of ``messages``) over
    the rows of those keys that are still ``sending`` under ``owner``'s lease; return the
    keys written (fewer: a lease was lost to another dispatcher)."""
    if rows.num_rows == 0:
        return set()
    if store.con.name != "duckdb":
        return _update_rewrite(store, rows, owner)
    spec = TABLES["messages"].schema
    sets = [c for c in rows.column_names if c != "message_key"]
    typed = pa.table({c: rows.column(c).cast(spec[c].to_pyarrow()) for c in rows.column_names})
    raw = store.con.con
    table = store.physical("messages")
    view = f"_tenure_settle_{uuid.uuid4().hex[:12]}"
    assignments = ", ".join(f'"{c}" = r."{c}"' for c in sets)  # our own column names
    raw.register(view, typed)
    try:
        done = raw.execute(
            f"UPDATE {table} AS m SET {assignments} FROM {view} AS r "
            "WHERE m.message_key = r.message_key AND m.state = 'sending' AND m.lease_owner = ? "
            "RETURNING m.message_key",
            [owner],
        ).fetchall()
    finally:
        raw.unregister(view)
    return {str(r[0]) for r in done}


def _update_rewrite(store: StoreLike, rows: pa.Table, owner: str) -> set[str]:
    t = store.table("messages")
    keys = rows.column("message_key").to_pylist()
    current = t.filter(
        t.message_key.isin(keys) & (t.state == "sending") & (t.lease_owner == owner)
    ).to_pyarrow()
    if current.num_rows == 0:
        return set()
    held = set(current.column("message_key").to_pylist())
    mine = rows.filter(pc.is_in(rows.column("message_key"), pa.array(sorted(held))))
    position = {k: i for i, k in enumerate(mine.column("message_key").to_pylist())}
    at = pa.array([position[k] for k in current.column("message_key").to_pylist()], pa.int64())
    new = {c: mine.column(c).take(at) for c in mine.column_names if c != "message_key"}
    store.upsert("messages", ["message_key"], _set(current, **new))
    return held

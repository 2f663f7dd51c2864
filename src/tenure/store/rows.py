"""Rewriting some rows of a stored table: deleting the rows a predicate picks (privacy
deletion), replacing the rows of some keys by new versions (an import with ``update``).

On DuckDB the work runs in one transaction, so an error loses nothing. On an engine without
transactions (Spark) the table is rewritten: the kept rows are copied to a scratch table
before the table is emptied, and an error after that names the scratch table holding them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.errors import StoreError
from tenure.store.protocol import StoreLike
from tenure.store.schema import TABLES
from tenure.store.tables import scratch_name

Predicate = Callable[[ir.Table], ir.BooleanValue]


def delete_where(store: StoreLike, name: str, predicate: Predicate) -> int:
    """Delete the rows of table ``name`` that ``predicate`` picks (a null picks nothing);
    return how many there were. The kept rows go to a scratch table
    (``_tenure_keep_<name>_...``) and the table is rewritten from it."""
    table = store.read(name)
    mine = ibis.coalesce(predicate(table), ibis.literal(False))
    count = int(table.filter(mine).count().execute())
    if not count:
        return 0
    kept = store.scratch_table(f"keep_{name}", table.filter(~mine))
    scratch = kept.get_name()
    try:
        _refill(store, name, kept)
    except Exception as exc:
        if store.transactional:
            raise
        raise StoreError(
            f"Deleting rows from {name!r} failed after the table was emptied; "
            f"its other rows are kept in {scratch!r}: {exc}",
            hint=f"Insert the rows of {scratch!r} back into {name!r}, then run the deletion again.",
        ) from exc
    store.drop(scratch)
    return count


def _refill(store: StoreLike, name: str, kept: ir.Table) -> None:
    if name in TABLES:
        store.truncate(name)
        store.insert(name, kept)
    else:
        store.drop(name)
        store.replace(name, kept)


def upsert(store: StoreLike, name: str, key: Sequence[str], rows: pa.Table) -> int:
    """Replace the rows of canonical table ``name`` whose ``key`` is in ``rows`` by ``rows``
    (new keys are added); return the rows written. On an engine without transactions the
    other rows go to a scratch table (``_tenure_update_<name>_...``) first; an error after the
    table was emptied names it."""
    if rows.num_rows == 0:
        return 0
    if store.transactional:
        with store.transaction():
            _delete_keys(store, name, key, rows.select(list(key)))
            store.insert(name, rows)
        return rows.num_rows
    t = store.table(name)
    # null-safe: a key field may be empty (spend's campaign)
    keys = ibis.memtable(rows.select(list(key)))
    kept = store.scratch_table(
        f"update_{name}", t.anti_join(keys, [t[k].identical_to(keys[k]) for k in key])
    )
    scratch = kept.get_name()
    try:
        store.truncate(name)
        store.insert(name, kept)
        store.insert(name, rows)
    except Exception as exc:
        raise StoreError(
            f"Updating {name!r} failed after the table was emptied; its other rows are kept "
            f"in {scratch!r} and the new versions were not written: {exc}",
            hint=f"Insert the rows of {scratch!r} back into {name!r}, then import again "
            "with --update.",
        ) from exc
    store.drop(scratch)
    return rows.num_rows


def _delete_keys(store: StoreLike, name: str, key: Sequence[str], keys: pa.Table) -> None:
    """DuckDB: ``DELETE`` the rows of ``name`` whose ``key`` is in ``keys``."""
    raw = store.con.con
    view = scratch_name("keys")
    table = store.physical(name)  # a shadow's scratch table inside Store.shadowed
    on = " AND ".join(f'{table}."{k}" IS NOT DISTINCT FROM k."{k}"' for k in key)
    raw.register(view, keys)
    try:
        raw.execute(f"DELETE FROM {table} USING {view} k WHERE {on}")
    finally:
        raw.unregister(view)

"""What both resolutions (full and incremental) share: the persons of the last resolution
(:func:`known`, :func:`current_flags`), person ids (:func:`person_ids`: the oldest id of a
component survives, the others are logged as merges), the writes (``identities``,
``identity_flags`` with the state row, ``identity_merges``) and the result
(:class:`IdentityResult`). :mod:`tenure.identity.resolve` and
:mod:`tenure.identity.incremental` import from here; nothing here imports either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.identity.state import STATE_KIND, STATE_NODE, STATE_REASON, State
from tenure.store import Store

MERGE_REASON = "new edges joined their identifiers"


@dataclass(frozen=True)
class IdentityResult:
    """What a resolution found and how.

    ``mode`` is ``full`` or ``incremental``; ``full_because`` says why a run was full.
    ``edges`` counts the edge rows built from the source tables (all of them in a full run;
    those of the new rows, and of the persons they touch when the verified-email rule is on,
    in an incremental one); ``graph_edges`` the edges label propagation ran on.
    """

    identifiers: int
    persons: int
    flagged: int
    merges: int
    iterations: int
    edges: int
    graph_edges: int
    mode: str
    full_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def split(node: ir.StringValue) -> tuple[ir.StringValue, ir.StringValue]:
    """``kind:value`` -> (kind, value)."""
    kind = node.re_extract(r"^([a-z_]+):", 1)
    value = node.substr(kind.length() + 1)
    return kind, value


class Scratch:
    """Intermediate results written as real tables (temporary on DuckDB): this cuts the
    query lineage, which on Spark otherwise grows with every label-propagation step."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.names: list[str] = []

    def __call__(self, expr: ir.Table) -> ir.Table:
        table = self.store.scratch_table("tmp", expr)
        self.names.append(table.get_name())
        return table

    def drop(self) -> None:
        for name in self.names:
            self.store.drop(name)


def count(table: ir.Table) -> int:
    return int(table.count().execute())


def known(store: Store) -> ir.Table:
    """``identities`` keyed by node: node, pid, first_seen, last_seen, source."""
    ids = store.table("identities")
    return ids.select(
        node=ids.kind + ":" + ids.value,
        pid=ids.person_id,
        first_seen=ids.first_seen,
        last_seen=ids.last_seen,
        source=ids.source,
    )


def current_flags(store: Store) -> ir.Table:
    """The flagged identifiers of the last resolution (without the state row)."""
    f = store.table("identity_flags")
    return f.filter(f.kind != STATE_KIND).select("node", "reason", "flagged_at")


def person_ids(
    labels: ir.Table, old: ir.Table, cache: Scratch
) -> tuple[ir.Table, list[tuple[str, str]]]:
    """node -> person_id: the oldest existing person id in the component, else a new one,
    ``P-`` + 16 hex digits of md5(label and the time of this run): computed the same on every
    engine, never equal to an id given before, and holding no personal data.

    ``old`` holds ``(node, old_pid, old_seen)`` for the nodes that had a person (the age of a
    person id is the first sighting of its oldest identifier)."""
    with_old = labels.join(old, labels.node == old.node).select(
        labels.label, old.old_pid, old.old_seen
    )
    pid_age = with_old.group_by(["label", "old_pid"]).agg(age=with_old.old_seen.min())
    # after a split (unmerge) an old id is kept by one component only: the one holding its
    # oldest identifier; the others get new ids
    owner = pid_age.mutate(
        own=ibis.row_number().over(group_by=pid_age.old_pid, order_by=[pid_age.age, pid_age.label])
    )
    owned = owner.filter(owner.own == 0)
    ranked = cache(
        owned.mutate(
            rank=ibis.row_number().over(group_by=owned.label, order_by=[owned.age, owned.old_pid])
        )
    )
    keep = ranked.filter(ranked.rank == 0).select("label", kept=ranked.old_pid)
    merged = ranked.filter(ranked.rank > 0).join(keep, "label")
    merges = [(r["kept"], r["old_pid"]) for r in merged.to_pyarrow().to_pylist()]
    fresh = (labels.label + ibis.literal(f"|{now().isoformat()}")).hexdigest("md5")
    persons = cache(
        labels.left_join(keep, "label").select(
            labels.node,
            person_id=ibis.coalesce(keep.kept, ibis.literal("P-") + fresh.substr(0, 16)),
        )
    )
    return persons, merges


def write_identities(store: Store, rows: ir.Table) -> None:
    """Replace ``identities`` with ``rows`` (node, person_id, first_seen, last_seen, source),
    which must not read ``identities`` itself (materialise them first)."""
    store.truncate("identities")
    store.insert("identities", _stored(rows))


def _stored(rows: ir.Table) -> ir.Table:
    """Rows keyed by node as ``identities`` stores them (kind, value, ...)."""
    kind, value = split(rows.node)
    return rows.select(
        kind=kind,
        value=value,
        person_id=rows.person_id,
        first_seen=rows.first_seen,
        last_seen=rows.last_seen,
        source=rows.source,
    )


def update_identities(store: Store, rows: ir.Table, before: ir.Table) -> int:
    """Bring ``identities`` from ``before`` (:func:`known`) to ``rows`` (node, person_id,
    first_seen, last_seen, source: the new identifiers and the rows that may have changed)
    by writing only the rows that differ (new identifiers, widened sightings, moved persons);
    return how many. ``rows`` must not read ``identities`` itself (materialise them first)."""
    old = before.select(
        "node", person_id="pid", first_seen="first_seen", last_seen="last_seen", source="source"
    )
    wanted = rows.select(r_node="node")
    old = old.semi_join(wanted, old.node == wanted.r_node)
    changed = rows.difference(old.select(*rows.columns))
    return store.upsert("identities", ("kind", "value"), _stored(changed).to_pyarrow())


def write_flags(store: Store, flags: ir.Table, state: State) -> None:
    """Replace ``identity_flags`` with ``flags`` (node, reason) and the state row; a node
    flagged before keeps the time it was first flagged."""
    before = current_flags(store).select(was="node", since="flagged_at").to_pyarrow()
    known_since = ibis.memtable(before) if before.num_rows else None
    kind, value = split(flags.node)
    rows = flags.select(
        "node", kind=kind, value=value, reason=flags.reason, flagged_at=ibis.literal(state.at)
    )
    if known_since is not None:
        j = rows.left_join(known_since, rows.node == known_since.was)
        rows = j.select(
            "node", "kind", "value", "reason", flagged_at=ibis.coalesce(j.since, j.flagged_at)
        )
    out = rows.to_pyarrow()
    store.truncate("identity_flags")
    store.insert("identity_flags", out)
    store.insert(
        "identity_flags",
        pa.table(
            {
                "node": [STATE_NODE],
                "kind": [STATE_KIND],
                "value": [state.to_json()],
                "reason": [STATE_REASON],
                "flagged_at": pa.array([state.at], pa.timestamp("us")),
            }
        ),
    )


def log_merges(store: Store, merges: list[tuple[str, str]], at: datetime) -> None:
    if not merges:
        return
    store.insert(
        "identity_merges",
        pa.table(
            {
                "kept_person_id": [k for k, _ in merges],
                "merged_person_id": [m for _, m in merges],
                "merged_at": pa.array([at] * len(merges), pa.timestamp("us")),
                "reason": [MERGE_REASON] * len(merges),
            }
        ),
    )

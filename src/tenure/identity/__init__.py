"""One customer, one profile: identity resolution over the store's identifiers.

``resolve_identities(store)`` builds the identity graph (:mod:`tenure.identity.graph`),
flags identifiers that must not merge people, computes persons as connected components in the
engine, keeps person ids stable across runs (a merge keeps the oldest id and is logged), and
writes every identifier with its person to ``identities``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError
from tenure.identity.graph import (
    components,
    event_edges,
    guest_nodes,
    overlinked_nodes,
    record_edges,
    sightings_without_edges,
)
from tenure.identity.normalize import normalize_email, normalize_phone
from tenure.store import Store

__all__ = [
    "IdentityResult",
    "attributed",
    "normalize_email",
    "normalize_phone",
    "person_of",
    "resolve_identities",
    "unmerge",
]


@dataclass(frozen=True)
class IdentityResult:
    """What a resolution found."""

    identifiers: int
    persons: int
    flagged: int
    merges: int
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _split(node: ir.StringValue) -> tuple[ir.StringValue, ir.StringValue]:
    kind = node.re_extract(r"^([a-z_]+):", 1)
    value = node.substr(kind.length() + 1)
    return kind, value


class _Scratch:
    """Intermediate results written as real tables (temporary on DuckDB): this cuts the
    query lineage, which on Spark otherwise grows with every label-propagation step."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.names: list[str] = []

    def __call__(self, expr: ir.Table) -> ir.Table:
        name = f"_tenure_tmp_{uuid.uuid4().hex[:12]}"
        temp = self.store.is_duckdb
        self.store.con.create_table(name, expr, temp=temp)
        self.names.append(name)
        return self.store.con.table(name)

    def drop(self) -> None:
        for name in self.names:
            self.store.con.drop_table(name, force=True)


def resolve_identities(store: Store, *, max_customers: int = 1) -> IdentityResult:
    """Resolve every identifier in the store to a person; rewrite ``identities``."""
    scratch = _Scratch(store)
    try:
        return _resolve(store, max_customers, scratch)
    finally:
        scratch.drop()


def _resolve(store: Store, max_customers: int, cache: _Scratch) -> IdentityResult:
    if max_customers < 1:
        raise ConfigError(
            f"The 'max_customers' parameter must be an int >= 1. Got {max_customers}."
        )
    edges = event_edges(store).union(record_edges(store, store.settings.default_region))
    edges = cache(edges.filter(edges.a.notnull() & edges.b.notnull() & (edges.a != edges.b)))
    flags = guest_nodes(edges).union(overlinked_nodes(edges, max_customers))
    flags = cache(flags.group_by("node").agg(reason=flags.reason.min()))
    bad = flags.node
    clean = edges.filter(~edges.a.isin(bad) & ~edges.b.isin(bad))
    blocked = store.table("identity_blocked_edges")
    pairs = blocked.select("a", "b").union(blocked.select(a=blocked.b, b=blocked.a))
    clean = cache(clean.anti_join(pairs, [clean.a == pairs.a, clean.b == pairs.b]))
    ts = "timestamp"  # one precision on every side of the union (cached tables report 6)
    sightings = ibis.union(
        edges.select("a", "source", at=edges.at.cast(ts)),
        edges.select(a=edges.b, source=edges.source, at=edges.at.cast(ts)),
        sightings_without_edges(store),
    )
    seen = cache(
        sightings.group_by(node=sightings.a).agg(
            first_seen=sightings.at.min(),
            last_seen=sightings.at.max(),
            source=sightings.source.min(),
        )
    )
    nodes = seen.filter(~seen.node.isin(bad)).select("node")
    comp = components(clean, nodes, cache=cache)
    persons, merges = _person_ids(store, comp.labels, seen, cache)
    _write(store, persons, seen, flags, merges)
    n_flagged = int(flags.count().execute())
    return IdentityResult(
        identifiers=int(seen.count().execute()),
        persons=int(persons.person_id.nunique().execute()),
        flagged=n_flagged,
        merges=len(merges),
        iterations=comp.iterations,
    )


def _person_ids(
    store: Store, labels: ir.Table, seen: ir.Table, cache: _Scratch
) -> tuple[ir.Table, list[tuple[str, str]]]:
    """node -> person_id: the oldest existing person id in the component, else a new one,
    ``P-`` + 16 hex digits of md5(label and the time of this run): computed the same on every
    engine, never equal to an id given before, and holding no personal data."""
    old = store.table("identities")
    old = old.filter(old.person_id.notnull()).select(
        node=old.kind + ":" + old.value, old_pid=old.person_id, old_seen=old.first_seen
    )
    with_old = labels.left_join(old, labels.node == old.node).select(
        labels.node, labels.label, old.old_pid, old.old_seen
    )
    has = with_old.filter(with_old.old_pid.notnull())
    pid_age = has.group_by(["label", "old_pid"]).agg(age=has.old_seen.min())
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
    persons = cache(
        labels.left_join(keep, "label").select(
            labels.node,
            person_id=ibis.coalesce(
                keep.kept,
                ibis.literal("P-")
                + (labels.label + ibis.literal(f"|{_now().isoformat()}"))
                .hexdigest("md5")
                .substr(0, 16),
            ),
        )
    )
    return persons, merges


def _write(
    store: Store,
    persons: ir.Table,
    seen: ir.Table,
    flags: ir.Table,
    merges: list[tuple[str, str]],
) -> None:
    now = _now()
    rows = seen.left_join(persons, seen.node == persons.node).select(
        seen.node, persons.person_id, seen.first_seen, seen.last_seen, seen.source
    )
    kind, value = _split(rows.node)
    out = rows.select(
        kind=kind,
        value=value,
        person_id=rows.person_id,
        first_seen=rows.first_seen,
        last_seen=rows.last_seen,
        source=rows.source,
    ).to_pyarrow()
    fkind, fvalue = _split(flags.node)
    flag_rows = flags.select(
        node=flags.node,
        kind=fkind,
        value=fvalue,
        reason=flags.reason,
        flagged_at=ibis.literal(now),
    ).to_pyarrow()
    store.truncate("identities")
    store.insert("identities", out)
    store.truncate("identity_flags")
    store.insert("identity_flags", flag_rows)
    if merges:
        import pyarrow as pa

        store.insert(
            "identity_merges",
            pa.table(
                {
                    "kept_person_id": [k for k, _ in merges],
                    "merged_person_id": [m for _, m in merges],
                    "merged_at": pa.array([now] * len(merges), pa.timestamp("us")),
                    "reason": ["new edges joined their identifiers"] * len(merges),
                }
            ),
        )


def person_of(store: Store, identifier: str) -> str | None:
    """The person of an identifier given as ``kind:value`` or as a bare email or id."""
    ids = store.table("identities")
    if ":" in identifier:
        kind, _, value = identifier.partition(":")
        found = ids.filter((ids.kind == kind) & (ids.value == value))
    else:
        email = normalize_email(identifier)
        candidates = [v for v in (identifier.strip(), email) if v]
        found = ids.filter(ids.value.isin(candidates))
    rows = found.select("person_id").limit(1).to_pyarrow().column("person_id").to_pylist()
    return rows[0] if rows else None


def unmerge(
    store: Store, a: str, b: str, *, reason: str = "wrong merge", max_customers: int = 1
) -> IdentityResult:
    """Split a wrong merge along the edge between identifiers ``a`` and ``b`` (``kind:value``).

    The edge is recorded in ``identity_blocked_edges`` so later resolutions never use it
    again, and persons are resolved anew: the part holding the person's oldest identifier
    keeps its id, the other part gets a new one.
    """
    import pyarrow as pa

    from tenure.errors import TenureError

    ids = store.table("identities")
    for node in (a, b):
        kind, _, value = node.partition(":")
        if ids.filter((ids.kind == kind) & (ids.value == value)).count().execute() == 0:
            raise TenureError(
                f"No identifier {node!r} is known.",
                hint="Give both ends as kind:value, e.g. email:ann@example.com.",
            )
    store.insert(
        "identity_blocked_edges",
        pa.table(
            {"a": [a], "b": [b], "reason": [reason], "at": pa.array([_now()], pa.timestamp("us"))}
        ),
    )
    return resolve_identities(store, max_customers=max_customers)


def attributed(store: Store, table: str) -> ir.Table:
    """``events`` or ``orders`` with the ``person_id`` of each row, through the identities.

    Events go by their device (``anonymous_id``) first, so events from before a person
    identified belong to them once the device is stitched; then by ``user_id``. Orders go by
    customer id, then by e-mail (guest orders). Rows of no known person get a null person.
    """
    ids = store.table("identities")
    if table == "events":
        e = store.table("events")
        anon = ids.filter(ids.kind == "anonymous_id").select(a_value="value", a_pid="person_id")
        user = ids.filter(ids.kind == "customer_id").select(u_value="value", u_pid="person_id")
        joined = e.left_join(anon, e.anonymous_id == anon.a_value).left_join(
            user, e.user_id == user.u_value
        )
        return joined.select(*e.columns, person_id=ibis.coalesce(joined.a_pid, joined.u_pid))
    if table == "orders":
        o = store.table("orders")
        cust = ids.filter(ids.kind == "customer_id").select(c_value="value", c_pid="person_id")
        mail = ids.filter(ids.kind == "email").select(m_value="value", m_pid="person_id")
        joined = o.left_join(cust, o.customer_id == cust.c_value).left_join(
            mail, o.email.strip().lower() == mail.m_value
        )
        return joined.select(*o.columns, person_id=ibis.coalesce(joined.c_pid, joined.m_pid))
    raise ConfigError(f"The 'table' parameter must be 'events' or 'orders'. Got {table!r}.")

"""``resolve_identities``: choose the full or the incremental resolution, run the full one,
and ``unmerge``.

The full path builds every edge, flags the identifiers that must not merge people (shared
addresses, over-linked identifiers, and with the rule on those that would join two verified
e-mails), computes persons as connected components in the engine, keeps person ids stable
(a merge keeps the oldest id and is logged) and rewrites ``identities`` and ``identity_flags``
(with the state the next, incremental, run starts from: :mod:`tenure.identity.state`). What
it shares with the incremental path (:mod:`tenure.identity.incremental`) is in
:mod:`tenure.identity.persons`, so the imports point one way: resolve -> incremental ->
persons -> state.
"""

from __future__ import annotations

import pyarrow as pa

from tenure.errors import ConfigError, TenureError
from tenure.identity.graph import (
    Sources,
    all_edges,
    components,
    guest_nodes,
    one_reason,
    overlinked_nodes,
    sightings,
    without,
)
from tenure.identity.incremental import resolve_incremental
from tenure.identity.persons import (
    IdentityResult,
    Scratch,
    count,
    known,
    log_merges,
    now,
    person_ids,
    write_flags,
    write_identities,
)
from tenure.identity.rules import verified_email_flags
from tenure.identity.state import Params, Snapshot, State, read_state, why_full
from tenure.progress import ProgressCallback, Steps
from tenure.store import Store

#: The progress task of a resolution, and the phases of a full one.
IDENTITY_TASK = "Identity"
FULL_PHASES = (
    "read the state",
    "edges and flags",
    "connected components",
    "person ids",
    "write identities",
)


def resolve_identities(
    store: Store,
    *,
    max_customers: int = 1,
    verified_emails_never_merge: bool | None = None,
    incremental: bool = True,
    progress: ProgressCallback | None = None,
) -> IdentityResult:
    """Resolve every identifier in the store to a person; write ``identities``.

    ``verified_emails_never_merge`` defaults to the setting of the same name. With
    ``incremental`` (the default) only the rows imported since the last resolution are added
    to its persons, when that gives the same persons as a full run; otherwise (or with
    ``incremental=False``) every identifier is resolved again, and ``full_because`` says why.
    ``progress`` is told the phases (:data:`FULL_PHASES`, or the incremental one) and the
    label-propagation rounds.
    """
    if max_customers < 1:
        raise ConfigError(
            f"The 'max_customers' parameter must be an int >= 1. Got {max_customers}."
        )
    rule = verified_emails_never_merge
    if rule is None:
        rule = store.settings.verified_emails_never_merge
    params = Params(max_customers, bool(rule), store.settings.default_region)
    scratch = Scratch(store)
    steps = Steps(progress, IDENTITY_TASK, len(FULL_PHASES))
    try:
        steps("read the state")
        snap = Snapshot.take(store)
        state = read_state(store)
        because = (
            why_full(store, state, params, snap)
            if incremental
            else "a full resolution was asked for"
        )
        if because is None and state is not None:
            steps("add the new rows")
            outcome = resolve_incremental(store, params, state, snap, scratch)
            if isinstance(outcome, IdentityResult):
                steps.done()
                return outcome
            because = outcome
        result = resolve_full(store, params, snap, scratch, because, steps)
        steps.done()
        return result
    finally:
        scratch.drop()


def resolve_full(
    store: Store,
    params: Params,
    snap: Snapshot,
    cache: Scratch,
    because: str | None,
    steps: Steps | None = None,
) -> IdentityResult:
    """Resolve every identifier of the store anew (telling ``steps`` the phases)."""
    steps = steps or Steps(None, IDENTITY_TASK, len(FULL_PHASES))
    steps(FULL_PHASES[1])
    src = Sources.of(store)
    edges = cache(all_edges(src, params.default_region))
    flags = guest_nodes(edges).union(overlinked_nodes(edges, params.max_customers))
    flags = cache(one_reason(flags))
    clean = cache(without(edges, flags, store.table("identity_blocked_edges")))
    if params.verified_emails_never_merge:
        rule = cache(verified_email_flags(clean, cache).flags)
        flags = cache(one_reason(flags.union(rule)))
        clean = cache(without(clean, rule))
    seen = cache(sightings(src, edges))
    steps(FULL_PHASES[2])
    nodes = seen.anti_join(flags, "node").select("node")
    comp = components(clean, nodes, cache=cache, on_round=lambda i: steps.detail(f"round {i}"))
    steps(FULL_PHASES[3])
    k = known(store)
    old = k.filter(k.pid.notnull()).select("node", old_pid=k.pid, old_seen=k.first_seen)
    persons, merges = person_ids(comp.labels, old, cache)
    rows = seen.left_join(persons, seen.node == persons.node).select(
        seen.node, persons.person_id, seen.first_seen, seen.last_seen, seen.source
    )
    at = now()
    steps(FULL_PHASES[4])
    write_identities(store, cache(rows))
    write_flags(store, flags, State(params, snap, at))
    log_merges(store, merges, at)
    return IdentityResult(
        identifiers=count(seen),
        persons=int(persons.person_id.nunique().execute()),
        flagged=count(flags),
        merges=len(merges),
        iterations=comp.iterations,
        edges=count(edges),
        graph_edges=count(clean),
        mode="full",
        full_because=because or "no earlier resolution to build on",
    )


def unmerge(
    store: Store,
    a: str,
    b: str,
    *,
    reason: str = "wrong merge",
    max_customers: int = 1,
    verified_emails_never_merge: bool | None = None,
) -> IdentityResult:
    """Split a wrong merge along the edge between identifiers ``a`` and ``b`` (``kind:value``).

    The edge is recorded in ``identity_blocked_edges`` so later resolutions never use it
    again, and persons are resolved anew: the part holding the person's oldest identifier
    keeps its id, the other part gets a new one. Two identifiers of different persons were
    never merged: that is refused (a TenureError) and nothing is recorded.
    """
    ids = store.table("identities")
    persons = []
    for node in (a, b):
        kind, _, value = node.partition(":")
        found = ids.filter((ids.kind == kind) & (ids.value == value)).select("person_id")
        rows = found.limit(1).to_pyarrow().column("person_id").to_pylist()
        if not rows:
            raise TenureError(
                f"No identifier {node!r} is known.",
                hint="Give both ends as kind:value, e.g. email:ann@example.com.",
            )
        persons.append(rows[0])
    if persons[0] != persons[1]:
        raise TenureError(
            f"{a} and {b} were never merged: {a} is person {persons[0]}, {b} is person "
            f"{persons[1]}. Nothing was recorded.",
            hint="Unmerge two identifiers of one person; `tenure profile show ID` lists a "
            "person's identifiers.",
        )
    store.insert(
        "identity_blocked_edges",
        pa.table(
            {"a": [a], "b": [b], "reason": [reason], "at": pa.array([now()], pa.timestamp("us"))}
        ),
    )
    return resolve_identities(
        store, max_customers=max_customers, verified_emails_never_merge=verified_emails_never_merge
    )

"""Incremental resolution: add the rows imported since the last resolution to its persons.

The persons of the last resolution are contracted to super-nodes (their person id); the edges
of the new rows are mapped onto them (an identifier seen before stands for its person, a new
one for itself); label propagation runs on that small graph; a component holding several
persons keeps the oldest id and logs the merge, as a full run does.

It gives the same persons, flags and merges as a full resolution of the same store, or it is
not used: :func:`resolve_incremental` returns the reason instead, and the caller resolves in
full. The reasons, besides those of :func:`tenure.identity.state.why_full`:

* an identifier seen before and not flagged would now link more customer ids than allowed
  (a flag that could split a person), or such an identifier is an end of a blocked edge;
* with the verified-email rule on: new rows link an identifier the rule flagged; the persons
  the new rows touch border such an identifier; or, checked on the raw edges of the touched
  persons, the rule would flag something there.

New identifiers are flagged on the spot (a shared address, or linking too many customer ids
through new rows only); an old identifier with a shared address had no edge before, so it was
a person of its own, which simply ends.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.identity.graph import (
    OVERLINKED,
    TWO_VERIFIED,
    Sources,
    all_edges,
    components,
    customer_links,
    guest_nodes,
    one_reason,
    sightings,
    without,
)
from tenure.identity.persons import (
    IdentityResult,
    Scratch,
    count,
    current_flags,
    known,
    log_merges,
    now,
    person_ids,
    write_flags,
    write_identities,
)
from tenure.identity.rules import verified_email_flags
from tenure.identity.state import Params, Snapshot, State
from tenure.store import Store


def resolve_incremental(
    store: Store, params: Params, state: State, snap: Snapshot, cache: Scratch
) -> IdentityResult | str:
    """Add the rows imported after ``state``'s watermark; the reason to resolve in full
    instead when the result could differ from a full resolution."""
    src = Sources.of(store).imported_after(state.seen.watermark)
    new_edges = cache(all_edges(src, params.default_region))
    ids = cache(known(store))
    old_flags = cache(current_flags(store))
    flagged = _new_flags(store, params, new_edges, ids, old_flags, cache)
    if isinstance(flagged, str):
        return flagged
    flags = cache(old_flags.select("node", "reason").union(flagged))
    blocked = store.table("identity_blocked_edges")
    ends = cache(_onto_persons(without(new_edges, flags, blocked), ids))
    seen_new = cache(sightings(src, new_edges))
    new_nodes = seen_new.anti_join(ids, "node").anti_join(flags, "node").select("node")
    graph = cache(ends.filter(ends.a != ends.b).select("a", "b").distinct())
    nodes = graph.select(node=graph.a).union(graph.select(node=graph.b)).union(new_nodes)
    comp = components(graph, nodes, cache=cache)
    edges = count(new_edges)
    if params.verified_emails_never_merge:
        checked = _rule_check(store, params, ends, new_nodes, ids, flags, cache)
        if isinstance(checked, str):
            return checked
        edges += checked
    ages = ids.filter(ids.pid.notnull()).group_by("pid").agg(age=ids.first_seen.min())
    old = ages.select(node=ages.pid, old_pid=ages.pid, old_seen=ages.age)
    persons, merges = person_ids(comp.labels, old, cache)
    at = now()
    rows = cache(_updated_identities(ids, seen_new, persons, flags))
    write_identities(store, rows)
    write_flags(store, flags, State(params, snap, at))
    log_merges(store, merges, at)
    return IdentityResult(
        identifiers=count(rows),
        persons=int(rows.person_id.nunique().execute()),
        flagged=count(flags),
        merges=len(merges),
        iterations=comp.iterations,
        edges=edges,
        graph_edges=count(graph),
        mode="incremental",
    )


def _new_flags(
    store: Store,
    params: Params,
    new_edges: ir.Table,
    ids: ir.Table,
    old_flags: ir.Table,
    cache: Scratch,
) -> ir.Table | str:
    """Flags the new rows add (node, reason), or why they need a full resolution."""
    if params.verified_emails_never_merge:
        rule = old_flags.filter(old_flags.reason == TWO_VERIFIED)
        ends = new_edges.select(node=new_edges.a).union(new_edges.select(node=new_edges.b))
        hit = ends.semi_join(rule, "node").distinct()
        if (n := count(hit)) > 0:
            return (
                f"new rows link {n:,} identifiers flagged for linking two verified emails; the "
                "rule needs the whole graph"
            )
    guests = cache(guest_nodes(new_edges).anti_join(old_flags, "node"))
    links = customer_links(new_edges).select(node="x", customer="y").distinct()
    links = links.anti_join(old_flags, "node").anti_join(guests, "node")
    # customer ids an old identifier may have been linked to: those of its person
    had = ids.filter(ids.pid.notnull() & ids.node.startswith("customer_id:"))
    mine = links.select("node").distinct().join(ids, "node").select("node", "pid")
    before = mine.join(had, mine.pid == had.pid).select(mine.node, customer=had.node)
    both = links.union(before)
    over = cache(
        both.group_by("node")
        .agg(n=both.customer.nunique())
        .filter(lambda t: t.n > params.max_customers)
    )
    old_over = over.semi_join(ids, "node")
    if (n := count(old_over)) > 0:
        sample = ", ".join(old_over.node.to_pyarrow().to_pylist()[:3])
        return (
            f"{n:,} identifiers seen before may now link more than {params.max_customers} "
            f"customer ids ({sample}); flagging them can split persons"
        )
    blocked = store.table("identity_blocked_edges")
    block_ends = blocked.select(node=blocked.a).union(blocked.select(node=blocked.b))
    if count(links.semi_join(block_ends, "node")) > 0:
        return "new rows link customer ids to an end of a blocked edge"
    new_over = over.select("node", reason=ibis.literal(OVERLINKED))
    return one_reason(guests.union(new_over))


def _onto_persons(edges: ir.Table, ids: ir.Table) -> ir.Table:
    """Each end of each edge replaced by its person id (a new identifier stays itself)."""
    pid = ids.filter(ids.pid.notnull()).select("node", "pid")
    pa_ = pid.select(na="node", pa="pid")
    pb_ = pid.select(nb="node", pb="pid")
    e = edges.select("a", "b")
    ja = e.left_join(pa_, e.a == pa_.na).select("b", a=ibis.coalesce(pa_.pa, e.a))
    jb = ja.left_join(pb_, ja.b == pb_.nb)
    return jb.select("a", b=ibis.coalesce(jb.pb, jb.b))


def _rule_check(
    store: Store,
    params: Params,
    ends: ir.Table,
    new_nodes: ir.Table,
    ids: ir.Table,
    flags: ir.Table,
    cache: Scratch,
) -> int | str:
    """The verified-email rule on the raw edges of every person the new rows touch (and the
    new identifiers): the number of edges read, or why a full resolution is needed."""
    sup = ends.select(node=ends.a).union(ends.select(node=ends.b)).union(new_nodes)
    members = ids.semi_join(sup, ids.pid == sup.node).select("node")
    region = cache(members.union(sup.filter(sup.node.contains(":"))).distinct())
    rule_flagged = flags.filter(flags.reason == TWO_VERIFIED)
    value = region.node.re_extract(r"^[a-z_]+:(.*)$", 1)
    cust = region.filter(region.node.startswith("customer_id:")).select(value=value)
    rv = rule_flagged.node.re_extract(r"^[a-z_]+:(.*)$", 1)
    dev = region.filter(region.node.startswith("anonymous_id:")).select(value=value)
    dev = dev.union(
        rule_flagged.filter(rule_flagged.node.startswith("anonymous_id:")).select(value=rv)
    )
    raw = cache(all_edges(Sources.of(store).touching(cust, dev), params.default_region))
    others = flags.filter(flags.reason != TWO_VERIFIED)
    clean = cache(without(raw, others, store.table("identity_blocked_edges")))
    a_in = clean.a.isin(region.node)
    b_in = clean.b.isin(region.node)
    a_rule = clean.a.isin(rule_flagged.node)
    b_rule = clean.b.isin(rule_flagged.node)
    if count(clean.filter((a_in & b_rule) | (b_in & a_rule))) > 0:
        return (
            "the persons new rows touch are linked to identifiers flagged for linking two "
            "verified emails; the rule needs the whole graph"
        )
    inside = clean.filter(a_in & b_in)
    found = verified_email_flags(inside, cache).flags
    if (n := count(found)) > 0:
        return (
            f"new rows would put two verified emails into one person ({n:,} identifiers to "
            "flag, which can split persons)"
        )
    return count(raw)


def _updated_identities(
    ids: ir.Table, seen_new: ir.Table, persons: ir.Table, flags: ir.Table
) -> ir.Table:
    """``identities`` after the run: new identifiers added, sightings widened, person ids of
    merged persons replaced, identifiers flagged now without a person."""
    keys = ids.select("node").union(seen_new.select("node"), distinct=True)
    j = keys.left_join(ids, "node").left_join(seen_new, "node")
    j = j.select(
        "node",
        pid=ids.pid,
        first_seen=ibis.least(ids.first_seen, seen_new.first_seen),
        last_seen=ibis.greatest(ids.last_seen, seen_new.last_seen),
        source=ibis.least(ids.source, seen_new.source),
    )
    # a person's members follow its super-node; a new identifier is its own super-node
    sup = ibis.coalesce(j.pid, j.node)
    m = j.mutate(sup=sup).left_join(persons, sup == persons.node)
    fl = flags.select(flagged="node")
    m = m.left_join(fl, m.node == fl.flagged)
    return m.select(
        "node",
        person_id=ibis.ifelse(
            m.flagged.notnull(), ibis.null("string"), ibis.coalesce(m.person_id, m.pid)
        ),
        first_seen=m.first_seen,
        last_seen=m.last_seen,
        source=m.source,
    )

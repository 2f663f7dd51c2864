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
    update_identities,
    write_flags,
)
from tenure.identity.rules import verified_email_flags
from tenure.identity.state import Params, Snapshot, State
from tenure.store import Store


def resolve_incremental(
    store: Store, params: Params, state: State, snap: Snapshot, cache: Scratch
) -> IdentityResult | str:
    """Add the rows imported after ``state``'s watermark; the reason to resolve in full
    instead when the result could differ from a full resolution."""
    src = Sources.of(store).imported_after(state.seen.watermark).written(cache)
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
        checked = _rule_check(store, params, ends, new_nodes, comp.labels, ids, flags, cache)
        if isinstance(checked, str):
            return checked
        edges += checked
    ages = ids.filter(ids.pid.notnull()).group_by("pid").agg(age=ids.first_seen.min())
    old = ages.select(node=ages.pid, old_pid=ages.pid, old_seen=ages.age)
    persons, merges = person_ids(comp.labels, old, cache)
    at = now()
    keys = _changed_keys(ids, seen_new, persons, flags)
    rows = cache(_updated_identities(ids, seen_new, persons, flags, keys))
    update_identities(store, rows, ids)
    write_flags(store, flags, State(params, snap, at))
    log_merges(store, merges, at)
    now_ids = store.table("identities")
    return IdentityResult(
        identifiers=count(now_ids),
        persons=int(now_ids.person_id.nunique().execute()),
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
    labels: ir.Table,
    ids: ir.Table,
    flags: ir.Table,
    cache: Scratch,
) -> int | str:
    """The verified-email rule around the persons the new rows touch: the number of edges
    read, or why a full resolution is needed.

    Two checks. (1) No identifier flagged by the rule is linked to a touched person (its
    flag could change): read from the rows carrying the flagged identifiers, few. (2) On the
    raw edges of the touched persons whose component (after the new rows) holds two e-mails
    or more, the rule flags nothing: every account holds a verified e-mail, so a component
    with at most one e-mail holds at most one account, and the rule (an identifier reaching
    two accounts) cannot fire there."""
    sup = ends.select(node=ends.a).union(ends.select(node=ends.b)).union(new_nodes)
    region = cache(_members(ids, sup))
    rule_flagged = cache(flags.filter(flags.reason == TWO_VERIFIED).select("node"))
    others = flags.filter(flags.reason != TWO_VERIFIED)
    blocked = store.table("identity_blocked_edges")
    read = 0
    if count(rule_flagged) > 0:
        near = Sources.of(store).carrying(rule_flagged).written(cache)
        near_edges = cache(without(all_edges(near, params.default_region), others, blocked))
        read += count(near_edges)
        a_in, b_in = near_edges.a.isin(region.node), near_edges.b.isin(region.node)
        a_rule, b_rule = near_edges.a.isin(rule_flagged.node), near_edges.b.isin(rule_flagged.node)
        if count(near_edges.filter((a_in & b_rule) | (b_in & a_rule))) > 0:
            return (
                "the persons new rows touch are linked to identifiers flagged for linking two "
                "verified emails; the rule needs the whole graph"
            )
    heavy = cache(_members(ids, _with_two_emails(sup, labels, ids)))
    if count(heavy) == 0:
        return read
    value = heavy.node.re_extract(r"^[a-z_]+:(.*)$", 1)
    cust = heavy.filter(heavy.node.startswith("customer_id:")).select(value=value)
    dev = heavy.filter(heavy.node.startswith("anonymous_id:")).select(value=value)
    touching = Sources.of(store).touching(cache(cust), cache(dev)).written(cache)
    raw = cache(all_edges(touching, params.default_region))
    clean = cache(without(raw, others, blocked))
    inside = clean.filter(clean.a.isin(heavy.node) & clean.b.isin(heavy.node))
    found = verified_email_flags(inside, cache).flags
    if (n := count(found)) > 0:
        return (
            f"new rows would put two verified emails into one person ({n:,} identifiers to "
            "flag, which can split persons)"
        )
    return read + count(raw)


def _members(ids: ir.Table, sup: ir.Table) -> ir.Table:
    """The identifiers of the super-nodes ``sup`` (``node``): the members of each person id,
    and the new identifiers themselves."""
    members = ids.semi_join(sup, ids.pid == sup.node).select("node")
    return members.union(sup.filter(sup.node.contains(":")).select("node")).distinct()


def _with_two_emails(sup: ir.Table, labels: ir.Table, ids: ir.Table) -> ir.Table:
    """The super-nodes of ``sup`` whose component (``labels``: node, label; a super-node
    without a label is a component of its own) holds two e-mails or more."""
    lab = sup.distinct().left_join(labels, "node")
    lab = lab.select("node", label=ibis.coalesce(lab.label, lab.node))
    mails = ids.filter(ids.pid.notnull() & ids.node.startswith("email:"))
    per_pid = mails.group_by("pid").agg(m=mails.count())
    j = lab.left_join(per_pid, lab.node == per_pid.pid)
    own = ibis.ifelse(j.node.startswith("email:"), 1, 0)
    j = j.select("node", "label", m=ibis.coalesce(j.m, 0) + own)
    heavy = j.group_by(h_label=j.label).agg(total=j.m.sum()).filter(lambda t: t.total >= 2)
    return lab.filter(lab.label.isin(heavy.h_label)).select("node")


def _changed_keys(
    ids: ir.Table, seen_new: ir.Table, persons: ir.Table, flags: ir.Table
) -> ir.Table:
    """The identifiers whose row may change: those seen in the new rows, the members of a
    person merged into another, those flagged now, and any identifier without a person that
    the new edges reach. Every other row of ``identities`` stays as it is."""
    moved = persons.filter(persons.node != persons.person_id).select(m_node="node")
    members = ids.semi_join(moved, ids.pid == moved.m_node).select("node")
    flagged = ids.filter(ids.pid.notnull()).semi_join(flags, "node").select("node")
    loose = ids.filter(ids.pid.isnull()).semi_join(persons, "node").select("node")
    return ibis.union(seen_new.select("node"), members, flagged, loose, distinct=True)


def _updated_identities(
    ids: ir.Table, seen_new: ir.Table, persons: ir.Table, flags: ir.Table, keys: ir.Table
) -> ir.Table:
    """The rows of ``keys`` (:func:`_changed_keys`) in ``identities`` after the run: new
    identifiers added, sightings widened, person ids of merged persons replaced, identifiers
    flagged now without a person."""
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

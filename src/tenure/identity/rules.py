"""The rule "two different verified e-mails never merge", computed in the engine.

An e-mail is *verified* when a row that vouches for it links it to another identifier used for
merging (an edge with ``verifies``): the e-mail of a customer record, the e-mail of an order
placed under a customer id, and an ``identify`` call whose traits say ``"email_verified":
true``. A customer id is the store's own account, so it and the verified e-mails linked to it
form one *account* (an address that changed stays with its account); a verified e-mail linked
to no customer id is an account of its own. Accounts are the connected components of the
customer id ~ verified e-mail edges.

Every other identifier passes reach on: it reaches the accounts it is linked to, and
everything its neighbours that are not in an account reach. A non-customer identifier that
reaches two accounts would put two verified e-mails into one person: it is flagged (reason
``links two verified emails``) and not used to merge. Reach is propagated like the labels of
:func:`tenure.identity.graph.components`, carrying the smallest and the largest account seen
(two different accounts <=> smallest != largest). With the flags removed, every person holds
the verified e-mails of at most one account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from tenure.identity.graph import TWO_VERIFIED, components

Cache = Callable[[ir.Table], ir.Table]


@dataclass
class RuleResult:
    """The identifiers the rule flags ``(node, reason)`` and the propagation rounds it took."""

    flags: ir.Table
    iterations: int


def accounts(edges: ir.Table, cache: Cache) -> ir.Table:
    """``(node, account)`` for every verified e-mail and every customer id linked to one."""
    verified = edges.filter(edges.verifies).select(node=edges.b).distinct()
    cust = edges.filter(edges.a.startswith("customer_id:"))
    links = cust.semi_join(verified, cust.b == verified.node).select("a", "b").distinct()
    links = cache(links)
    members = verified.union(links.select(node=links.a)).distinct()
    comp = components(links, members, cache=cache)
    return comp.labels.select("node", account=comp.labels.label)


def verified_email_flags(edges: ir.Table, cache: Cache, *, max_iter: int = 100) -> RuleResult:
    """The identifiers that would join two accounts (module docstring), among ``edges``
    (already without flagged ends and blocked edges)."""
    acc = cache(accounts(edges, cache))
    pairs = edges.select(src=edges.a, dst=edges.b).union(edges.select(src=edges.b, dst=edges.a))
    in_dst = acc.select(d="node")
    in_src = acc.select(s="node", account="account")
    outside = cache(pairs.anti_join(in_dst, pairs.dst == in_dst.d))
    seeds = outside.join(in_src, outside.src == in_src.s).select(
        node=outside.dst, lo=in_src.account, hi=in_src.account
    )
    transit = cache(outside.anti_join(in_src, outside.src == in_src.s).distinct())
    reach = cache(seeds.group_by("node").agg(lo=seeds.lo.min(), hi=seeds.hi.max()))
    for iteration in range(1, max_iter + 1):
        step = transit.join(reach, transit.src == reach.node).select(
            node=transit.dst, lo=reach.lo, hi=reach.hi
        )
        merged = step.union(reach, distinct=False)
        new = cache(merged.group_by("node").agg(lo=merged.lo.min(), hi=merged.hi.max()))
        before = new.left_join(reach, new.node == reach.node)
        changed = before.filter(
            before.node_right.isnull()
            | (before.lo != before.lo_right)
            | (before.hi != before.hi_right)
        ).count()
        reach = new
        if int(changed.execute()) == 0:
            two = reach.filter((reach.lo != reach.hi) & ~reach.node.startswith("customer_id:"))
            return RuleResult(two.select("node", reason=ibis.literal(TWO_VERIFIED)), iteration)
    raise RuntimeError(f"verified-email reach did not converge in {max_iter} iterations")

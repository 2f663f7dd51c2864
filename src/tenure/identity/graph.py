"""The identity graph: identifiers as nodes, "seen together" facts as edges, persons as
connected components computed in the engine by set-based label propagation (Ibis, so the
same code runs on DuckDB and on PySpark).

A node is ``"<kind>:<value>"`` with kind ``customer_id`` (the store's customer id; Segment
``userId`` is the same id space), ``email``, ``phone`` or ``anonymous_id``. Edges come from:

* events carrying both ``anonymous_id`` and ``user_id`` (and ``alias`` calls);
* ``identify`` calls whose traits carry an ``email``;
* orders with a customer id and an email;
* customer records (customer id with email and phone);
* feedback carrying a customer id with an email or an anonymous id, and each side of a
  referral (the referrer's, the referred person's customer id with their email).

An edge is ``(a, b, source, at, verifies)``; the e-mail of an edge is always its ``b`` end, and
``verifies`` says whether the row vouches for that address (docs/identity.md, "Verified
e-mails"). The builders read a :class:`Sources`, so the same code builds the whole graph, the
edges of rows imported since the last resolution, or the edges of a few persons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.ingest.identifiers import (
    SHARED_LOCAL_PARTS,
    email_expr,
    normalize_phone,
    traits_email,
)
from tenure.store import Store

_EMAIL_IN_TRAITS = r'"email"\s*:\s*"([^"]+)"'
_EMAIL_VERIFIED = r'"email_verified"\s*:\s*true'
#: The tables identifiers come from.
SOURCE_TABLES = ("events", "orders", "customers", "feedback", "referrals")
#: The referral's two persons: (customer id column, email column) of each side.
REFERRAL_SIDES = (
    ("referrer_customer_id", "referrer_email"),
    ("referred_customer_id", "referred_email"),
)


@dataclass(frozen=True)
class Sources:
    """The rows the graph is built from: the store's tables, or a filtered part of them."""

    events: ir.Table
    orders: ir.Table
    customers: ir.Table
    feedback: ir.Table
    referrals: ir.Table

    @classmethod
    def of(cls, store: Store) -> Sources:
        return cls(*(store.table(name) for name in SOURCE_TABLES))

    def each(self, f: Callable[[ir.Table], ir.Table]) -> Sources:
        """``f`` applied to every table."""
        return Sources(*(f(getattr(self, name)) for name in SOURCE_TABLES))

    def imported_after(self, watermark: datetime | None) -> Sources:
        """Rows with an import time later than ``watermark`` (any import time when None)."""

        def new(t: ir.Table) -> ir.Table:
            if watermark is None:
                return t.filter(t.imported_at.notnull())
            return t.filter(t.imported_at > ibis.literal(watermark, type="timestamp"))

        return self.each(new)

    def written(self, write: Callable[[ir.Table], ir.Table]) -> Sources:
        """Each table written once (e.g. as a scratch table), so the edge builders, which
        read the events three times, scan a filter's result instead of the whole table."""
        return self.each(write)

    def touching(self, customers: ir.Table, devices: ir.Table) -> Sources:
        """Rows that carry one of the given customer ids or anonymous ids (one-column tables
        ``value``): every edge with an end among them is built from these rows."""
        e, o, c = self.events, self.orders, self.customers
        cust, dev = customers.value, devices.value
        events = e.filter(
            e.user_id.strip().isin(cust)
            | e.anonymous_id.strip().isin(dev)
            | e.previous_id.strip().isin(dev)
        )
        f, r = self.feedback, self.referrals
        return Sources(
            events,
            o.filter(o.customer_id.strip().isin(cust)),
            c.filter(c.customer_id.strip().isin(cust)),
            f.filter(f.customer_id.strip().isin(cust) | f.anonymous_id.strip().isin(dev)),
            r.filter(ibis.or_(*(r[side[0]].strip().isin(cust) for side in REFERRAL_SIDES))),
        )

    def carrying(self, nodes: ir.Table) -> Sources:
        """Rows that carry one of the given non-customer identifiers (one-column table
        ``node``: anonymous ids, e-mails, phones): every edge with an end among them is built
        from these rows. Phones are normalised in Python, so with any phone among the nodes
        every customer record with a phone is kept."""
        e, o, c = self.events, self.orders, self.customers
        kind, value = (
            nodes.node.re_extract(r"^([a-z_]+):", 1),
            nodes.node.re_extract(r"^[a-z_]+:(.*)$", 1),
        )
        dev = nodes.filter(kind == "anonymous_id").select(value=value)
        mail = nodes.filter(kind == "email").select(value=value)
        phones = int(nodes.filter(kind == "phone").count().execute())
        ident = e.filter(e.type == "identify")
        events = ibis.union(
            e.filter(e.anonymous_id.strip().isin(dev.value)),
            e.filter(e.previous_id.strip().isin(dev.value)),
            ident.filter(traits_email(ident.traits).isin(mail.value)),
        )
        by_mail = c.filter(email_expr(c.email).isin(mail.value))
        customers = ibis.union(by_mail, c.filter(c.phone.notnull())) if phones else by_mail
        f, r = self.feedback, self.referrals
        return Sources(
            events,
            o.filter(email_expr(o.email).isin(mail.value)),
            customers,
            f.filter(email_expr(f.email).isin(mail.value) | f.anonymous_id.strip().isin(dev.value)),
            r.filter(
                ibis.or_(*(email_expr(r[side[1]]).isin(mail.value) for side in REFERRAL_SIDES))
            ),
        )


def _node(kind: str, value: ir.StringValue) -> ir.StringValue:
    return ibis.literal(f"{kind}:") + value


def _edge(
    a: ir.StringValue, b: ir.StringValue, source: str, at: ir.Value, verifies: ir.Value | bool
) -> dict[str, ir.Value]:
    return {
        "a": a,
        "b": b,
        "source": ibis.literal(source),
        "at": at.cast("timestamp"),
        "verifies": ibis.literal(verifies) if isinstance(verifies, bool) else verifies,
    }


def event_edges(src: Sources) -> ir.Table:
    """anonymous_id ~ user_id, alias previous_id ~ user_id, identify traits email ~ caller."""
    e = src.events
    anon = e.anonymous_id.strip()
    user = e.user_id.strip()
    both = e.filter(anon.notnull() & (anon != "") & user.notnull() & (user != ""))
    parts = [
        both.select(
            **_edge(
                _node("anonymous_id", anon),
                _node("customer_id", user),
                "events",
                both.timestamp,
                False,
            )
        )
    ]
    alias = e.filter((e.type == "alias") & e.previous_id.notnull() & user.notnull())
    parts.append(
        alias.select(
            **_edge(
                _node("anonymous_id", alias.previous_id.strip()),
                _node("customer_id", alias.user_id.strip()),
                "alias",
                alias.timestamp,
                False,
            )
        )
    )
    calls = e.filter((e.type == "identify") & e.traits.contains("email"))
    ident = calls.filter(
        email_expr(calls.traits.re_extract(_EMAIL_IN_TRAITS, 1).nullif("")).notnull()
    )
    caller = ibis.ifelse(
        ident.user_id.strip().notnull() & (ident.user_id.strip() != ""),
        _node("customer_id", ident.user_id.strip()),
        _node("anonymous_id", ident.anonymous_id.strip()),
    )
    mail = email_expr(ident.traits.re_extract(_EMAIL_IN_TRAITS, 1).nullif(""))
    verified = ident.traits.re_search(_EMAIL_VERIFIED)
    parts.append(
        ident.select(**_edge(caller, _node("email", mail), "identify", ident.timestamp, verified))
    )
    return ibis.union(*parts)


def record_edges(src: Sources, region: str) -> ir.Table:
    """Orders (customer id ~ email) and customer records (customer id ~ email, phone)."""
    o = src.orders
    mail = email_expr(o.email)
    with_both = o.filter(o.customer_id.notnull() & mail.notnull())
    parts = [
        with_both.select(
            **_edge(
                _node("customer_id", with_both.customer_id.strip()),
                _node("email", email_expr(with_both.email)),
                "orders",
                with_both.ordered_at,
                True,
            )
        )
    ]
    c = src.customers
    cm = c.filter(c.customer_id.notnull() & email_expr(c.email).notnull())
    parts.append(
        cm.select(
            **_edge(
                _node("customer_id", cm.customer_id.strip()),
                _node("email", email_expr(cm.email)),
                "customers",
                cm.created_at,
                True,
            )
        )
    )
    phones = _phone_table(c, region)
    if phones is not None:
        cp = c.filter(c.phone.notnull()).join(phones, c.phone == phones.raw)
        parts.append(
            cp.select(
                **_edge(
                    _node("customer_id", cp.customer_id.strip()),
                    _node("phone", cp.e164),
                    "customers",
                    cp.created_at,
                    False,
                )
            )
        )
    return ibis.union(*parts)


def advocacy_edges(src: Sources) -> ir.Table:
    """Feedback (customer id ~ email, anonymous id ~ customer id) and each side of a referral
    (customer id ~ email). None vouches for its e-mail: a survey or a referral programme
    takes the address as typed."""
    f = src.feedback
    cust = f.customer_id.strip()
    parts = [
        f.select(
            **_edge(
                _node("customer_id", cust),
                _node("email", email_expr(f.email)),
                "feedback",
                f.submitted_at,
                False,
            )
        ),
        f.select(
            **_edge(
                _node("anonymous_id", f.anonymous_id.strip()),
                _node("customer_id", cust),
                "feedback",
                f.submitted_at,
                False,
            )
        ),
    ]
    r = src.referrals
    for cust_col, mail_col in REFERRAL_SIDES:
        parts.append(
            r.select(
                **_edge(
                    _node("customer_id", r[cust_col].strip()),
                    _node("email", email_expr(r[mail_col])),
                    "referrals",
                    r.referred_at,
                    False,
                )
            )
        )
    return ibis.union(*parts)


def all_edges(src: Sources, region: str) -> ir.Table:
    """Every edge of the sources, without self-loops and edges with a missing end."""
    edges = event_edges(src).union(record_edges(src, region)).union(advocacy_edges(src))
    return edges.filter(edges.a.notnull() & edges.b.notnull() & (edges.a != edges.b))


def _phone_table(customers: ir.Table, region: str) -> ir.Table | None:
    """Distinct raw phone numbers with their E.164 form (parsed in Python: few values)."""
    c = customers
    raw = c.filter(c.phone.notnull()).select("phone").distinct().to_pyarrow()
    values = raw.column("phone").to_pylist()
    pairs = [(v, normalize_phone(v, region)) for v in values]
    pairs = [(v, p) for v, p in pairs if p]
    if not pairs:
        return None
    table = pa.table({"raw": [v for v, _ in pairs], "e164": [p for _, p in pairs]})
    return ibis.memtable(table)


#: Flag reasons, strongest first: a node flagged for several keeps the first.
SHARED = "shared address"
OVERLINKED = "links several customers"
TWO_VERIFIED = "links two verified emails"
REASONS = (SHARED, OVERLINKED, TWO_VERIFIED)


def guest_nodes(edges: ir.Table) -> ir.Table:
    """E-mail nodes whose local part stands for nobody in particular (guest@, test@...)."""
    nodes = edges.select(node=edges.a).union(edges.select(node=edges.b)).distinct()
    local = nodes.node.re_extract(r"^email:([^@]*)@", 1)
    shared = nodes.filter(local.isin(list(SHARED_LOCAL_PARTS)))
    return shared.select("node", reason=ibis.literal(SHARED))


def customer_links(edges: ir.Table) -> ir.Table:
    """``(x, y)``: non-customer identifier x directly linked to customer id y."""
    both = edges.select(x=edges.a, y=edges.b).union(edges.select(x=edges.b, y=edges.a))
    return both.filter(both.y.startswith("customer_id:") & ~both.x.startswith("customer_id:"))


def overlinked_nodes(edges: ir.Table, max_customers: int) -> ir.Table:
    """Non-customer identifiers directly linked to more than ``max_customers`` customer ids
    (a kiosk's device, a family's shared e-mail): flagged, not used to merge."""
    links = customer_links(edges)
    counts = links.group_by("x").agg(customers=links.y.nunique())
    over = counts.filter(counts.customers > max_customers)
    return over.select(node=over.x, reason=ibis.literal(OVERLINKED))


def one_reason(flags: ir.Table) -> ir.Table:
    """One row per flagged node, with its strongest reason (the order of :data:`REASONS`)."""
    rank = flags.reason.cases(*((r, i) for i, r in enumerate(REASONS)), else_=len(REASONS))
    ranked = flags.mutate(rank=rank)
    return ranked.group_by("node").agg(reason=ranked.reason.argmin(ranked.rank))


def without(edges: ir.Table, flags: ir.Table, blocked: ir.Table | None = None) -> ir.Table:
    """The edges with no flagged end (and, given ``identity_blocked_edges``, none blocked)."""
    fa, fb = flags.select(fa=flags.node), flags.select(fb=flags.node)
    clean = edges.anti_join(fa, edges.a == fa.fa).anti_join(fb, edges.b == fb.fb)
    if blocked is None:
        return clean
    pairs = blocked.select(pa="a", pb="b").union(blocked.select(pa="b", pb="a"))
    return clean.anti_join(pairs, [clean.a == pairs.pa, clean.b == pairs.pb])


@dataclass
class Components:
    """node -> label (the smallest node of its component), and the iterations it took."""

    labels: ir.Table
    iterations: int


def components(
    edges: ir.Table,
    nodes: ir.Table,
    *,
    cache: Callable[[ir.Table], ir.Table],
    max_iter: int = 100,
    on_round: Callable[[int], None] | None = None,
) -> Components:
    """Connected components by min-label propagation, one set-based step per iteration;
    ``on_round(i)`` is told as round ``i`` starts."""
    both = edges.select(src=edges.a, dst=edges.b).union(edges.select(src=edges.b, dst=edges.a))
    labels = cache(nodes.select(node=nodes.node, label=nodes.node).distinct())
    for iteration in range(1, max_iter + 1):
        if on_round is not None:
            on_round(iteration)
        step = both.join(labels, both.src == labels.node).select(node=both.dst, label=labels.label)
        merged = step.union(labels, distinct=False)
        new = cache(merged.group_by("node").agg(label=merged.label.min()))
        joined = new.join(labels, new.node == labels.node)
        changed = joined.filter(joined.label != joined.label_right).count().execute()
        labels = new
        if int(changed) == 0:
            return Components(labels, iteration)
    raise RuntimeError(f"identity graph did not converge in {max_iter} iterations")


def sightings(src: Sources, edges: ir.Table) -> ir.Table:
    """Every identifier seen, as ``(a, source, at)``: both ends of every edge, and every
    identifier seen on its own (an anonymous visit, a guest order, a customer record), so
    that a person of one identifier exists too."""
    e, o, c = src.events, src.orders, src.customers
    ts = "timestamp"  # one precision on every side of the union (cached tables report 6)
    parts = [
        edges.select("a", "source", at=edges.at.cast(ts)),
        edges.select(a=edges.b, source=edges.source, at=edges.at.cast(ts)),
        e.filter(e.anonymous_id.notnull() & (e.anonymous_id.strip() != "")).select(
            a=_node("anonymous_id", e.anonymous_id.strip()),
            source=ibis.literal("events"),
            at=e.timestamp.cast(ts),
        ),
        e.filter(e.user_id.notnull() & (e.user_id.strip() != "")).select(
            a=_node("customer_id", e.user_id.strip()),
            source=ibis.literal("events"),
            at=e.timestamp.cast(ts),
        ),
        o.filter(email_expr(o.email).notnull()).select(
            a=_node("email", email_expr(o.email)),
            source=ibis.literal("orders"),
            at=o.ordered_at.cast(ts),
        ),
        o.filter(o.customer_id.notnull()).select(
            a=_node("customer_id", o.customer_id.strip()),
            source=ibis.literal("orders"),
            at=o.ordered_at.cast(ts),
        ),
        c.filter(c.customer_id.notnull()).select(
            a=_node("customer_id", c.customer_id.strip()),
            source=ibis.literal("customers"),
            at=c.created_at.cast(ts),
        ),
    ]
    parts += _advocacy_sightings(src)
    seen = ibis.union(*parts)
    return seen.group_by(node=seen.a).agg(
        first_seen=seen.at.min(), last_seen=seen.at.max(), source=seen.source.min()
    )


def _advocacy_sightings(src: Sources) -> list[ir.Table]:
    """The identifiers of feedback and referrals, each on its own: ``(a, source, at)``."""
    f, r = src.feedback, src.referrals
    ends = [
        (f, "feedback", "customer_id", f.customer_id.strip(), f.submitted_at),
        (f, "feedback", "email", email_expr(f.email), f.submitted_at),
        (f, "feedback", "anonymous_id", f.anonymous_id.strip(), f.submitted_at),
    ]
    for cust_col, mail_col in REFERRAL_SIDES:
        ends.append((r, "referrals", "customer_id", r[cust_col].strip(), r.referred_at))
        ends.append((r, "referrals", "email", email_expr(r[mail_col]), r.referred_at))
    return [
        table.filter(value.notnull() & (value != "")).select(
            a=_node(kind, value), source=ibis.literal(source), at=at.cast("timestamp")
        )
        for table, source, kind, value, at in ends
    ]

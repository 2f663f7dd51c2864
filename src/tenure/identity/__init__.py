"""One customer, one profile: identity resolution over the store's identifiers.

``resolve_identities(store)`` (:mod:`tenure.identity.resolve`) builds the identity graph
(:mod:`tenure.identity.graph`), flags identifiers that must not merge people (including the
verified-email rule, :mod:`tenure.identity.rules`), computes persons as connected components in
the engine, keeps person ids stable across runs (a merge keeps the oldest id and is logged),
and writes every identifier with its person to ``identities``. After a first run, only the
rows imported since are added (:mod:`tenure.identity.incremental`) whenever that gives the
same persons as resolving everything again.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError
from tenure.identity.normalize import normalize_email, normalize_phone
from tenure.identity.resolve import IdentityResult, now, resolve_identities
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
            {"a": [a], "b": [b], "reason": [reason], "at": pa.array([now()], pa.timestamp("us"))}
        ),
    )
    return resolve_identities(
        store, max_customers=max_customers, verified_emails_never_merge=verified_emails_never_merge
    )


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
        by_device = e.left_join(anon, e.anonymous_id == anon.a_value)
        # the user id is looked up only for events no device placed: a null key matches
        # nothing (as for the e-mails of orders below)
        key = ibis.ifelse(by_device.a_pid.isnull(), by_device.user_id, ibis.null("string"))
        keyed = by_device.mutate(_user_key=key)
        joined = keyed.left_join(user, keyed._user_key == user.u_value)
        return joined.select(*e.columns, person_id=ibis.coalesce(joined.a_pid, joined.u_pid))
    if table == "orders":
        o = store.table("orders")
        cust = ids.filter(ids.kind == "customer_id").select(c_value="value", c_pid="person_id")
        mail = ids.filter(ids.kind == "email").select(m_value="value", m_pid="person_id")
        by_id = o.left_join(cust, o.customer_id == cust.c_value)
        # the e-mail is looked up only for orders no customer id placed (guest orders): a null
        # key matches nothing, and normalising every e-mail of 10M orders cost ~0.7 s
        key = ibis.ifelse(by_id.c_pid.isnull(), by_id.email.strip().lower(), ibis.null("string"))
        keyed = by_id.mutate(_mail_key=key)
        joined = keyed.left_join(mail, keyed._mail_key == mail.m_value)
        return joined.select(*o.columns, person_id=ibis.coalesce(joined.c_pid, joined.m_pid))
    raise ConfigError(f"The 'table' parameter must be 'events' or 'orders'. Got {table!r}.")

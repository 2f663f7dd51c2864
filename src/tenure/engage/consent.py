"""Who may be messaged on which channel: consents, suppressions and time zones per person
(docs/flows.md, "Send policy").

* ``consents`` and ``suppressions`` name identifiers (``identifier_kind`` ``email``,
  ``phone``, ``customer_id``...), in clear, normalised as identity resolution spells them
  (e-mails trimmed and lower-cased, phones in E.164, ids trimmed); ``tenure privacy delete``
  leaves digests (kind ``sha256:<kind>``, :func:`tenure.ingest.identifiers.digest_expr`).
  A person's identifiers are their rows of ``identities``.
* A person's consent for ``email`` / ``sms`` is their latest word: the latest ``consents``
  row, as of the decision's clock, on any of their identifiers for that channel (an
  unsubscribe wins a tie). Only ``subscribed`` lets a message through. A person no
  ``consents`` row names has the e-mail consent of their latest customer record
  (``customers.accepts_marketing``), as the segments' ``email_subscribed`` field.
* Any ``suppressions`` row on one of their identifiers for the channel, or for ``all``,
  suppresses, whatever its date.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from tenure.ingest.identifiers import email_expr
from tenure.store import Store

#: Channels a flow sends on; the first two need the person's marketing consent.
CHANNELS = ("email", "sms", "webhook", "onsite")
CONSENTED = ("email", "sms")
#: A time before any record (null dates sort as this, the same on every engine).
_NEVER = datetime(1900, 1, 1)


def person_identifiers(store: Store, persons: ir.Table) -> ir.Table:
    """person_id, kind, value: the identifiers of the persons of ``persons.person_id``."""
    ids = store.table("identities")
    ids = ids.filter(ids.person_id.notnull()).select("person_id", "kind", "value")
    return ids.semi_join(persons, ids.person_id == persons.person_id)


def _spelled(kind: ir.StringValue, identifier: ir.StringValue) -> ir.StringValue:
    """An identifier spelled as ``identities`` holds it (e-mails lower-cased)."""
    return ibis.ifelse(kind == "email", email_expr(identifier), identifier.strip())


def suppressed_channels(store: Store, ids: ir.Table) -> ir.Table:
    """person_id, channel: every (person, channel) a suppression row names (``all`` too)."""
    s = store.table("suppressions")
    s = s.select(
        s_kind=s.identifier_kind.strip().lower(),
        s_value=_spelled(s.identifier_kind.strip().lower(), s.identifier),
        s_digest=s.identifier.strip().lower(),
        channel=s.channel.strip().lower(),
    )
    clear = ids.join(
        s,
        (ids.value == s.s_value) & (ids.kind == ibis.coalesce(s.s_kind, ids.kind)),
    ).select("person_id", "channel")
    # the digest of ``tenure privacy delete`` (tenure.ingest.identifiers.digest)
    hashed = ids.mutate(d=(ids.kind + ":" + ids.value).hexdigest("sha256"), dk="sha256:" + ids.kind)
    digests = hashed.join(s, (hashed.d == s.s_digest) & (hashed.dk == s.s_kind)).select(
        "person_id", "channel"
    )
    return ibis.union(clear, digests, distinct=True)


def latest_consents(store: Store, ids: ir.Table, now: datetime) -> ir.Table:
    """person_id, channel, status: each person's latest consent row per channel as of
    ``now`` (``subscribed``, ``unsubscribed`` or another status as recorded)."""
    c = store.table("consents")
    c = c.select(
        c_kind=c.identifier_kind.strip().lower(),
        c_value=_spelled(c.identifier_kind.strip().lower(), c.identifier),
        channel=c.channel.strip().lower(),
        status=c.status.strip().lower(),
        at=ibis.coalesce(c.at, ibis.literal(_NEVER)),
    )
    c = c.filter(c.at <= ibis.literal(now))
    j = ids.join(c, (ids.value == c.c_value) & (ids.kind == c.c_kind))
    order = j.status.cases(("unsubscribed", 0), ("subscribed", 2), else_=1)
    ranked = j.mutate(
        rn=ibis.row_number().over(
            group_by=[j.person_id, j.channel], order_by=[ibis.desc(j.at), order]
        )
    )
    return ranked.filter(ranked.rn == 0).select("person_id", "channel", "status")


def reach(store: Store, persons: ir.Table, now: datetime) -> ir.Table:
    """person_id (each of ``persons``) with ``s_<channel>`` (suppressed for the channel, or
    for ``all``: ``s_all``; null when not) and ``c_email``, ``c_sms`` (the latest consent
    status, null when none): what :func:`block` reads."""
    ids = person_identifiers(store, persons)
    sup = suppressed_channels(store, ids)
    per = sup.group_by("person_id").agg(
        **{f"s_{ch}": (sup.channel == ch).any() for ch in ("all", *CHANNELS)}
    )
    cons = latest_consents(store, ids, now)
    cons = cons.filter(cons.channel.isin(CONSENTED))
    per_c = cons.group_by("person_id").agg(
        **{f"c_{ch}": cons.status.max(where=cons.channel == ch) for ch in CONSENTED}
    )
    per = per.rename(s_pid="person_id")
    j = persons.left_join(per, persons.person_id == per.s_pid).drop("s_pid")
    per_c = per_c.rename(c_pid="person_id")
    j = j.left_join(per_c, j.person_id == per_c.c_pid).drop("c_pid")
    rec = record_consent(store, ids, now)
    j = j.left_join(rec, j.person_id == rec.r_pid)
    signed_up = ibis.ifelse(j.r_accepts, ibis.literal("subscribed"), ibis.null("string"))
    return j.mutate(c_email=ibis.coalesce(j.c_email, signed_up)).drop("r_pid", "r_accepts")


def record_consent(store: Store, ids: ir.Table, now: datetime) -> ir.Table:
    """r_pid, r_accepts: the ``accepts_marketing`` of each person's latest customer record
    created by ``now`` (by ``created_at``, then customer id): their e-mail consent when no
    ``consents`` row names them (a store that imports only its customer records)."""
    c = store.table("customers")
    created = ibis.coalesce(c.created_at, ibis.literal(_NEVER))
    c = c.filter(c.accepts_marketing.notnull(), created <= ibis.literal(now))
    cid = ids.filter(ids.kind == "customer_id")
    j = c.join(cid, c.customer_id.strip() == cid.value)
    ranked = j.mutate(
        rn=ibis.row_number().over(
            group_by=j.person_id,
            order_by=[
                ibis.desc(ibis.coalesce(j.created_at, ibis.literal(_NEVER))),
                ibis.desc(j.customer_id),
            ],
        )
    )
    latest = ranked.filter(ranked.rn == 0)
    return latest.select(r_pid="person_id", r_accepts="accepts_marketing")


def block(t: ir.Table) -> ir.StringValue:
    """Why the person of each row of ``t`` (``channel`` and the columns of :func:`reach`)
    may not be messaged on its channel (``unknown channel``, ``suppressed (all)``,
    ``suppressed``, ``unsubscribed``, ``no consent``); null when they may."""
    ch = t.channel
    own = ibis.cases(*((ch == c, t[f"s_{c}"]) for c in CHANNELS), else_=ibis.literal(False))
    consent = ibis.cases(*((ch == c, t[f"c_{c}"]) for c in CONSENTED), else_=ibis.null("string"))
    return ibis.cases(
        (~ch.isin(CHANNELS) | ch.isnull(), "unknown channel"),
        (ibis.coalesce(t.s_all, False), "suppressed (all)"),
        (ibis.coalesce(own, False), "suppressed"),
        (ch.isin(CONSENTED) & (consent == "unsubscribed"), "unsubscribed"),
        (ch.isin(CONSENTED) & (ibis.coalesce(consent, "") != "subscribed"), "no consent"),
        else_=ibis.null("string"),
    )

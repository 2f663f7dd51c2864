"""The send decision policy: the last filter between a flow's "send this" and ``messages``
(docs/flows.md, "Send policy: caps, quiet hours, consent, holdouts").

:func:`decide` gives every candidate message a state, in this precedence:

1. ``holdout`` — the person is in the flow's holdout (assigned by the flow engine with
   :func:`tenure.engage.holdout.in_holdout`);
2. ``suppressed`` — an unknown channel, a suppression of the person for the channel or for
   ``all``, or, for e-mail and SMS, no ``subscribed`` consent as the latest word
   (:mod:`tenure.engage.consent`);
3. ``capped`` — the person's cap for the channel (per local day, per local week) is reached,
   counting the messages of ``messages`` that are or will be sent (:data:`COUNTED`) and the
   earlier candidates of the batch (order: ``due_at``, then ``message_key``);
4. ``held`` — the message would go inside the person's quiet hours: ``release_at`` is their
   end, in UTC;
5. ``pending`` — the dispatcher may send it.

A message goes at its ``due_at``, or at the decision's clock when that is later; a held one
at its ``release_at``. That time, in the person's time zone (``customers.timezone``, IANA;
unknown or invalid: the policy's), gives the day and week (Monday to Sunday) it counts
toward. Everything is Ibis on the store's engine; local times come from small per-zone
offset tables built with :mod:`zoneinfo` (:mod:`tenure.engage.zones`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.engage.consent import CHANNELS, block, reach
from tenure.engage.settings import SendPolicy
from tenure.engage.zones import known_zones, local_instants, offsets, with_local_time
from tenure.store import Store

__all__ = ["CANDIDATE_COLUMNS", "COUNTED", "SendPolicy", "decide", "person_zones", "release_held"]

#: Message states that count toward a cap: decided to go, or gone (the dispatcher's states
#: for a message handed over).
COUNTED = ("pending", "held", "sending", "sent", "delivered", "opened", "clicked")
#: The columns :func:`decide` reads from its candidates.
CANDIDATE_COLUMNS = (
    "message_key",
    "flow",
    "step",
    "variant",
    "person_id",
    "trigger_id",
    "channel",
    "payload",
    "due_at",
    "holdout",
)
#: Days of ``messages`` around the batch that can share a local day or week with it.
_REACH = timedelta(days=9)
_NEVER = datetime(1900, 1, 1)


def _utc(now: datetime) -> datetime:
    """``now`` as naive UTC (the store's timestamps)."""
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now


def person_zones(store: Store, persons: ir.Table) -> ir.Table:
    """person_id, zone: the time zone of each person's latest customer record that has one
    (``created_at``, then ``customer_id``, latest first); absent when none has."""
    ids = store.table("identities")
    cust = ids.filter(ids.kind == "customer_id").select(cid="value", pid="person_id")
    cust = cust.semi_join(persons, cust.pid == persons.person_id)
    c = store.table("customers")
    c = c.filter(c.timezone.notnull() & (c.timezone.strip() != ""))
    j = cust.join(c, cust.cid == c.customer_id)
    ranked = j.mutate(
        rn=ibis.row_number().over(
            group_by=j.pid,
            order_by=[ibis.desc(ibis.coalesce(j.created_at, _NEVER)), ibis.desc(j.cid)],
        )
    )
    return ranked.filter(ranked.rn == 0).select(person_id="pid", zone=ranked.timezone.strip())


def _rules(policy: SendPolicy) -> ir.Table:
    """One row per channel: its caps and quiet hours (null: none), and the reasons they
    give, joined in on ``channel`` (one join instead of a CASE per rule and use)."""
    none = -1  # a memtable's nullable integers become NaN on Spark: nulls are made in the engine
    rows = []
    for ch in CHANNELS:
        cap, quiet = policy.cap(ch), policy.quiet(ch)
        rows.append(
            {
                "r_channel": ch,
                "per_day": none if cap.per_day is None else cap.per_day,
                "per_week": none if cap.per_week is None else cap.per_week,
                "q_start": quiet.start if quiet else none,
                "q_end": quiet.end if quiet else none,
                "day_text": f"daily cap ({cap.per_day} per day)",
                "week_text": f"weekly cap ({cap.per_week} per week)",
                "quiet_text": f"quiet hours {quiet} " if quiet else "",
            }
        )
    t = ibis.memtable(pa.Table.from_pylist(rows))
    ints = ("per_day", "per_week", "q_start", "q_end")
    return t.mutate(**{k: t[k].cast("int64").nullif(none) for k in ints})


def _persons(
    store: Store, persons: ir.Table, now: datetime, zones: list[str], default: str
) -> ir.Table:
    """person_id with what :func:`tenure.engage.consent.block` reads and ``zone``: the
    person's valid time zone, else ``default``."""
    info = reach(store, persons, now)
    pz = person_zones(store, persons).rename(z_pid="person_id")
    j = info.left_join(pz, info.person_id == pz.z_pid)
    zone = ibis.ifelse(j.zone.isin(zones), j.zone, ibis.literal(default))
    return j.select(*info.columns, zone=zone)


def _quiet(c: ir.Table, instants: ir.Table) -> ir.Table:
    """``c`` (with ``zone``, ``local``, ``q_start``, ``q_end``) with ``quiet`` (inside quiet
    hours), ``release_at`` (their end, UTC; null otherwise) and ``day`` (the local day it
    goes)."""
    start, end = c.q_start, c.q_end
    minute = c.local.hour().cast("int64") * 60 + c.local.minute().cast("int64")
    day = c.local.date()
    inside = ibis.ifelse(
        start < end, (minute >= start) & (minute < end), (minute >= start) | (minute < end)
    )
    rel_day = ibis.ifelse((start > end) & (minute >= start), day + ibis.interval(days=1), day)
    q = c.mutate(quiet=ibis.coalesce(inside, ibis.literal(False)), q_day=rel_day, day=day)
    i = instants.rename(i_zone="zone", i_day="day", i_minute="minute", i_utc="utc")
    j = q.left_join(i, (q.zone == i.i_zone) & (q.q_day == i.i_day) & (q.q_end == i.i_minute))
    return j.select(
        *c.columns,
        quiet=j.quiet,
        release_at=ibis.ifelse(j.quiet, j.i_utc, ibis.null("timestamp")),
        day=ibis.ifelse(j.quiet, j.q_day, j.day),
    ).view()


def _planned(m: ir.Table) -> ir.Value:
    """When a stored message goes (went): its release, else its due time or, when later,
    the time it was decided."""
    return ibis.coalesce(
        m.release_at, ibis.greatest(m.due_at, ibis.coalesce(m.decided_at, m.due_at))
    )


def _existing(
    store: Store, c: ir.Table, persons: ir.Table, lo: datetime, hi: datetime, offs: ir.Table
) -> ir.Table:
    """person_id, channel, day: one row per stored message that counts toward a cap of a
    person and channel of ``c`` in ``lo``..``hi`` (the candidates themselves left out);
    ``persons``: person_id, zone."""
    m = store.table("messages")
    m = m.filter(m.state.isin(COUNTED))
    m = m.mutate(at=_planned(m))
    m = m.filter((m.at >= ibis.literal(lo)) & (m.at <= ibis.literal(hi)))
    pairs = c.select("person_id", "channel").distinct()
    m = m.semi_join(pairs, (m.person_id == pairs.person_id) & (m.channel == pairs.channel))
    keys = c.select("message_key")
    m = m.anti_join(keys, m.message_key == keys.message_key)
    pz = persons.select(z_pid="person_id", zone="zone")
    m = m.join(pz, m.person_id == pz.z_pid).select("person_id", "channel", "at", "zone")
    local = with_local_time(m, "at", "zone", offs, "local")
    return local.select("person_id", "channel", day=local.local.date())


def _counts(existing: ir.Table, by: str) -> ir.Table:
    return existing.group_by(["person_id", "channel", by]).agg(**{f"n_{by}": ibis._.count()})


def _caps(c: ir.Table, existing: ir.Table) -> ir.Table:
    """``c`` (with ``ok``: consented and not in the holdout, ``day``, the caps) with
    ``cap``: the reason of the cap a message would break (null when none)."""
    c = c.mutate(week=c.day.truncate("W"))
    ex = existing.mutate(week=existing.day.truncate("W"))
    nd = _counts(ex, "day").rename(d_pid="person_id", d_ch="channel", d_day="day")
    nw = _counts(ex, "week").rename(w_pid="person_id", w_ch="channel", w_week="week")
    j = c.left_join(
        nd, (c.person_id == nd.d_pid) & (c.channel == nd.d_ch) & (c.day == nd.d_day)
    ).select(*c.columns, "n_day")
    j = j.view()
    j = j.left_join(
        nw, (j.person_id == nw.w_pid) & (j.channel == nw.w_ch) & (j.week == nw.w_week)
    ).select(*j.columns, "n_week")
    j = j.view()
    day_ok = j.per_day.isnull() | (
        ibis.row_number().over(
            group_by=[j.person_id, j.channel, j.day, j.ok], order_by=[j.due_at, j.message_key]
        )
        + ibis.coalesce(j.n_day, 0)
        < j.per_day
    )
    j = j.mutate(day_ok=day_ok)
    # a candidate the daily cap stops does not use the week; one the weekly cap stops means
    # the week is full, so every later one of the week is stopped too
    week_ok = j.per_week.isnull() | (
        ibis.row_number().over(
            group_by=[j.person_id, j.channel, j.week, j.ok, j.day_ok],
            order_by=[j.due_at, j.message_key],
        )
        + ibis.coalesce(j.n_week, 0)
        < j.per_week
    )
    cap = ibis.ifelse(
        ~j.day_ok, j.day_text, ibis.ifelse(~week_ok, j.week_text, ibis.null("string"))
    )
    return j.mutate(cap=cap)


def _span(c: ir.Table) -> tuple[datetime, datetime] | None:
    row = c.aggregate(lo=c.at.min(), hi=c.at.max()).to_pyarrow().to_pylist()[0]
    if row["lo"] is None:
        return None
    return row["lo"], row["hi"]


def _zones_present(store: Store, persons: ir.Table, default: str) -> list[str]:
    pz = person_zones(store, persons)
    found = pz.select("zone").distinct().to_pyarrow().column("zone").to_pylist()
    return known_zones([*found, default])


def decide(store: Store, candidates: ir.Table, now: datetime, *, policy: SendPolicy) -> ir.Table:
    """``candidates`` (:data:`CANDIDATE_COLUMNS`) with ``state``, ``reason`` and
    ``release_at``, decided as the module says. Deterministic: the same candidates, store and
    clock give the same states. Runs two small queries (the batch's time span, the time zones
    present); the rest is one expression."""
    now = _utc(now)
    cols = list(candidates.columns)
    c = candidates.mutate(at=ibis.greatest(candidates.due_at, ibis.literal(now)))
    span = _span(c)
    if span is None:
        return candidates.mutate(
            state=ibis.null("string"), reason=ibis.null("string"), release_at=ibis.null("timestamp")
        )
    lo, hi = span[0] - _REACH, span[1] + _REACH
    persons = candidates.select("person_id").distinct()
    zones = _zones_present(store, persons, policy.timezone)
    offs = ibis.memtable(offsets(zones, lo - _REACH, hi + _REACH))
    ends = {q.end for ch in CHANNELS if (q := policy.quiet(ch)) is not None} or {0}
    first, last = (lo - timedelta(days=2)).date(), (hi + timedelta(days=2)).date()
    instants = ibis.memtable(local_instants(zones, first, last, ends))
    info = _persons(store, persons, now, zones, policy.timezone).rename(p_pid="person_id")
    c = c.left_join(info, c.person_id == info.p_pid).drop("p_pid")
    rules = _rules(policy)
    c = c.left_join(rules, c.channel == rules.r_channel).drop("r_channel").view()
    c = c.mutate(block=block(c))
    c = with_local_time(c, "at", "zone", offs, "local")
    c = _quiet(c, instants)
    c = c.mutate(ok=~ibis.coalesce(c.holdout, False) & c.block.isnull())
    existing = _existing(store, candidates, info.rename(person_id="p_pid"), lo, hi, offs)
    c = _caps(c, existing)
    holdout = ibis.coalesce(c.holdout, False)
    state = ibis.cases(
        (holdout, "holdout"),
        (c.block.notnull(), "suppressed"),
        (c.cap.notnull(), "capped"),
        (c.quiet, "held"),
        else_="pending",
    )
    reason = ibis.cases(
        (holdout, "holdout"),
        (c.block.notnull(), c.block),
        (c.cap.notnull(), c.cap),
        (c.quiet, c.quiet_text + c.zone),
        else_=ibis.null("string"),
    )
    return c.select(
        *cols,
        state=state,
        reason=reason,
        release_at=ibis.ifelse(state == "held", c.release_at, ibis.null("timestamp")),
    )


def release_held(store: Store, now: datetime, *, policy: SendPolicy | None = None) -> int:
    """Held messages whose ``release_at`` has come: decided again at ``now`` (consent and
    suppression checked again; a cap of the day they go on reached: ``capped``; inside quiet
    hours again, as when the clock ran late: held to their next end), else ``pending``.
    ``release_at`` becomes when each may go. Returns how many left ``held``. Idempotent:
    run again at the same clock, it finds nothing due."""
    policy = policy or SendPolicy()
    now = _utc(now)
    m = store.table("messages")
    due = m.filter((m.state == "held") & m.release_at.notnull() & (m.release_at <= now))
    if not int(due.count().execute()):
        return 0
    cands = due.select(
        *[c for c in CANDIDATE_COLUMNS if c not in ("due_at", "holdout")],
        due_at=due.release_at,
        holdout=ibis.literal(False),
    )
    d = decide(store, cands, now, policy=policy)
    d = d.select(
        k="message_key",
        new_state="state",
        new_reason="reason",
        new_release=ibis.coalesce(d.release_at, ibis.greatest(d.due_at, ibis.literal(now))),
    )
    j = due.join(d, due.message_key == d.k)
    spec = store.spec("messages")
    changed = {
        "state": j.new_state,
        "reason": j.new_reason,
        "release_at": j.new_release,
        "updated_at": ibis.literal(now),
    }
    rows = j.select(*[changed.get(col, j[col]).name(col) for col in spec.columns]).to_pyarrow()
    store.upsert("messages", ["message_key"], rows)
    return sum(1 for s in rows.column("state").to_pylist() if s != "held")

"""The flow engine: one tick over every flow, set-based, with an injectable clock
(docs/flows.md, "The tick").

:func:`run_tick` reads, per flow not paused, the trigger instances since the flow's watermark
(``flow_ticks``), enters persons (re-entry rule, holdout, one open stay per person), runs
every stay due at ``now`` through its steps (several in one tick when no wait stands between),
exits those meeting the exit criteria, hands the candidate messages to the send policy and
inserts the messages whose idempotency key is new. Running the same tick twice decides
nothing twice. :func:`pause`, :func:`resume` and :func:`flow_overview` serve
``tenure flows``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from tenure.analytics.base import store_end
from tenure.engage.flow_spec import Flow
from tenure.engage.holdout import in_holdout, rotated_subject
from tenure.engage.policy import CANDIDATE_COLUMNS, SendPolicy, release_held
from tenure.engage.policy import decide as policy_decide
from tenure.engage.steps import STAY, HoldoutFn, apply, conform, ordered
from tenure.engage.triggers import TS, Context, instances
from tenure.errors import NotFoundError
from tenure.store import Store

Decide = Callable[[Store, ir.Table, datetime], ir.Table]
#: The columns of a decided message (the send policy's output).
DECIDED = (*CANDIDATE_COLUMNS, "state", "reason", "release_at")
#: The message states the send policy gives.
STATES = ("pending", "held", "capped", "suppressed", "holdout")


@dataclass
class FlowTick:
    """What one tick did for one flow."""

    flow: str
    paused: bool = False
    entered: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    exited: int = 0
    note: str | None = None


@dataclass
class TickResult:
    """One tick: its clock and what it did per flow."""

    now: datetime
    flows: list[FlowTick]

    def frame(self) -> pd.DataFrame:
        rows = []
        for f in self.flows:
            row: dict[str, object] = {"flow": f.flow, "paused": f.paused, "entered": f.entered}
            row.update({s: f.messages.get(s, 0) for s in STATES})
            row.update({"exited": f.exited, "note": f.note or ""})
            rows.append(row)
        return pd.DataFrame(rows)


def default_holdout(person: ir.StringValue, flow: str, share: float) -> ir.BooleanValue:
    """The deterministic holdout assignment (:func:`tenure.engage.holdout.in_holdout`)."""
    return in_holdout(person, flow, share)


def tick_clock(store: Store) -> datetime:
    """The default clock of a tick: the end of the store's frozen day (the ``as_of``
    setting, else the store fact ``as_of`` of a demo), else the time now (UTC)."""
    frozen = store.settings.as_of
    fact = store.meta("as_of")
    if frozen is None and fact:
        frozen = store_end(store)
    if frozen is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return datetime.combine(frozen + timedelta(days=1), time())


def utc_naive(value: datetime) -> datetime:
    """``value`` as naive UTC (an aware time converted)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def run_tick(
    store: Store,
    flows: Sequence[Flow],
    now: datetime,
    *,
    decide: Decide | None = None,
    holdout: HoldoutFn | None = None,
    policy: SendPolicy | None = None,
) -> TickResult:
    """One tick of every flow at ``now`` (naive UTC, or aware): first the held messages
    whose quiet hours are over are released (:func:`tenure.engage.policy.release_held`),
    then each flow decides. ``policy``: the send policy (default :class:`SendPolicy`'s
    defaults); ``decide`` replaces the whole policy (tests), ``holdout`` the assignment."""
    now = utc_naive(now)
    rules = policy if policy is not None else SendPolicy()
    if decide is None:
        release_held(store, now, policy=rules)

        def decide(store: Store, candidates: ir.Table, now: datetime) -> ir.Table:
            return policy_decide(store, candidates, now, policy=rules)

    holdout = holdout or default_holdout
    paused = paused_flows(store)
    marks = watermarks(store)
    running = [f for f in flows if f.name not in paused]
    ctx = Context(store, now, purchases_since=_purchases_since(store, running, marks, now))
    writes = Writes(store, decide, now)
    done: list[FlowTick] = []
    try:
        for flow in flows:
            if flow.name in paused:
                done.append(FlowTick(flow.name, paused=True, note="paused"))
                continue
            try:
                done.append(_tick_flow(ctx, flow, marks.get(flow.name), writes, holdout))
            except NotFoundError as exc:  # a table its trigger reads is not built yet
                done.append(FlowTick(flow.name, note=f"skipped: {exc.message}"))
        writes.flush()
        _write_ticks(store, done, writes, now)
    finally:
        writes.drop()
        ctx.close()
    return TickResult(now=now, flows=done)


#: At most this many rounds of entries per flow and tick (see :func:`_tick_flow`).
ROUNDS = 10


def _purchases_since(
    store: Store, flows: Sequence[Flow], marks: dict[str, datetime], now: datetime
) -> datetime | None:
    """The earliest purchase a tick of ``flows`` can ask about: the start of a trigger
    window (the watermark, or the clock, less the lookback and ``no_order_within``) or the
    entry of an active stay (exit tests look after entry)."""
    starts = [
        (marks.get(f.name) or now) - f.lookback - (f.trigger.no_order_within or timedelta(0))
        for f in flows
    ]
    if not starts:
        return None
    state = store.table("flow_state")
    names = [f.name for f in flows]
    active = state.filter((state.status == "active") & state.flow.isin(names))
    first = active.entered_at.min().execute()
    if first is not None and not pd.isna(first):
        starts.append(pd.Timestamp(first).to_pydatetime())
    return min(starts)


def _tick_flow(
    ctx: Context, flow: Flow, mark: datetime | None, writes: Writes, holdout: HoldoutFn
) -> FlowTick:
    """One flow's tick, in rounds: a round enters each person once (their earliest new
    instance) and runs the stays; when some person had a later instance too, another round
    enters it once the first stay has ended (re-entry permitting), so one tick over a long
    window enters what ticks on time would have, and repeating it adds nothing. The round's
    messages and stays are written by ``writes`` (before another round reads them)."""
    store, now = ctx.store, ctx.now
    since = (mark or now) - flow.lookback
    done = FlowTick(flow.name)
    started = datetime.now(UTC).replace(tzinfo=None)
    state = store.table("flow_state")
    mine = state.filter(state.flow == flow.name)
    for _ in range(ROUNDS):
        stays, entered, later = _round(ctx, flow, mine, since, writes, holdout, done)
        done.entered += entered
        if not (entered and later):
            break
        mine = _kept(ctx.store, "flow_mine", _overlay(mine, stays), writes.scratches)
    writes.started[flow.name] = started
    writes.finished[flow.name] = datetime.now(UTC).replace(tzinfo=None)
    writes.marks[flow.name] = max(now, mark) if mark else now
    return done


def _write_ticks(store: Store, done: list[FlowTick], writes: Writes, now: datetime) -> None:
    """One ``flow_ticks`` row per flow that ran (paused and skipped flows leave none)."""
    ran = [f for f in done if f.flow in writes.marks]
    if not ran:
        return
    for f in ran:
        f.messages = writes.counts.get(f.flow, {})
    row = {
        "flow": [f.flow for f in ran],
        "tick_at": [now] * len(ran),
        "watermark": [writes.marks[f.flow] for f in ran],
        "entered": [f.entered for f in ran],
        "messages": [sum(f.messages.values()) for f in ran],
        "started_at": [writes.started[f.flow] for f in ran],
        "finished_at": [writes.finished[f.flow] for f in ran],
    }
    store.upsert("flow_ticks", ["flow", "tick_at"], pa.table(row))


def _overlay(mine: ir.Table, stays: ir.Table) -> ir.Table:
    """The flow's stays as ``flow_state`` will hold them once a round's ``stays`` are
    written: what the next round of the same tick reads (the writes wait for the tick's
    end)."""
    cols = tuple(c for c in STAY if c != "touched")
    kept = mine.anti_join(
        stays, [mine.person_id == stays.person_id, mine.trigger_id == stays.trigger_id]
    )
    return ibis.union(conform(kept, cols), conform(stays, cols))


def _round(
    ctx: Context,
    flow: Flow,
    mine: ir.Table,
    since: datetime,
    writes: Writes,
    holdout: HoldoutFn,
    done: FlowTick,
) -> tuple[ir.Table, int, int]:
    """Enter and advance once over the flow's stays ``mine``, the messages and stays left
    to ``writes``; the stays, the persons entered and the later instances left for another
    round."""
    scratches = writes.scratches
    found = _kept(ctx.store, "flow_found", _candidates_in(ctx, flow, mine, since), scratches)
    counts = found.aggregate(n=found.count(), later=(found.rank > 0).sum())
    row = counts.to_pyarrow().to_pylist()[0]
    later = int(row["later"] or 0)
    active = mine.filter(mine.status == "active")
    if not row["n"] and not int(active.count().execute()):
        return found, 0, 0
    entries = _entries(ctx, flow, found.filter(found.rank == 0), holdout)
    active = active.mutate(touched=ibis.literal(False))
    stays = _kept(
        ctx.store,
        "flow_stays",
        ibis.union(conform(active, STAY), conform(entries, STAY)),
        scratches,
    )
    entered = int(stays.filter(stays.touched).count().execute())
    stays, made, actions = _advance(ctx, flow, stays, scratches)
    stays = _exit_waiting(ctx, flow, stays, scratches)
    writes.found += made
    writes.actions += actions
    writes.stays.append(stays)
    done.exited += int(stays.filter(stays.touched & (stays.status == "exited")).count().execute())
    return stays, entered, later


def _candidates_in(ctx: Context, flow: Flow, mine: ir.Table, since: datetime) -> ir.Table:
    """The trigger instances that may enter: not seen before, of persons without an open
    stay, by the re-entry rule; ``rank`` 0 for each person's earliest."""
    found = instances(ctx, flow, since)

    def seen() -> ir.Table:
        return mine.select(
            m_person="person_id", m_trigger="trigger_id", m_status="status", m_at="entered_at"
        ).view()

    m = seen()
    found = found.anti_join(m, [found.person_id == m.m_person, found.trigger_id == m.m_trigger])
    m = seen()
    found = found.anti_join(m, [found.person_id == m.m_person, m.m_status == "active"])
    m = seen()
    if flow.reentry == "never":
        found = found.anti_join(m, found.person_id == m.m_person)
    elif flow.reentry == "after" and flow.reentry_after is not None:
        gap = ibis.interval(seconds=int(flow.reentry_after.total_seconds()))
        found = found.anti_join(m, [found.person_id == m.m_person, m.m_at > found.trigger_at - gap])
    rank = ibis.row_number().over(group_by="person_id", order_by=["trigger_at", "trigger_id"])
    return found.mutate(rank=rank)


def _entries(ctx: Context, flow: Flow, first: ir.Table, holdout: HoldoutFn) -> ir.Table:
    """The new stays of the instances ``first``, with the holdout assignment."""
    subject = rotated_subject(first.person_id, first.trigger_at.cast(TS), flow.holdout_rotate)
    held = holdout(subject, flow.name, flow.holdout) if flow.holdout > 0 else ibis.literal(False)
    now = ibis.literal(ctx.now, type=TS)
    return first.select(
        flow=ibis.literal(flow.name),
        person_id=first.person_id,
        trigger_id=first.trigger_id,
        trigger_at=first.trigger_at.cast(TS),
        entered_at=first.trigger_at.cast(TS),
        step=ibis.literal(flow.steps[0].id),
        next_at=first.trigger_at.cast(TS),
        variant=ibis.null("string"),
        holdout=held,
        status=ibis.literal("active"),
        exit_reason=ibis.null("string"),
        updated_at=now,
        touched=ibis.literal(True),
    )


def _due(stays: ir.Table, now: datetime) -> ir.BooleanValue:
    return (stays.status == "active") & (stays.next_at <= ibis.literal(now, type=TS))


def _advance(
    ctx: Context, flow: Flow, stays: ir.Table, scratches: list[str]
) -> tuple[ir.Table, list[ir.Table], list[ir.Table]]:
    """Run the due stays through their steps until none is due (a loop of steps holds a
    wait, so at most one pass per step and one more). Each pass is written to a scratch
    table, its candidates to another: the expressions stay small."""
    found: list[ir.Table] = []
    actions: list[ir.Table] = []
    for _ in range(len(flow.steps) + 1):
        due = _due(stays, ctx.now)
        at = stays.filter(due).group_by("step").agg(n=ibis._.count()).to_pyarrow()
        steps = set(at.column("step").to_pylist())
        if not steps:
            break
        parts = [conform(stays.filter(~due), STAY)]
        rows = stays.filter(due)
        if "ordered_since_entry" in flow.exit_when:
            rows = ordered(ctx, rows)
            out = rows.filter(rows.hit).mutate(
                status=ibis.literal("exited"),
                exit_reason=ibis.literal("ordered"),
                touched=ibis.literal(True),
            )
            parts.append(conform(out, STAY))
            rows = rows.filter(~rows.hit).drop("hit")
        made: list[ir.Table] = []
        recorded: list[ir.Table] = []
        for step in flow.steps:
            if step.id not in steps:
                continue
            applied = apply(ctx, flow, step, rows.filter(rows.step == step.id))
            parts.append(conform(applied.stays, STAY))
            if applied.candidates is not None:
                made.append(conform(applied.candidates, CANDIDATE_COLUMNS))
            if applied.actions is not None:
                recorded.append(conform(applied.actions, CANDIDATE_COLUMNS))
        # the candidates first: they read the pass's stays
        found += [_kept(ctx.store, "flow_found", ibis.union(*made), scratches)] if made else []
        actions += (
            [_kept(ctx.store, "flow_actions", ibis.union(*recorded), scratches)] if recorded else []
        )
        stays = _kept(ctx.store, "flow_stays", ibis.union(*parts), scratches)
    return stays, found, actions


def _kept(store: Store, prefix: str, expr: ir.Table, scratches: list[str]) -> ir.Table:
    """``expr`` written to a scratch table, its name added to ``scratches`` (dropped when
    the tick's writes are)."""
    table = store.scratch_table(prefix, expr)
    scratches.append(table.get_name())
    return table


def _exit_waiting(ctx: Context, flow: Flow, stays: ir.Table, scratches: list[str]) -> ir.Table:
    """Stays still waiting whose person bought since entering (up to now): exited."""
    if "ordered_since_entry" not in flow.exit_when:
        return stays
    now = ibis.literal(ctx.now, type=TS)
    tested = ordered(ctx, stays, now)
    bought = (tested.status == "active") & tested.hit
    out = tested.mutate(
        status=ibis.ifelse(bought, ibis.literal("exited"), tested.status),
        exit_reason=ibis.ifelse(bought, ibis.literal("ordered"), tested.exit_reason),
        touched=tested.touched | bought,
    )
    return _kept(ctx.store, "flow_stays", out.select(*STAY), scratches)


class Writes:
    """What a tick has decided and not yet written: the candidate messages and the stays of
    its rounds (scratch tables). :meth:`flush` hands every flow's candidates to the send
    policy at once, inserts the messages whose key is new, then writes the stays: a crash
    before the stays are written leaves them to be run again, and the message keys make the
    second run write nothing twice."""

    def __init__(self, store: Store, decide: Decide, now: datetime) -> None:
        self.store, self.decide, self.now = store, decide, now
        self.found: list[ir.Table] = []
        self.actions: list[ir.Table] = []
        self.stays: list[ir.Table] = []
        self.scratches: list[str] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.started: dict[str, datetime] = {}
        self.finished: dict[str, datetime] = {}
        self.marks: dict[str, datetime] = {}

    def flush(self) -> None:
        """Write what is kept: the messages, then the stays; then forget it."""
        for (flow, state), n in _write_messages(self).items():
            per = self.counts.setdefault(flow, {})
            per[state] = per.get(state, 0) + n
        if self.stays:
            _write_state(self.store, self.stays, self.now)
        self.drop()

    def drop(self) -> None:
        for name in self.scratches:
            self.store.drop(name)
        self.scratches.clear()
        self.found, self.actions, self.stays = [], [], []


def _write_messages(writes: Writes) -> dict[tuple[str, str], int]:
    """Decide the kept candidates and insert the messages whose key is new; their count by
    flow and state."""
    store, now = writes.store, writes.now
    stamp = ibis.literal(now, type=TS)
    decided: list[ir.Table] = []
    if writes.found:
        # written once: the policy reads the candidates three times
        union = ibis.union(*writes.found).select(*CANDIDATE_COLUMNS).distinct()
        cands = _kept(store, "flow_candidates", union, writes.scratches)
        decided.append(conform(writes.decide(store, cands, now), DECIDED))
    for a in writes.actions:
        recorded = a.mutate(
            state=ibis.literal("pending"),
            reason=ibis.literal("set_trait"),
            release_at=ibis.null(TS),
        )
        decided.append(conform(recorded, DECIDED))
    if not decided:
        return {}
    known = store.table("messages")
    new = ibis.union(*decided)
    new = new.anti_join(known, new.message_key == known.message_key)
    new = new.mutate(
        decided_at=stamp,
        sent_at=ibis.null(TS),
        attempts=ibis.literal(0, type="int64"),
        last_error=ibis.null("string"),
        updated_at=stamp,
    )
    with store.scratch("flow_new", new) as fresh:
        table = store.read(fresh)
        per = table.group_by(["flow", "state"]).agg(n=table.count()).to_pyarrow().to_pylist()
        store.insert("messages", table)
    return {(str(r["flow"]), str(r["state"])): int(r["n"]) for r in per}


def _write_state(store: Store, stays: list[ir.Table], now: datetime) -> None:
    """``flow_state`` with the touched stays written (the others kept): the rows of their
    keys replaced (not the whole table rewritten, which grew with every flow's stays), in
    one write; a stay touched in two rounds is written as the later round left it."""
    stamp = ibis.literal(now, type=TS)
    cols = tuple(store.spec("flow_state").columns)
    parts = []
    for i, s in enumerate(stays):
        changed = s.filter(s.touched).mutate(updated_at=stamp)
        parts.append(conform(changed, cols).mutate(_round=ibis.literal(i)))
    rows = ibis.union(*parts)
    last = ibis.row_number().over(
        group_by=["flow", "person_id", "trigger_id"], order_by=ibis.desc("_round")
    )
    rows = rows.mutate(_last=last).filter(lambda t: t._last == 0).select(*cols)
    store.upsert("flow_state", ["flow", "person_id", "trigger_id"], rows.to_pyarrow())


def watermarks(store: Store) -> dict[str, datetime]:
    """The watermark of each flow's last tick (flows never ticked are absent)."""
    t = store.table("flow_ticks")
    rows = t.group_by("flow").agg(w=t.watermark.max()).to_pyarrow().to_pylist()
    return {
        str(r["flow"]): pd.Timestamp(r["w"]).to_pydatetime()
        for r in rows
        if r["w"] is not None and not pd.isna(r["w"])
    }


def paused_flows(store: Store) -> set[str]:
    """The flows paused by hand."""
    c = store.table("flow_controls")
    names = c.filter(c.paused).flow.to_pyarrow().to_pylist()
    return {str(n) for n in names}


def set_paused(store: Store, flow: Flow, paused: bool, *, by: str = "cli") -> None:
    """Pause (or resume) a flow: a paused flow enters nobody and decides nothing."""
    row = {
        "flow": [flow.name],
        "paused": [paused],
        "at": [datetime.now(UTC).replace(tzinfo=None)],
        "by": [by],
    }
    store.upsert("flow_controls", ["flow"], pa.table(row))


def describe_trigger(flow: Flow) -> str:
    """The trigger in a few words (``event Checkout Started``, ``schedule every week``)."""
    t = flow.trigger
    if t.kind == "schedule" and t.schedule is not None:
        s = t.schedule
        when = f"at {s.at.isoformat()}" if s.at else f"every {s.every}"
        return f"schedule {when}" + (f" to {s.segment}" if s.segment else "")
    text = f"{t.kind} {t.name}"
    if t.kind == "segment":
        text += f" ({t.on})"
    if t.no_order_within is not None:
        text += f", no order within {_span(t.no_order_within)}"
    return text


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def flow_overview(store: Store, flows: Sequence[Flow]) -> pd.DataFrame:
    """`tenure flows list`: per flow its trigger, steps, whether paused, the persons in it
    now and its messages by state."""
    state = store.table("flow_state")
    active = state.filter(state.status == "active").group_by("flow").agg(n=ibis._.count())
    act = {r["flow"]: int(r["n"]) for r in active.to_pyarrow().to_pylist()}
    m = store.table("messages")
    per = m.group_by(["flow", "state"]).agg(n=m.count()).to_pyarrow().to_pylist()
    paused = paused_flows(store)
    rows = []
    for flow in flows:
        row: dict[str, object] = {
            "flow": flow.name,
            "trigger": describe_trigger(flow),
            "steps": len(flow.steps),
            "paused": flow.name in paused,
            "active": act.get(flow.name, 0),
        }
        for s in STATES:
            row[s] = sum(int(r["n"]) for r in per if r["flow"] == flow.name and r["state"] == s)
        rows.append(row)
    return pd.DataFrame(rows)

"""The flow backtest: stored history replayed through one flow with the clock moving, sending
nothing (docs/flows.md, "Backtest").

:func:`backtest_flow` runs the real engine (:func:`tenure.engage.flows.run_tick`) tick by
tick from ``start`` to ``end`` on scratch shadows of the engine's tables (``messages``,
``flow_state``, ``flow_ticks``, ``flow_controls``; see :meth:`tenure.store.Store.shadowed`),
so the store's own tables are untouched and a paused flow replays too. Each tick is
set-based; the loop is over ticks, never persons. It reports the persons who ran each step,
the messages per day by state, the cap collisions, the holdout, and what the targeted
persons and the holdout actually did within ``window_days`` of entering.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from tenure.analytics.base import orders_base
from tenure.engage.backtest_runs import BY_LIBRARY, BacktestResult, record_backtest
from tenure.engage.flow_spec import Flow, Step
from tenure.engage.flows import ROUNDS, STATES, Decide, run_tick, utc_naive
from tenure.engage.settings import SendPolicy
from tenure.engage.steps import HoldoutFn
from tenure.engage.triggers import TS
from tenure.errors import ConfigError
from tenure.store import Store
from tenure.store.tables import scratch_name

#: The engine's tables a backtest shadows.
SHADOWED = ("messages", "flow_state", "flow_ticks", "flow_controls")
#: The groups of the outcome table.
TARGETED, COMPARISON = "targeted", "holdout"


def backtest_flow(
    store: Store,
    flow: Flow,
    start: datetime,
    end: datetime,
    *,
    step: timedelta = timedelta(days=1),
    window_days: int = 7,
    decide: Decide | None = None,
    holdout: HoldoutFn | None = None,
    holdout_share: float | None = None,
    policy: SendPolicy | None = None,
    by: str = BY_LIBRARY,
) -> BacktestResult:
    """Replay ``(start, end]`` through ``flow``, one tick every ``step``, on shadows of the
    engine's tables. ``holdout_share``: the share held out in the replay (default the
    flow's own); the holdout is the comparison group of the outcome. ``decide`` and
    ``holdout`` as in :func:`~tenure.engage.flows.run_tick` (default: the send policy
    ``policy``, itself by default :class:`~tenure.engage.settings.SendPolicy`'s defaults).

    The result is recorded as the flow's last backtest (``flow_backtests``,
    :func:`~tenure.engage.backtest_runs.record_backtest`; ``by`` says what ran it), except
    on a read-only store, where a note says so."""
    start, end = utc_naive(start), utc_naive(end)
    _check(start, end, step, window_days, holdout_share)
    share = flow.holdout if holdout_share is None else holdout_share
    # history is complete in a replay: no lookback for late events, the window starts at
    # ``start`` exactly (the first tick's watermark)
    replay = dataclasses.replace(flow, lookback=timedelta(0), holdout=share)
    bound = max_step(flow)
    if bound is not None and step > bound:
        step = bound  # a late tick enters a person at most ROUNDS times
    began = time.monotonic()
    result = _replay(store, replay, start, end, step, window_days, (decide, holdout, policy))
    result.seconds = time.monotonic() - began
    result.by = by
    if store.read_only:
        result.notes.append(NOT_RECORDED)
    else:
        record_backtest(store, result)
    return result


#: The note of a backtest on a read-only store.
NOT_RECORDED = "Not recorded as the flow's last backtest: the store is open read-only."


def _replay(
    store: Store,
    replay: Flow,
    start: datetime,
    end: datetime,
    step: timedelta,
    window_days: int,
    engine: tuple[Decide | None, HoldoutFn | None, SendPolicy | None],
) -> BacktestResult:
    """The ticks of the replay on the shadows, and what they did."""
    decide, holdout, policy = engine
    with store.shadowed(*SHADOWED):
        _seed(store, replay.name, start)
        arrived: list[str] = []
        notes: dict[str, None] = {}
        ticks = 0
        try:
            now = start
            while now < end:
                now = min(now + step, end)
                done = run_tick(store, [replay], now, decide=decide, holdout=holdout, policy=policy)
                notes.update({f.note: None for f in done.flows if f.note})
                ticks += 1
                arrived.append(_arrivals(store, replay.name, now))
            result = _result(store, replay, start, end, step, window_days, ticks, arrived)
            result.notes = list(notes)
            return result
        finally:
            for name in arrived:
                store.drop(name)


#: The shortest gap between two occurrences of a recurring schedule.
PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=28)}


def max_step(flow: Flow) -> timedelta | None:
    """The longest tick step that replays ``flow`` exactly (None: any): a tick enters a
    person at most :data:`~tenure.engage.flows.ROUNDS` times (one per round), so a tick may
    span at most ``ROUNDS - 1`` of the least gaps between two entries of a person: the
    re-entry gap, or the period of a recurring schedule or a yearly date, whichever is
    longer. A trigger with no least gap (an event or a segment under ``reentry: always``)
    has no such bound."""
    if flow.reentry == "never":
        return None
    t = flow.trigger
    least = flow.reentry_after if flow.reentry == "after" else None
    period = None
    if t.kind == "schedule" and t.schedule is not None and t.schedule.every is not None:
        period = PERIODS[t.schedule.every]
    elif t.kind == "date" and t.yearly:
        period = timedelta(days=365)
    gaps = [g for g in (least, period) if g is not None and g > timedelta(0)]
    return (ROUNDS - 1) * max(gaps) if gaps else None


def _check(
    start: datetime,
    end: datetime,
    step: timedelta,
    window_days: int,
    share: float | None,
) -> None:
    if end <= start:
        raise ConfigError(
            f"The backtest's end {end.isoformat()} is not after its start {start.isoformat()}.",
            hint="Pass --from before --to.",
        )
    if step <= timedelta(0):
        raise ConfigError(
            f"The backtest's tick step must be positive, got {step}.", hint="Pass --step 24."
        )
    if window_days < 1:
        raise ConfigError(
            f"The attribution window must be at least 1 day, got {window_days}.",
            hint="Pass --window 7.",
        )
    if share is not None and not 0.0 <= share < 1.0:
        raise ConfigError(
            f"The holdout share must be in [0, 1), got {share}.", hint="Pass --holdout 0.1."
        )


def _seed(store: Store, flow: str, start: datetime) -> None:
    """The replay's first watermark: the flow's first tick reads the triggers after ``start``."""
    row = {
        "flow": [flow],
        "tick_at": [start],
        "watermark": [start],
        "entered": [0],
        "messages": [0],
        "started_at": [start],
        "finished_at": [start],
    }
    store.insert("flow_ticks", pa.table(row))


def _arrivals(store: Store, flow: str, now: datetime) -> str:
    """The stays the tick at ``now`` moved, with the step each rests at (a scratch table)."""
    s = store.table("flow_state")
    moved = s.filter(s.flow == flow, s.updated_at == ibis.literal(now, type=TS))
    keys = moved.select("person_id", "trigger_id", "step")
    return store.scratch_table("flow_bt_arrived", keys).get_name()


def next_steps(step: Step) -> list[str]:
    """The steps a stay may go to after ``step``."""
    if step.kind == "exit":
        return []
    if step.kind == "branch":
        return [t for t in (step.then, step.otherwise) if t]
    return [step.next] if step.next else []


def only_ways_in(flow: Flow) -> dict[str, str]:
    """Step -> the one step leading to it, for the steps (not the first) with one way in: a
    stay at such a step passed through that one."""
    into: dict[str, set[str]] = {s.id: set() for s in flow.steps}
    for s in flow.steps:
        for target in next_steps(s):
            into[target].add(s.id)
    first = flow.steps[0].id
    return {k: next(iter(v)) for k, v in into.items() if len(v) == 1 and k != first}


def _reached(store: Store, flow: Flow, arrived: list[str], scratches: list[str]) -> ir.Table:
    """``person_id, trigger_id, step``: every step each stay arrived at (where it rested after
    a tick or ended, the first step, the steps with a message, and the one way into each of
    those), written to a scratch table."""
    s = store.table("flow_state")
    s = s.filter(s.flow == flow.name)
    m = store.table("messages")
    m = m.filter(m.flow == flow.name)
    parts = [store.read(name) for name in arrived]
    parts += [
        s.select("person_id", "trigger_id", "step"),
        s.select("person_id", "trigger_id", step=ibis.literal(flow.steps[0].id)),
        m.select("person_id", "trigger_id", "step"),
    ]
    reached = _kept(store, ibis.union(*parts, distinct=True), scratches)
    pairs = passed_through(flow)
    if not pairs:
        return reached
    name = scratch_name("flow_bt_ways")
    edges = store.upload(
        name, pa.table({"e_step": [a for a, _ in pairs], "e_from": [b for _, b in pairs]})
    )
    try:
        back = reached.join(edges, reached.step == edges.e_step)
        back = back.select("person_id", "trigger_id", step=back.e_from)
        return _kept(store, ibis.union(reached, back, distinct=True), scratches)
    finally:
        store.drop_upload(name)


def passed_through(flow: Flow) -> list[tuple[str, str]]:
    """(step, earlier step) pairs: a stay at the step passed through the earlier one (the
    chain of only ways in, :func:`only_ways_in`), so one join finds every step a stay ran."""
    ways = only_ways_in(flow)
    pairs = []
    for step in ways:
        seen, at = {step}, step
        while at in ways and ways[at] not in seen:
            at = ways[at]
            seen.add(at)
            pairs.append((step, at))
    return pairs


def _kept(store: Store, expr: ir.Table, scratches: list[str]) -> ir.Table:
    table = store.scratch_table("flow_bt", expr)
    scratches.append(table.get_name())
    return table


def _steps(store: Store, flow: Flow, arrived: list[str]) -> pd.DataFrame:
    """Per step the stays that ran it (arrived, and neither still waiting at it nor gone on
    an order before it ran), their persons, those waiting and those gone."""
    scratches: list[str] = []
    try:
        reached = _reached(store, flow, arrived, scratches)
        s = store.table("flow_state")
        s = s.filter(s.flow == flow.name)
        waiting = s.status == "active"
        gone = (s.status == "exited") & (s.exit_reason == "ordered")
        ends = s.select(
            f_person="person_id", f_trigger="trigger_id", f_step="step", f_wait=waiting, f_gone=gone
        )
        j = reached.left_join(
            ends,
            [
                reached.person_id == ends.f_person,
                reached.trigger_id == ends.f_trigger,
                reached.step == ends.f_step,
            ],
        )
        wait = ibis.coalesce(j.f_wait, False)
        left = ibis.coalesce(j.f_gone, False)
        ran = ~(wait | left)
        per = j.group_by("step").agg(
            stays=ran.sum(),
            persons=j.person_id.nunique(where=ran),
            waiting=wait.sum(),
            exited=left.sum(),
        )
        found = {r["step"]: r for r in per.to_pyarrow().to_pylist()}
    finally:
        for name in scratches:
            store.drop(name)
    rows = []
    for st in flow.steps:
        r = found.get(st.id, {})
        rows.append(
            {
                "step": st.id,
                "kind": st.kind,
                **{k: int(r.get(k) or 0) for k in ("stays", "persons", "waiting", "exited")},
            }
        )
    return pd.DataFrame(rows)


def _daily(store: Store, flow: str) -> pd.DataFrame:
    """Messages per day (UTC, of ``due_at``) and state; every state a column."""
    m = store.table("messages")
    m = m.filter(m.flow == flow)
    per = m.group_by(day=m.due_at.date(), state=m.state).agg(n=m.count()).to_pandas()
    if per.empty:
        return pd.DataFrame(columns=["day", *STATES, "total"])
    per["day"] = pd.to_datetime(per["day"]).dt.date
    wide = per.pivot_table(index="day", columns="state", values="n", aggfunc="sum", fill_value=0)
    extra = [c for c in wide.columns if c not in STATES]  # a policy's own state is kept
    wide = wide.reindex(columns=[*STATES, *extra], fill_value=0).astype("int64")
    wide["total"] = wide.sum(axis=1)
    return wide.reset_index().sort_values("day").reset_index(drop=True)


def _outcome(store: Store, flow: str, window_days: int) -> pd.DataFrame:
    """What the persons did within ``window_days`` of their first entry: the targeted ones
    (not held out) and the holdout, and the difference (targeted - holdout)."""
    s = store.table("flow_state")
    s = s.filter(s.flow == flow)
    persons = s.group_by("person_id").agg(
        first=s.entered_at.min(), held=s.holdout.cast("int8").max() == 1
    )
    o = orders_base(store)
    o = o.filter(o.is_purchase).select(o_person="person_id", o_at="ordered_at", o_rev="revenue")
    late = persons["first"] + ibis.interval(days=window_days)
    j = persons.left_join(
        o,
        [persons.person_id == o.o_person, o.o_at > persons["first"], o.o_at <= late],
    )
    per = j.group_by("person_id", "held").agg(
        orders=j.o_at.count(), revenue=ibis.coalesce(j.o_rev.sum(), 0)
    )
    grouped = per.group_by("held").agg(
        persons=per.count(),
        converted=(per.orders > 0).sum(),
        orders=per.orders.sum(),
        revenue=per.revenue.sum(),
    )
    got = {bool(r["held"]): r for r in grouped.to_pyarrow().to_pylist()}
    rows = [_group(TARGETED, got.get(False)), _group(COMPARISON, got.get(True))]
    rows.append(_difference(rows[0], rows[1]))
    return pd.DataFrame(rows)


def _group(name: str, row: dict[str, object] | None) -> dict[str, object]:
    n = int(row["persons"]) if row else 0  # type: ignore[call-overload]
    if not row or not n:
        return {
            "group": name,
            "persons": 0,
            "converted": 0,
            "orders": 0,
            "revenue": 0.0,
            "conversion": None,  # unknown without persons, never 0
            "revenue_per_person": None,
        }
    revenue = float(row["revenue"] or 0)  # type: ignore[arg-type]
    converted = int(row["converted"] or 0)  # type: ignore[call-overload]
    return {
        "group": name,
        "persons": n,
        "converted": converted,
        "orders": int(row["orders"] or 0),  # type: ignore[call-overload]
        "revenue": round(revenue, 2),
        "conversion": converted / n,
        "revenue_per_person": round(revenue / n, 4),
    }


def _difference(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    def minus(key: str) -> float | None:
        x, y = a[key], b[key]
        return None if x is None or y is None else float(x) - float(y)  # type: ignore[arg-type]

    return {
        "group": "difference",
        "persons": None,
        "converted": None,
        "orders": None,
        "revenue": None,
        "conversion": minus("conversion"),
        "revenue_per_person": minus("revenue_per_person"),
    }


def _result(
    store: Store,
    flow: Flow,
    start: datetime,
    end: datetime,
    step: timedelta,
    window_days: int,
    ticks: int,
    arrived: list[str],
) -> BacktestResult:
    s = store.table("flow_state")
    s = s.filter(s.flow == flow.name)
    entered = int(s.count().execute())
    persons = int(s.person_id.nunique().execute())
    held = int(s.filter(s.holdout).person_id.nunique().execute())
    m = store.table("messages")
    capped = int(m.filter(m.flow == flow.name, m.state == "capped").count().execute())
    return BacktestResult(
        flow=flow.name,
        start=start,
        end=end,
        step=step,
        window_days=window_days,
        ticks=ticks,
        holdout_share=flow.holdout,
        entered=entered,
        persons=persons,
        holdout=held,
        capped=capped,
        steps=_steps(store, flow, arrived),
        daily=_daily(store, flow.name),
        outcome=_outcome(store, flow.name, window_days),
    )

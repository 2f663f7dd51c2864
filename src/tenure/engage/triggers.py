"""The trigger instances of a flow in a time window, set-based (docs/flows.md, "Triggers").

A trigger instance is a row ``person_id, trigger_id, trigger_at``: the person, an id that is
the same every time the same occurrence is read again (the event's message id, the segment
stay, the status entry day, the date, the scheduled local time), and when it fires.
:func:`instances` gives those firing in ``(since, now]``. Everything is Ibis (DuckDB and
PySpark alike); the time zones of schedules are resolved per zone in Python (a few dozen
zones), never per person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from tenure.analytics.base import orders_base, purchase_times
from tenure.analytics.facts import known_persons
from tenure.analytics.journey import persons_of
from tenure.analytics.touch import attributed_events
from tenure.engage.flow_spec import WEEKDAYS, Flow, Schedule, Trigger
from tenure.errors import NotFoundError
from tenure.store import Store

#: How far before entering a cart's additions are read (``products: cart``).
CART_WINDOW = timedelta(days=1)
#: The columns of a trigger instance.
INSTANCE = ("person_id", "trigger_id", "trigger_at")
#: The segment membership table (the segments step builds it; see the segments' docs).
MEMBERSHIP = "segment_membership"
TS = "timestamp"


@dataclass
class Context:
    """What one tick reads, built once and shared by its flows: the store, the clock, and
    cached expressions (persons' events, purchases, time zones)."""

    store: Store
    now: datetime
    #: No purchase before this time is read, no event before a day earlier (the earliest
    #: entry or trigger window of the tick's stays: exit tests, ``no_order_within`` and
    #: event conditions look after those only; a cart a day before); None: all.
    purchases_since: datetime | None = None
    uploads: list[str] = field(default_factory=list)
    scratches: list[str] = field(default_factory=list)
    cache: dict[str, ir.Table] = field(default_factory=dict)

    def events(self) -> ir.Table:
        """The events with a person; with ``purchases_since``, only those a tick can read
        (from a day before it: a cart's additions), written once per tick."""
        if "events" not in self.cache:
            e = attributed_events(self.store)
            e = e.filter(e.person_id.notnull())
            if self.purchases_since is not None:
                e = e.filter(e.timestamp >= ibis.literal(self.purchases_since - CART_WINDOW))
                table = self.store.scratch_table("flow_events", e)
                self.scratches.append(table.get_name())
                e = table
            self.cache["events"] = e
        return self.cache["events"]

    def purchases(self) -> ir.Table:
        """``p_person, p_at``: every purchase (void orders and refunds left out; as
        tenure.analytics.base defines one), without its value."""
        if "purchases" not in self.cache:
            o = purchase_times(self.store).select(p_person="person_id", p_at="ordered_at")
            if self.purchases_since is not None:
                o = o.filter(o.p_at >= ibis.literal(self.purchases_since, type=TS))
            # written once per tick: every exit test and condition reads it
            table = self.store.scratch_table("flow_purchases", o)
            self.scratches.append(table.get_name())
            self.cache["purchases"] = table
        return self.cache["purchases"]

    def purchase_values(self, persons: ir.Table) -> ir.Table:
        """``p_person, p_at, p_revenue, p_margin``: every purchase of ``persons`` (column
        ``person_id``) with its revenue and margin (the margin reads the order lines: only
        these persons', not everyone's)."""
        o = orders_base(self.store, persons=persons.select("person_id").distinct())
        return o.filter(o.is_purchase).select(
            p_person="person_id", p_at="ordered_at", p_revenue="revenue", p_margin="margin"
        )

    def zones(self) -> ir.Table:
        """``z_person, zone``: each person's time zone (their customer record's, else the
        store's ``timezone`` setting)."""
        if "zones" not in self.cache:
            c = self.store.table("customers")
            c = persons_of(self.store, c, [("customer_id", "customer_id")], "z_person")
            c = c.filter(c.z_person.notnull())
            tz = c.group_by("z_person").agg(zone=c.timezone.strip().nullif("").max())
            default = ibis.literal(self.store.settings.timezone)
            self.cache["zones"] = tz.mutate(zone=ibis.coalesce(tz.zone, default))
        return self.cache["zones"]

    def zone_names(self) -> list[str]:
        names = self.zones().select("zone").distinct().zone.to_pyarrow().to_pylist()
        return sorted({str(n) for n in names} | {self.store.settings.timezone})

    def upload(self, prefix: str, rows: pa.Table) -> ir.Table:
        name = f"_tenure_{prefix}_{len(self.uploads)}"
        self.uploads.append(name)
        return self.store.upload(name, rows)

    def close(self) -> None:
        for name in self.uploads:
            self.store.drop_upload(name)
        self.uploads.clear()
        for name in self.scratches:
            self.store.drop(name)
        self.scratches.clear()


def zone_of(name: str, default: str) -> ZoneInfo:
    """The zone called ``name``; the default one for a name no zone database knows."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time in ``zone`` as naive UTC."""
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def property_text(properties: ir.StringValue, key: str) -> ir.StringValue:
    """The value of ``key`` in a properties JSON text, as text (a string or a number): the
    same regular expression on every engine, the key escaped (never SQL text)."""
    pattern = f'"{re.escape(key)}"\\s*:\\s*"?([^",}}]*)'
    return properties.re_extract(pattern, 1).nullif("")


def instances(ctx: Context, flow: Flow, since: datetime) -> ir.Table:
    """The trigger instances of ``flow`` that fire in ``(since, ctx.now]``."""
    trigger = flow.trigger
    build = {
        "event": _event,
        "segment": _segment,
        "status": _history,
        "stage": _history,
        "date": _date,
        "schedule": _schedule,
    }[trigger.kind]
    rows = build(ctx, trigger, since)
    at = rows.trigger_at
    out = rows.filter(
        rows.person_id.notnull(),
        at > ibis.literal(since, type=TS),
        at <= ibis.literal(ctx.now, type=TS),
    )
    return out.select(*INSTANCE)


def _event(ctx: Context, trigger: Trigger, since: datetime) -> ir.Table:
    e = ctx.events()
    e = e.filter(e.event == trigger.name)
    props = ibis.coalesce(e.properties, ibis.literal(""))
    for key, value in trigger.where:
        e = e.filter(property_text(props, key) == value)
    window = trigger.no_order_within
    # only events that can fire in the window are read
    earliest = since - (window or timedelta(0))
    e = e.filter(e.timestamp > ibis.literal(earliest, type=TS))
    if window is not None:
        p = ctx.purchases()
        late = e.timestamp + ibis.interval(seconds=int(window.total_seconds()))
        e = e.anti_join(p, [e.person_id == p.p_person, p.p_at >= e.timestamp, p.p_at <= late])
    shift = int((window or timedelta(0)).total_seconds())
    return e.select(
        person_id=e.person_id,
        trigger_id=e.message_id,
        trigger_at=e.timestamp + ibis.interval(seconds=shift),
    )


def _segment(ctx: Context, trigger: Trigger, since: datetime) -> ir.Table:
    m = membership(ctx.store).filter(lambda t: t.segment == trigger.name)
    at = m.entered_at if trigger.on == "enter" else m.exited_at
    stamp = at.epoch_seconds().cast("string")
    return m.select(
        person_id=m.person_id,
        trigger_id=ibis.literal(f"segment:{trigger.name}:{trigger.on}:") + stamp,
        trigger_at=at.cast(TS),
    )


def membership(store: Store) -> ir.Table:
    """``segment_membership`` (segment, person_id, entered_at, exited_at): a clear error
    before the segments step has built it."""
    if not store.exists(MEMBERSHIP):
        raise NotFoundError(
            f"The store has no {MEMBERSHIP} table yet: segment triggers and conditions read it.",
            hint="Run `tenure run` (its segments step builds it).",
        )
    return store.read(MEMBERSHIP)


def _history(ctx: Context, trigger: Trigger, since: datetime) -> ir.Table:
    """Entries into a status (``stage_history``) or a journey stage (``journey_history``),
    firing at the end of the day of the entry (midnight UTC after it); the stays of the
    history's first day are not entries."""
    table, column = (
        ("stage_history", "status")
        if trigger.kind == "status"
        else (
            "journey_history",
            "stage",
        )
    )
    if not ctx.store.exists(table):
        raise NotFoundError(
            f"The store has no {table} table yet: {trigger.kind} triggers read it.",
            hint="Run `tenure run` (or `tenure stages backfill`) first.",
        )
    h = ctx.store.read(table)
    # the stays the history's first day records began before it, on a day nobody knows:
    # they are not entries (a first refresh would otherwise "enter" everyone)
    first = h.entered_at.min().execute()
    h = h.filter(h[column] == trigger.name)
    if first is not None and not pd.isna(first):
        h = h.filter(h.entered_at > ibis.literal(pd.Timestamp(first).date()))
    return h.select(
        person_id=h.person_id,
        trigger_id=ibis.literal(f"{trigger.kind}:{trigger.name}:") + h.entered_at.cast("string"),
        # a day's status is known once the day is over (the refresh as of that day)
        trigger_at=h.entered_at.cast(TS) + ibis.interval(days=1),
    )


def _date(ctx: Context, trigger: Trigger, since: datetime) -> ir.Table:
    """The day of a customer date column or trait (``traits`` JSON), shifted by ``offset``;
    ``yearly``: its anniversaries in the years around the window."""
    store = ctx.store
    c = persons_of(store, store.table("customers"), [("customer_id", "customer_id")], "person_id")
    name = str(trigger.name)
    if name in c.columns:
        day = c[name].cast("date") if c[name].type().is_temporal() else c[name].try_cast("date")
    else:
        raw = property_text(ibis.coalesce(c.traits, ibis.literal("")), name)
        day = raw.substr(0, 10).try_cast("date")
    d = c.select(person_id=c.person_id, day=day).filter(lambda t: t.day.notnull())
    shift = ibis.interval(seconds=int(trigger.offset.total_seconds()))
    prefix = ibis.literal(f"date:{name}:")
    if not trigger.yearly:
        return d.select(
            person_id=d.person_id,
            trigger_id=prefix + d.day.cast("string"),
            trigger_at=d.day.cast(TS) + shift,
        )
    parts = []
    month, dom = d.day.month(), d.day.day()
    dom = ibis.ifelse((month == 2) & (dom == 29), 28, dom)  # 29 February: the 28th
    years = range((since - trigger.offset).year - 1, (ctx.now - trigger.offset).year + 2)
    for year in years:
        on = ibis.date(ibis.literal(year), month, dom)
        parts.append(
            d.select(
                person_id=d.person_id,
                trigger_id=prefix + on.cast("string"),
                trigger_at=on.cast(TS) + shift,
            )
        )
    return ibis.union(*parts)


def occurrences(
    schedule: Schedule, zone: ZoneInfo, since: datetime, now: datetime
) -> list[tuple[str, datetime]]:
    """The local times a schedule fires in ``zone`` whose UTC time falls in ``(since,
    now]``: (local ISO time, UTC time) pairs."""
    if schedule.at is not None:
        utc = to_utc(schedule.at, zone)
        return [(schedule.at.isoformat(), utc)] if since < utc <= now else []
    out = []
    day = since.date() - timedelta(days=1)
    while day <= now.date() + timedelta(days=1):
        if _fires(schedule, day):
            local = datetime.combine(day, schedule.time)
            utc = to_utc(local, zone)
            if since < utc <= now:
                out.append((local.isoformat(), utc))
        day += timedelta(days=1)
    return out


def _fires(schedule: Schedule, day: date) -> bool:
    if schedule.every == "week":
        return day.weekday() == WEEKDAYS.index(str(schedule.day))
    if schedule.every == "month":
        return day.day == schedule.day
    return True


def _schedule(ctx: Context, trigger: Trigger, since: datetime) -> ir.Table:
    """Each audience member once per local occurrence in their time zone."""
    schedule = trigger.schedule
    assert schedule is not None
    default = ctx.store.settings.timezone
    rows: dict[str, list[object]] = {"o_zone": [], "o_local": [], "o_at": []}
    for name in ctx.zone_names():
        for local, utc in occurrences(schedule, zone_of(name, default), since, ctx.now):
            rows["o_zone"].append(name)
            rows["o_local"].append(local)
            rows["o_at"].append(utc)
    table = pa.table(
        rows,
        schema=pa.schema(
            [("o_zone", pa.string()), ("o_local", pa.string()), ("o_at", pa.timestamp("us"))]
        ),
    )
    occ = ctx.upload("flow_occurrences", table)
    if not table.num_rows:  # no occurrence in the window: no audience to read
        return occ.select(
            person_id=ibis.null("string"), trigger_id=occ.o_local, trigger_at=occ.o_at
        )
    audience = _audience(ctx, schedule)
    z = ctx.zones()
    zone = ibis.coalesce(z.zone, ibis.literal(default))
    j = audience.left_join(z, audience.a_person == z.z_person).join(occ, zone == occ.o_zone)
    # the audience of each occurrence is who belonged at that moment, not at the tick: a
    # late tick (a backtest's) sends what ticks on time would have
    j = j.filter(j.a_from.isnull() | (j.a_from <= j.o_at), j.a_to.isnull() | (j.a_to > j.o_at))
    return j.select(
        person_id=j.a_person,
        trigger_id=ibis.literal("schedule:") + j.o_local,
        trigger_at=j.o_at,
    )


def _audience(ctx: Context, schedule: Schedule) -> ir.Table:
    """``a_person, a_from, a_to``: the stays of the schedule's segment's members (entered,
    exited), else everyone known (since they are known) up to the tick."""
    if schedule.segment is None:
        k = known_persons(ctx.store, ctx.now.date())
        return k.select(a_person=k.k_person, a_from=k.known_since.cast(TS), a_to=ibis.null(TS))
    m = membership(ctx.store)
    now = ibis.literal(ctx.now, type=TS)
    m = m.filter(m.segment == schedule.segment, m.entered_at.cast(TS) <= now)
    return m.select(a_person=m.person_id, a_from=m.entered_at.cast(TS), a_to=m.exited_at.cast(TS))


def zone_offsets(
    ctx: Context, since: datetime
) -> dict[str, list[tuple[datetime | None, datetime | None, int]]]:
    """Each zone's spans of constant UTC offset (:func:`offset_spans`) between ``since`` and
    two days after the tick: a wait until a local time of day reads the offset at each
    stay's own time, so a late tick gives what ticks on time would have."""
    default = ctx.store.settings.timezone
    until = ctx.now + timedelta(days=2)
    return {n: offset_spans(zone_of(n, default), since, until) for n in ctx.zone_names()}


def offset_spans(
    zone: ZoneInfo, since: datetime, until: datetime
) -> list[tuple[datetime | None, datetime | None, int]]:
    """The spans of constant UTC offset of ``zone`` over ``[since, until]`` (naive UTC), the
    first open to the past and the last to the future: (from, to, seconds)."""

    def offset(at: datetime) -> int:
        delta = at.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)
        return int(delta.total_seconds())

    spans: list[tuple[datetime | None, datetime | None, int]] = []
    begin: datetime | None = None
    day, current = since, offset(since)
    while day < until:
        step = min(day + timedelta(days=1), until)
        if offset(step) != current:
            lo, hi = day, step  # the change is in (lo, hi]: to the microsecond
            while hi - lo > timedelta(microseconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == current else (lo, mid)
            spans.append((begin, hi, current))
            begin, current = hi, offset(hi)
        day = step
    spans.append((begin, None, current))
    return spans


def time_seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second

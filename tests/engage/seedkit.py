"""Independent computations for the shipped flows' backtests on the demo store: who each
flow's trigger enters in a window, and whose stay reaches a later step, from the raw tables
(events, orders, identities, customers, segment_membership, stage_history,
journey_history) in pandas, never through the engine's own functions
(tests/engage/test_seed_backtests.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from tenure import Store
from tenure.analytics.base import VOID_STATUSES

#: The columns of a trigger instance computed here.
COLUMNS = ["person", "trigger_id", "when"]


def identity_maps(store: Store) -> dict[str, dict[str, str]]:
    """kind -> identifier value -> person."""
    ids = store.table("identities").to_pandas()
    return {k: dict(zip(g.value, g.person_id, strict=True)) for k, g in ids.groupby("kind")}


def events(store: Store, name: str) -> pd.DataFrame:
    """The events called ``name`` with ``person``: the person of the device, else of the
    user id as a customer id, else the user id itself."""
    by = identity_maps(store)
    e = store.table("events").to_pandas()
    e = e[e.event == name].copy()
    e["person"] = (
        e.anonymous_id.map(by.get("anonymous_id", {}))
        .fillna(e.user_id.map(by.get("customer_id", {})))
        .fillna(e.user_id)
    )
    return e[e.person.notna()]


def purchases(store: Store) -> pd.DataFrame:
    """``person, ordered_at`` of every purchase (void orders and full refunds left out)."""
    by = identity_maps(store)
    o = store.table("orders").to_pandas()
    o = o[~o.status.fillna("").str.lower().isin(VOID_STATUSES)]
    refunded = o.refunded.fillna(0)
    o = o[(o.total.astype(float) >= 0) & ~((refunded > 0) & (refunded >= o.total))].copy()
    o["person"] = o.customer_id.map(by.get("customer_id", {})).fillna(
        o.email.str.strip().str.lower().map(by.get("email", {}))
    )
    return o.loc[o.person.notna(), ["person", "ordered_at"]]


def event_instances(
    store: Store, name: str, no_order_within: timedelta | None = None
) -> pd.DataFrame:
    """Each event ``name`` as an instance firing at its time, or (``no_order_within``) at
    the end of that time when the person bought nothing within it."""
    e = events(store, name)
    delay = pd.Timedelta(no_order_within or timedelta(0))
    e = e.assign(when=e.timestamp + delay, trigger_id=e.message_id)
    if no_order_within is not None:
        m = e.merge(purchases(store), on="person")
        hit = (m.ordered_at >= m.timestamp) & (m.ordered_at <= m.when)
        e = e[~e.message_id.isin(set(m[hit].message_id))]
    return e[COLUMNS]


def segment_instances(store: Store, segment: str) -> pd.DataFrame:
    """The entries into ``segment`` of ``segment_membership``."""
    m = store.read("segment_membership").to_pandas()
    m = m[m.segment == segment]
    stamp = (m.entered_at.astype("int64") // 10**9).astype(str)
    return pd.DataFrame(
        {
            "person": m.person_id,
            "trigger_id": f"segment:{segment}:enter:" + stamp,
            "when": m.entered_at,
        }
    )


def history_instances(store: Store, table: str, column: str, value: str) -> pd.DataFrame:
    """The entries into ``value`` of a status or stage history, at midnight after their day,
    the stays of the history's first day left out."""
    h = store.read(table).to_pandas()
    first = h.entered_at.min()
    h = h[(h[column] == value) & (h.entered_at > first)]
    day = pd.to_datetime(h.entered_at)
    return pd.DataFrame(
        {"person": h.person_id, "trigger_id": day.astype(str), "when": day + pd.Timedelta(days=1)}
    )


def trait_days(store: Store, trait: str) -> pd.DataFrame:
    """``person, day`` of a date trait of the customer records (their ``traits`` JSON)."""
    by = identity_maps(store)
    c = store.table("customers").to_pandas()
    c["person"] = c.customer_id.map(by.get("customer_id", {})).fillna(c.customer_id)
    c["day"] = [_trait(t, trait) for t in c.traits]
    return c.loc[c.day.notna(), ["person", "day"]]


def _trait(text: str | None, key: str) -> date | None:
    value = json.loads(text).get(key) if text else None
    return date.fromisoformat(str(value)[:10]) if value else None


def date_instances(
    store: Store, trait: str, offset: timedelta, years: Iterable[int] | None = None
) -> pd.DataFrame:
    """A date trait at midnight shifted by ``offset``; ``years``: its anniversaries in
    those years (29 February on the 28th)."""
    rows = []
    for person, day in trait_days(store, trait).itertuples(index=False):
        days = [day] if years is None else [_anniversary(day, y) for y in years]
        rows += [(person, str(d), datetime.combine(d, time()) + offset) for d in days]
    return pd.DataFrame(rows, columns=COLUMNS)


def _anniversary(day: date, year: int) -> date:
    return date(year, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)


def zones(store: Store) -> dict[str, str]:
    """person -> time zone (the records' zone, the store's default when none)."""
    by = identity_maps(store)
    c = store.table("customers").to_pandas()
    c["person"] = c.customer_id.map(by.get("customer_id", {})).fillna(c.customer_id)
    c = c[c.timezone.fillna("").str.strip() != ""]
    return dict(c.groupby("person").timezone.max())


def local_to_utc(local: datetime, zone: str) -> datetime:
    aware = local.replace(tzinfo=ZoneInfo(zone))
    return aware.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def schedule_instances(
    store: Store, locals_: list[datetime], segment: str | None, known: pd.Series | None = None
) -> pd.DataFrame:
    """Each local time of ``locals_`` in each person's zone, for the members of ``segment``
    at that moment (``known``: the persons, when there is no segment)."""
    zone = zones(store)
    default = store.settings.timezone
    if segment is not None:
        m = store.read("segment_membership").to_pandas()
        m = m[m.segment == segment]
    rows = []
    for local in locals_:
        by_zone = {z: local_to_utc(local, z) for z in {*zone.values(), default}}
        if segment is None:
            assert known is not None
            audience = set(known)
        else:
            audience = set(m.person_id)
        for person in sorted(audience):
            at = by_zone[zone.get(person, default)]
            if segment is not None:
                stays = m[m.person_id == person]
                inside = (stays.entered_at <= at) & (
                    stays.exited_at.isna() | (stays.exited_at > at)
                )
                if not inside.any():
                    continue
            rows.append((person, f"schedule:{local.isoformat()}", at))
    return pd.DataFrame(rows, columns=COLUMNS)


def entries(
    found: pd.DataFrame, start: datetime, end: datetime, reentry: str | timedelta
) -> pd.DataFrame:
    """The instances firing in ``(start, end]`` that enter, by the re-entry rule (``never``,
    ``always`` or the gap after the last entry), earliest first per person; stays do not
    overlap the next instance (the shipped flows' gaps exceed their stays)."""
    f = found[(found.when > start) & (found.when <= end)]
    f = f.sort_values(["person", "when", "trigger_id"])
    rows = []
    for person, group in f.groupby("person", sort=True):
        last: pd.Timestamp | None = None
        for at, trigger in zip(group.when, group.trigger_id, strict=True):
            if last is not None and (
                reentry == "never" or (isinstance(reentry, timedelta) and at - last < reentry)
            ):
                continue
            rows.append((person, trigger, at))
            last = at
    return pd.DataFrame(rows, columns=COLUMNS)


def still_without_order(
    stays: pd.DataFrame, buys: pd.DataFrame, due: pd.Series, end: datetime
) -> pd.DataFrame:
    """The stays due at a later step by ``end`` (``due``: each stay's time there) whose person
    bought nothing after entering up to that time: those that run the step."""
    s = stays.assign(due=due.values)
    s = s[s.due <= end]
    m = s.reset_index().merge(buys, on="person")
    hit = (m.ordered_at > m.when) & (m.ordered_at <= m.due)
    return s[~s.index.isin(set(m[hit]["index"]))]


def next_local(at: pd.Series, persons: pd.Series, clock: time, store: Store) -> pd.Series:
    """Each stay's first local time of day ``clock`` at or after ``at`` in the person's zone,
    in UTC."""
    zone = zones(store)
    default = store.settings.timezone
    out = []
    for t, person in zip(at, persons, strict=True):
        z = zone.get(person, default)
        local = t.to_pydatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(z))
        target = datetime.combine(local.date(), clock)
        if target < local.replace(tzinfo=None):
            target += timedelta(days=1)
        out.append(local_to_utc(target, z))
    return pd.Series(pd.to_datetime(out), index=at.index)

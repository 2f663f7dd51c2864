"""The stage history: when each person entered and left each status (docs/metrics.md).

``stage_history`` holds one row per stay: ``person_id, status, entered_at, left_at`` (dates;
``left_at`` null while the person is still in the status; a stay covers ``entered_at <= day <
left_at``). Each refresh as of a day *d* compares every person's status on *d*
(:func:`~tenure.analytics.status.customer_status`) with their open stay: a changed status
closes the stay (``left_at = d``) and opens a new one (``entered_at = d``); a person no longer
known (merged into another person, or deleted) has the stay closed. Refreshing again as of
*d*, or as of an earlier day, first rolls the history back to the day before *d*, so the table
always reads as the statuses seen at the refreshes up to *d*.

:func:`backfill_stages` rebuilds the history over a past window by replaying a refresh every
day (or week, month) from the orders of that time, so "who entered at-risk on day X" and the
transition rates are simple queries (:func:`stage_entries`, :func:`transitions`). With a
step longer than a day, a change is dated at the first replayed day that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.status import STATUSES, customer_status
from tenure.errors import ConfigError
from tenure.identity.lookup import with_labels
from tenure.progress import ProgressCallback
from tenure.store import Store

TABLE = "stage_history"
SCHEMA = ibis.schema(
    {"person_id": "string", "status": "string", "entered_at": "date", "left_at": "date"}
)
STEPS = {"day": 1, "week": 7}


def _history(store: Store) -> ir.Table:
    return store.create(TABLE, SCHEMA)


def _rolled_back(h: ir.Table, day: date) -> ir.Table:
    """The history as it stood before the refresh of ``day``."""
    d = ibis.literal(day)
    kept = h.filter(h.entered_at < d)
    return kept.mutate(left_at=ibis.ifelse(kept.left_at >= d, ibis.null("date"), kept.left_at))


def next_history(history: ir.Table, status: ir.Table, day: date) -> ir.Table:
    """The stage history after recording ``status`` (person_id, status) as of ``day``."""
    h = _rolled_back(history, day)
    d = ibis.literal(day)
    closed = h.filter(h.left_at.notnull())
    open_ = h.filter(h.left_at.isnull())
    now = status.select(c_person=status.person_id, c_status=status.status)
    j = open_.outer_join(now, open_.person_id == now.c_person)
    same = ibis.coalesce(j.status == j.c_status, ibis.literal(False))
    stays = j.filter(j.person_id.notnull()).select(
        person_id=j.person_id,
        status=j.status,
        entered_at=j.entered_at,
        left_at=ibis.ifelse(same, ibis.null("date"), d),
    )
    starts = j.filter(j.c_person.notnull() & ~same).select(
        person_id=j.c_person, status=j.c_status, entered_at=d, left_at=ibis.null("date")
    )
    cols = list(SCHEMA.names)
    return ibis.union(closed.select(*cols), stays.select(*cols), starts.select(*cols))


def record_stages(store: Store, status: ir.Table, day: date) -> int:
    """Write ``status`` (as of ``day``) into ``stage_history``; return its row count."""
    history = _history(store)
    # written first: the next history reads the current one, which replacing drops
    with store.scratch("stages_next", next_history(history, status, day)) as scratch:
        table = store.replace(TABLE, store.read(scratch))
        return int(table.count().execute())


def _days(start: date, end: date, every: str) -> list[date]:
    if every not in (*STEPS, "month"):
        raise ConfigError(
            f"The 'every' parameter of backfill_stages must be one of day, week, month. "
            f"Got {every!r} instead."
        )
    if start > end:
        raise ConfigError(f"The backfill start {start} is after its end {end}.")
    out, day = [], start
    while day < end:
        out.append(day)
        if every == "month":
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        else:
            day += timedelta(days=STEPS[every])
    return [*out, end]


def backfill_stages(
    store: Store,
    *,
    start: date,
    end: date | None = None,
    every: str = "day",
    progress: ProgressCallback | None = None,
) -> int:
    """Rebuild ``stage_history`` by replaying a status refresh at each day from ``start`` to
    ``end`` (default: the default as-of day) with the orders known on that day. Returns the
    number of history rows. Replaces the history from ``start`` on; earlier stays are kept."""
    last = end if end is not None else store_end(store)
    days = _days(start, last, every)
    rows = 0
    with store.scratch("stages_orders_base", orders_base(store, as_of=last)) as scratch:
        orders = store.read(scratch)
        for i, day in enumerate(days):
            rows = record_stages(store, customer_status(store, as_of=day, orders=orders), day)
            if progress is not None:
                progress("Backfill", i + 1, len(days))
    return rows


def stage_entries(
    store: Store,
    *,
    status: str | None = None,
    on: date | None = None,
    with_identifiers: bool = True,
) -> pd.DataFrame:
    """`tenure stages entered`: the stays that began on ``on`` (default: the latest refresh
    day), of one status or all ("who entered at-risk today"), by status and person_id, with
    (unless ``with_identifiers`` is false) each person's customer id and e-mail after the
    person id (:func:`tenure.identity.with_labels`)."""
    h = _history(store)
    if status is not None and status not in STATUSES:
        raise ConfigError(
            f"The 'status' parameter must be one of {', '.join(STATUSES)}. Got {status!r}."
        )
    day = on if on is not None else h.entered_at.max().execute()
    out = h.filter(h.entered_at == ibis.literal(day))
    if status is not None:
        out = out.filter(out.status == status)
    frame = out.order_by(["status", "person_id"]).to_pandas()
    return with_labels(store, frame) if with_identifiers else frame


@dataclass(frozen=True)
class HistorySpan:
    """What ``stage_history`` holds: the first day a status was recorded (None: nothing
    recorded), the moves between statuses (closed spells) and the first and last day of one."""

    first_day: date | None
    moves: int
    first_move: date | None
    last_move: date | None


def history_span(store: Store) -> HistorySpan:
    """The days and moves ``stage_history`` holds (why a transitions table may be empty)."""
    if not store.exists(TABLE):
        return HistorySpan(None, 0, None, None)
    h = store.read(TABLE)
    row = (
        h.aggregate(
            first_day=h.entered_at.min(),
            moves=h.left_at.count(),
            first_move=h.left_at.min(),
            last_move=h.left_at.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    return HistorySpan(
        row["first_day"], int(row["moves"] or 0), row["first_move"], row["last_move"]
    )


def transitions(
    store: Store, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """From status -> to status: the moves dated within [start, end] and the persons making
    them, the persons who were in the from-status at some time in the window, and the rate
    (persons moving / persons in the from-status)."""
    h = _history(store)
    w = ibis.window(group_by=h.person_id, order_by=h.entered_at)
    moves = h.mutate(to_status=h.status.lead().over(w), moved_at=h.left_at)
    moves = moves.filter(moves.to_status.notnull())
    lo = ibis.literal(start) if start is not None else None
    hi = ibis.literal(end) if end is not None else None
    inside = moves
    stays = h
    if lo is not None:
        inside = inside.filter(inside.moved_at >= lo)
        stays = stays.filter(stays.left_at.isnull() | (stays.left_at > lo))
    if hi is not None:
        inside = inside.filter(inside.moved_at <= hi)
        stays = stays.filter(stays.entered_at <= hi)
    counts = inside.group_by(from_status=inside.status, to_status=inside.to_status).agg(
        moves=inside.count(), movers=inside.person_id.nunique()
    )
    base = stays.group_by(from_status=stays.status).agg(persons=stays.person_id.nunique())
    out = counts.to_pandas().merge(base.to_pandas(), on="from_status", how="left")
    out["rate"] = out["movers"] / out["persons"].where(out["persons"] > 0)
    order = {s: i for i, s in enumerate(STATUSES)}
    out = out.sort_values(
        ["from_status", "to_status"], key=lambda c: c.map(order).astype(F64)
    ).reset_index(drop=True)
    return out[["from_status", "to_status", "moves", "movers", "persons", "rate"]]

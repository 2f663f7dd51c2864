"""Segments: the definitions (shipped and the user's), who is in each at a moment ``now``,
and their membership history (docs/segments.md).

Evaluation is set-based: one Ibis expression per segment over the profile
(:func:`tenure.engage.fields.profile`), never a loop over persons. ``now`` is injectable;
by default the end of the store's as-of day (:func:`tenure.analytics.base.store_end`), or
the present when that day is today. :func:`refresh_segments` keeps ``segment_membership``:
one row per stay of a person in a segment (entered_at, exited_at; open while exited_at is
null); the flows read its entries and exits as triggers.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import limited, store_end
from tenure.config import Settings
from tenure.engage.compile import Context, condition
from tenure.engage.fields import json_value, profile
from tenure.engage.spec import Segment, fields_of, parse_segment
from tenure.errors import ConfigError, NotFoundError
from tenure.identity.lookup import labelled
from tenure.store import Store

#: The shipped definitions (package data).
SHIPPED = Path(__file__).parent / "definitions" / "segments"
#: The membership history and its schema.
TABLE = "segment_membership"
SCHEMA = ibis.schema(
    {
        "segment": "string",
        "person_id": "string",
        "entered_at": "timestamp",
        "exited_at": "timestamp",
    }
)
#: One row per segment and refresh: the size and the entries and exits of that refresh.
RUNS = "segment_runs"
RUNS_SCHEMA = ibis.schema(
    {
        "segment": "string",
        "refreshed_at": "timestamp",
        "members": "int64",
        "entered": "int64",
        "exited": "int64",
    }
)
#: The order members are listed in: by customer id, then e-mail (a person without either
#: last), then person id (which differs from one resolution to the next).
ORDER = ("customer_id", "email", "person_id")
#: The fields shown next to each member, besides those a segment's condition reads.
SHOWN = ("status", "stage", "orders")


class SegmentNotFoundError(NotFoundError):
    """No segment definition has the name the user gave."""


def _read_dir(directory: Path, shipped: bool) -> dict[str, Segment]:
    found: dict[str, Segment] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        shown = path.name if shipped else str(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise ConfigError(f"Cannot read the segment definition {shown}: {e}.") from None
        seg = parse_segment(text, shown, base=path.parent)
        if seg.name in found:
            raise ConfigError(
                f"{shown}: the segment {seg.name!r} is defined twice (also in "
                f"{found[seg.name].file}).",
                hint="Give each segment its own name.",
            )
        found[seg.name] = Segment(seg.name, seg.description, seg.condition, seg.file, shipped)
    return found


def read_definitions(directory: Path | None = None) -> dict[str, Segment]:
    """The shipped segments, then those of ``directory`` (a missing directory: none), a
    user's definition replacing the shipped one of the same name; by name."""
    segments = _read_dir(SHIPPED, shipped=True)
    if directory is not None and directory.is_dir():
        segments.update(_read_dir(directory, shipped=False))
    return dict(sorted(segments.items()))


def definitions(settings: Settings) -> dict[str, Segment]:
    """The segments of ``settings`` (the ``segments_dir`` setting)."""
    return read_definitions(Path(settings.segments_dir))


def get_segment(store: Store, name: str) -> Segment:
    """The segment called ``name``; an error naming the close ones otherwise."""
    known = definitions(store.settings)
    if name in known:
        return known[name]
    near = difflib.get_close_matches(name, list(known), n=3)
    hint = f"Did you mean {', '.join(near)}? " if near else ""
    raise SegmentNotFoundError(
        f"No segment named {name!r}.",
        hint=f"{hint}`tenure segments list` shows them all.",
    )


def clock(store: Store, now: datetime | None = None, as_of: date | None = None) -> datetime:
    """``now`` when given; else the end of ``as_of`` (default the store's as-of day), or the
    present (UTC, naive) when that day is today."""
    if now is not None:
        return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    day = as_of if as_of is not None else store_end(store)
    present = datetime.now(UTC).replace(tzinfo=None)
    return present if day == present.date() else datetime.combine(day, time.max)


def context(store: Store, now: datetime, *, built: bool = True) -> Context:
    """The compile context at ``now``: the profile as of ``now``'s day (``built``: from the
    derived tables, else from the canonical tables only; :func:`tenure.engage.fields.profile`)."""
    return Context(store, now, profile(store, now, now.date(), built=built), built=built)


def members(ctx: Context, segment: Segment) -> ir.Table:
    """``person_id`` of the members of ``segment`` (an expression)."""
    return ctx.profile.filter(condition(segment.condition, ctx)).select("person_id")


def evaluate(ctx: Context, segments: list[Segment]) -> ir.Table:
    """``segment``, ``person_id``: the members of every segment of ``segments``."""
    parts = [
        members(ctx, s).select(segment=ibis.literal(s.name), person_id="person_id")
        for s in segments
    ]
    if not parts:
        empty = pd.DataFrame({"segment": [], "person_id": []}, dtype=object)
        return ibis.memtable(empty, schema={"segment": "string", "person_id": "string"})
    return ibis.union(*parts)


def next_membership(history: ir.Table, current: ir.Table, now: datetime) -> ir.Table:
    """The membership history after a refresh at ``now``: the stays of persons no longer in
    their segment closed (exited_at ``now``), a stay opened (entered_at ``now``) for each
    member without an open one; closed stays kept as they are."""
    at = ibis.literal(now, "timestamp")
    still_open = history.filter(history.exited_at.isnull())
    closed = history.filter(history.exited_at.notnull())
    key = ["segment", "person_id"]
    staying = still_open.semi_join(current, key)
    leaving = still_open.anti_join(current, key).mutate(exited_at=at)
    entering = current.anti_join(still_open, key).select(
        "segment", "person_id", entered_at=at, exited_at=ibis.null("timestamp")
    )
    cols = list(SCHEMA.names)
    return ibis.union(*(t.select(cols).cast(SCHEMA) for t in (closed, staying, leaving, entering)))


def last_refresh(store: Store) -> datetime | None:
    """The clock of the latest :func:`refresh_segments` (None before the first)."""
    if not store.exists(RUNS):
        return None
    last = store.read(RUNS).refreshed_at.max().execute()
    return None if last is None or pd.isna(last) else pd.Timestamp(last).to_pydatetime()


def refresh_segments(
    store: Store, now: datetime | None = None, *, segments: list[Segment] | None = None
) -> dict[str, int]:
    """Bring ``segment_membership`` to ``now`` (default :func:`clock`): close the stays of
    those who left a segment, open one for those who entered; record the refresh in
    ``segment_runs``. Running it twice at the same ``now`` changes nothing. ``segments``:
    default every definition (the stays of a segment no longer defined are closed).
    Returns the rows of ``segment_membership``."""
    at = clock(store, now)
    last = last_refresh(store)
    if last is not None and at < last:
        raise ConfigError(
            f"Cannot refresh the segments as of {at}: they were refreshed as of {last}.",
            hint="The membership history moves forward only; pass a later time.",
        )
    chosen = segments if segments is not None else list(definitions(store.settings).values())
    store.create(TABLE, SCHEMA)
    store.create(RUNS, RUNS_SCHEMA)
    # only the parts of the profile some condition reads
    fields = [f for s in chosen for f in fields_of(s.condition)]
    with store.scratch("segment_profile", profile(store, at, at.date(), fields=fields)) as name:
        ctx = Context(store, at, store.read(name))
        with store.scratch("segment_current", evaluate(ctx, chosen)) as current:
            nxt = next_membership(store.read(TABLE), store.read(current), at)
            with store.scratch("segment_next", nxt) as written:
                table = store.replace(TABLE, store.read(written))
    _record(store, table, at, [s.name for s in chosen])
    return {TABLE: int(table.count().execute())}


def _record(store: Store, table: ir.Table, at: datetime, names: list[str]) -> None:
    """The ``segment_runs`` rows of the refresh at ``at`` (replacing those of a refresh at
    the same time)."""
    when = ibis.literal(at, "timestamp")
    per = table.group_by("segment").agg(
        members=table.exited_at.isnull().cast("int64").sum(),
        entered=(table.entered_at == when).fill_null(False).cast("int64").sum(),
        exited=(table.exited_at == when).fill_null(False).cast("int64").sum(),
    )
    frame = per.to_pandas().set_index("segment")
    rows = pd.DataFrame(
        {
            "segment": names,
            "refreshed_at": [at] * len(names),
            **{
                c: [int(frame[c].get(n, 0)) for n in names]
                for c in ("members", "entered", "exited")
            },
        }
    )
    store.delete_where(RUNS, lambda t: t.refreshed_at == when)
    store.append(RUNS, rows.astype({"segment": object}))


def _runs(store: Store) -> pd.DataFrame:
    """The latest refresh of each segment: segment, refreshed_at, members, entered, exited."""
    if not store.exists(RUNS):
        return pd.DataFrame(columns=list(RUNS_SCHEMA.names)).set_index("segment")
    r = store.read(RUNS)
    w = ibis.window(group_by=r.segment, order_by=ibis.desc(r.refreshed_at))
    latest = r.mutate(_r=ibis.row_number().over(w))
    return latest.filter(latest._r == 0).drop("_r").to_pandas().set_index("segment")


def list_segments(store: Store, now: datetime | None = None) -> pd.DataFrame:
    """Every segment: name, file, shipped, description, size (now), the size at the last
    refresh (``last_size``, null before the first), change (size - last_size) and
    last_refresh; ``attrs["now"]``: the clock."""
    at = clock(store, now)
    segments = list(definitions(store.settings).values())
    ctx = context(store, at)
    got = evaluate(ctx, segments)
    sizes = got.group_by("segment").agg(n=got.count()).to_pandas().set_index("segment")["n"]
    runs = _runs(store)
    rows = []
    for s in segments:
        size = int(sizes.get(s.name, 0))
        last = runs["members"].get(s.name) if s.name in runs.index else None
        rows.append(
            {
                "segment": s.name,
                "file": s.file,
                "shipped": s.shipped,
                "size": size,
                "last_size": None if last is None else int(last),
                "change": None if last is None else size - int(last),
                "last_refresh": runs["refreshed_at"].get(s.name) if s.name in runs.index else None,
                "description": s.description,
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["now"] = at
    return frame


def _shown(ctx: Context, segment: Segment, table: ir.Table) -> ir.Table:
    """The members of ``table`` (person_id) with their customer id and e-mail, then the
    fields the condition reads and :data:`SHOWN`, in :data:`ORDER`."""
    p = ctx.profile
    wanted = [f for f in dict.fromkeys([*fields_of(segment.condition), *SHOWN])]
    wanted = [f for f in wanted if f not in ("customer_id", "email")]
    values = {
        f: json_value(p.traits, f.split(".", 1)[1]) if f.startswith("traits.") else p[f]
        for f in wanted
    }
    rows = p.semi_join(table, "person_id").select("person_id", **values)
    return labelled(ctx.store, rows).order_by(list(ORDER))


def segment_members(
    store: Store, name: str, *, now: datetime | None = None, limit: int | None = None
) -> pd.DataFrame:
    """The members of segment ``name`` at ``now`` (default :func:`clock`), in :data:`ORDER`:
    person_id, customer_id, email, other_id, the fields of the condition and a few more.
    With ``limit``, the first ``limit`` rows and ``attrs["rows"]``, the count of all."""
    segment = get_segment(store, name)
    ctx = context(store, clock(store, now))
    frame = limited(_shown(ctx, segment, members(ctx, segment)), limit)
    frame.attrs.update(segment=segment.name, now=ctx.now)
    if limit is None:
        frame.attrs["rows"] = len(frame)
    return frame


@dataclass(frozen=True)
class Preview:
    """What a refresh at ``now`` would make of a segment, written nowhere: its ``size``, a
    ``sample`` of members, and against the open stays of the last refresh (None before the
    first) how many would enter and leave."""

    segment: Segment
    now: datetime
    size: int
    sample: pd.DataFrame
    entering: int | None
    leaving: int | None
    last_refresh: datetime | None


def preview_segment(
    store: Store, name: str, *, now: datetime | None = None, sample: int = 10
) -> Preview:
    """The :class:`Preview` of segment ``name`` at ``now`` (default :func:`clock`)."""
    if sample < 0:
        raise ConfigError(f"The sample size must be 0 or more. Got {sample} instead.")
    segment = get_segment(store, name)
    at = clock(store, now)
    # the members written once (the size, the sample, the entering and the leaving read
    # them), from a profile of the condition's fields only, never written itself (the
    # engine filters it as it builds it); then the profile of the sample's persons only
    ctx = Context(store, at, profile(store, at, at.date(), fields=fields_of(segment.condition)))
    with store.scratch("preview_members", members(ctx, segment)) as kept:
        found = store.read(kept)
        size = int(found.count().execute())
        ids = labelled(store, found).order_by(list(ORDER)).limit(sample).select("person_id")
        with store.scratch("preview_sample", ids) as picked:
            few = store.read(picked)
            needed = [*fields_of(segment.condition), *SHOWN]
            shown = profile(store, at, at.date(), fields=needed, persons=few)
            frame = _shown(Context(store, at, shown), segment, few).to_pandas()
            frame.attrs["rows"] = size
        entering, leaving, refreshed = _moves(store, name, found)
    return Preview(segment, ctx.now, size, frame, entering, leaving, refreshed)


def _moves(
    store: Store, name: str, found: ir.Table
) -> tuple[int | None, int | None, datetime | None]:
    """Against the open stays of segment ``name``'s last refresh (all None before the
    first): how many of ``found`` would enter, how many would leave, and that refresh."""
    last = _runs(store)
    refreshed = last["refreshed_at"].get(name) if name in last.index else None
    if refreshed is None:
        return None, None, None
    h = store.read(TABLE)
    stays = h.filter((h.segment == ibis.literal(name)) & h.exited_at.isnull())
    stays = stays.select("person_id")
    entering = int(found.anti_join(stays, "person_id").count().execute())
    leaving = int(stays.anti_join(found, "person_id").count().execute())
    return entering, leaving, pd.Timestamp(refreshed).to_pydatetime()


def export_segment(store: Store, name: str, out: Path, *, now: datetime | None = None) -> int:
    """Write the members of segment ``name`` at ``now`` to CSV file ``out`` (customer_id,
    email, person_id; in :data:`ORDER`); return how many."""
    segment = get_segment(store, name)
    ctx = context(store, clock(store, now))
    rows = labelled(store, members(ctx, segment)).order_by(list(ORDER))
    frame = rows.select("customer_id", "email", "person_id").to_pandas()
    try:
        frame.to_csv(out, index=False)
    except OSError as e:
        raise ConfigError(f"Cannot write {out}: {e}.", hint="Pass another --out file.") from None
    return len(frame)

"""``tenure segments``: the segments as code (docs/segments.md): list them, preview one, show
or export its members; each command parses, calls one library function
(:mod:`tenure.engage.segments`) and prints."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, app, console, kv_table, open_store, print_json
from tenure.cli.output import CsvOpt, LimitOpt, emit, records, screen_rows
from tenure.errors import ConfigError

segments_app = typer.Typer(
    help="Segments as code: list, preview, members, export (docs/segments.md).",
    no_args_is_help=True,
)
app.add_typer(segments_app, name="segments")

NameArg = Annotated[str, typer.Argument(help="The segment's name (`tenure segments list`).")]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The clock, YYYY-MM-DD[THH:MM[:SS]] in UTC (default: the end of the as-of day, "
        "or the present when that is today).",
        show_default=False,
    ),
]


def parse_now(value: str | None) -> datetime | None:
    """The ``--now`` option as a naive UTC time, or a clear error."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--now {value!r} is not a time.",
            hint="Write it YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC).",
        ) from None


def _text(value: object) -> str:
    return "" if value is None or value != value else str(value)


@segments_app.command("list")
def segments_list(
    store: StoreOpt = None, now: NowOpt = None, as_json: JsonOpt = False, as_csv: CsvOpt = False
) -> None:
    """Every segment: its file, size now, size at the last refresh and the change."""
    from tenure.engage.segments import list_segments

    with open_store(store) as st:
        frame = list_segments(st, parse_now(now))
    if as_json:
        print_json({"now": frame.attrs["now"].isoformat(), "segments": records(frame)})
        return
    if not as_csv:
        frame = frame[["segment", "size", "last_size", "change", "last_refresh", "file"]]
    emit(frame, title=f"Segments at {frame.attrs['now']:%Y-%m-%d %H:%M}", as_csv=as_csv)


@segments_app.command("preview")
def segments_preview(
    name: NameArg,
    sample: Annotated[int, typer.Option("--sample", min=0, help="Members shown.")] = 10,
    store: StoreOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A segment's size, a sample of its members, and who would enter and leave it since
    the last refresh; writes nothing."""
    from tenure.engage.segments import preview_segment

    with open_store(store) as st:
        p = preview_segment(st, name, now=parse_now(now), sample=sample)
    facts = {
        "segment": p.segment.name,
        "description": p.segment.description,
        "file": p.segment.file,
        "now": p.now.isoformat(),
        "size": p.size,
        "last_refresh": p.last_refresh.isoformat() if p.last_refresh else None,
        "entering": p.entering,
        "leaving": p.leaving,
    }
    if as_json:
        print_json({**facts, "sample": records(p.sample)})
        return
    console.print(kv_table(f"Segment {p.segment.name}", [(k, _text(v)) for k, v in facts.items()]))
    if p.last_refresh is None:
        console.print("Never refreshed: entries and exits count from the first `tenure run`.")
    if not p.sample.empty:
        emit(p.sample, title="Sample of members", limit=0)


@segments_app.command("members")
def segments_members(
    name: NameArg,
    limit: LimitOpt = None,
    store: StoreOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The members of a segment now, with the fields its condition reads."""
    from tenure.engage.segments import segment_members

    every = as_json or as_csv
    # JSON and CSV: every member unless --limit; the terminal: a screenful (--limit 0: all)
    fetch = (limit or None) if every else screen_rows(limit)
    with open_store(store) as st:
        frame = segment_members(st, name, now=parse_now(now), limit=fetch)
    if frame.empty and not every:
        console.print(f"Segment {name} has no members at {frame.attrs['now']:%Y-%m-%d %H:%M}.")
        return
    emit(frame, title=f"Members of {name}", as_json=as_json, as_csv=as_csv, limit=limit)


@segments_app.command("export")
def segments_export(
    name: NameArg,
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    store: StoreOpt = None,
    now: NowOpt = None,
) -> None:
    """Write a segment's members to a CSV file: customer_id, email, person_id."""
    from tenure.engage.segments import export_segment

    with open_store(store) as st:
        rows = export_segment(st, name, out, now=parse_now(now))
    console.print(f"Wrote {rows:,} members of {name} to {out}.")

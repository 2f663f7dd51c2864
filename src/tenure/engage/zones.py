"""Local time in the engine, DST-correct, on DuckDB and PySpark alike.

Ibis has no portable per-row time-zone conversion, so the offsets of the zones a decision
needs are computed in Python with :mod:`zoneinfo` over the span it looks at and joined in as
small tables:

* :func:`offsets` — one row per zone and stretch of constant UTC offset
  (``zone``, ``utc_from``, ``utc_to``, ``offset_s``); a range join gives any UTC instant its
  local time (:func:`with_local_time`);
* :func:`local_instants` — the UTC instant of given local times of day on each local date
  (``zone``, ``day``, ``minute``, ``utc``), e.g. the end of quiet hours: an equi-join, and
  :mod:`zoneinfo` decides the DST edge cases (a local time that does not exist on a
  spring-forward day is read with the offset before the change, so it falls just after the
  gap; an ambiguous one takes its first occurrence).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import ibis.expr.types as ir
import pyarrow as pa

#: Bounds of the first and last stretch of :func:`offsets` (outside the span asked for, the
#: nearest stretch's offset holds; decisions never look there).
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(2200, 1, 1)
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


def is_zone(name: str | None) -> bool:
    """Whether ``name`` is an IANA time zone :mod:`zoneinfo` knows."""
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def known_zones(names: Iterable[str | None]) -> list[str]:
    """The valid IANA zones among ``names``, sorted, without repeats."""
    return sorted({n for n in names if n is not None and is_zone(n)})


def zone_choices() -> list[str]:
    """Every zone name :mod:`zoneinfo` knows (for error hints)."""
    return sorted(available_timezones())


def _offset(zone: ZoneInfo, utc: datetime) -> int:
    delta = utc.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in [start, end] where ``zone``'s offset changes (to the second); a day
    is stepped, a change found is bisected."""
    found: list[datetime] = []
    day = datetime.combine(start.date(), time())
    before = _offset(zone, day)
    while day <= end:
        after = _offset(zone, day + _DAY)
        if after != before:
            lo, hi = day, day + _DAY
            while hi - lo > _SECOND:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if _offset(zone, mid) == before:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        day, before = day + _DAY, after
    return found


def offsets(zones: Iterable[str], start: datetime, end: datetime) -> pa.Table:
    """``zone``, ``utc_from``, ``utc_to``, ``offset_s``: the UTC offset of each zone in force
    from ``utc_from`` (inclusive) to ``utc_to`` (exclusive), covering ``start``..``end``."""
    rows: dict[str, list[object]] = {"zone": [], "utc_from": [], "utc_to": [], "offset_s": []}
    for name in zones:
        zone = ZoneInfo(name)
        cuts = [EARLIEST, *_transitions(zone, start, end), LATEST]
        for lo, hi in itertools.pairwise(cuts):
            rows["zone"].append(name)
            rows["utc_from"].append(lo)
            rows["utc_to"].append(hi)
            rows["offset_s"].append(_offset(zone, max(lo, start - _DAY)))
    return pa.table(
        {
            "zone": pa.array(rows["zone"], pa.string()),
            "utc_from": pa.array(rows["utc_from"], pa.timestamp("us")),
            "utc_to": pa.array(rows["utc_to"], pa.timestamp("us")),
            "offset_s": pa.array(rows["offset_s"], pa.int64()),
        }
    )


def local_instants(
    zones: Iterable[str], first: date, last: date, minutes: Iterable[int]
) -> pa.Table:
    """``zone``, ``day``, ``minute``, ``utc``: the UTC instant (naive) of local time
    ``minute`` (minutes after midnight) on local date ``day``, for each zone, each day of
    ``first``..``last`` and each minute."""
    cols: dict[str, list[object]] = {"zone": [], "day": [], "minute": [], "utc": []}
    wanted = sorted(set(minutes))
    for name in zones:
        zone = ZoneInfo(name)
        day = first
        while day <= last:
            for minute in wanted:
                local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                cols["zone"].append(name)
                cols["day"].append(day)
                cols["minute"].append(minute)
                cols["utc"].append(local.astimezone(UTC).replace(tzinfo=None))
            day += _DAY
    return pa.table(
        {
            "zone": pa.array(cols["zone"], pa.string()),
            "day": pa.array(cols["day"], pa.date32()),
            "minute": pa.array(cols["minute"], pa.int64()),
            "utc": pa.array(cols["utc"], pa.timestamp("us")),
        }
    )


def with_local_time(
    table: ir.Table, utc: str, zone: str, offsets_table: ir.Table, name: str
) -> ir.Table:
    """``table`` with column ``name``: the local time of timestamp column ``utc`` in the zone
    of column ``zone`` (every zone of ``table`` must be in ``offsets_table``)."""
    table = table.view()  # a new relation (``table`` may be a join's projection)
    o = offsets_table.rename(o_zone="zone", o_from="utc_from", o_to="utc_to", o_off="offset_s")
    joined = table.join(
        o, (table[zone] == o.o_zone) & (table[utc] >= o.o_from) & (table[utc] < o.o_to)
    )
    local = joined[utc] + joined.o_off.as_interval("s")
    return joined.select(*table.columns, **{name: local})

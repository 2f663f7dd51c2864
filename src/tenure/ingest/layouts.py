"""A file's layout, read from its first rows before the import: date layout, field count.

A preset (or mapping) may list the date layouts its source is known to use
(``date_formats``); each file is written in one of them, so the one that reads most of the
first rows' dates is the file's. When, even so, a date column cannot be read in nearly every
one of the first rows, or a whitespace file's lines have another number of fields than the
mapping names, the file is refused with the column, the layout tried, sample values and the
mapping line that fixes it, instead of quarantining every row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import duckdb

from tenure.errors import MappingError
from tenure.ingest.entities import Entity
from tenure.ingest.mapping import Mapping
from tenure.ingest.parse import date_trials
from tenure.ingest.readers import Staged

#: how many of the first rows are read to choose and check the layout
SAMPLE_ROWS = 1000
#: a column is refused when more than this share of its sampled values cannot be read...
FAIL_SHARE = 0.9
#: ...and at least this many values were sampled (a tiny file's rows are quarantined)
MIN_VALUES = 10
#: layouts tried on unreadable dates to suggest the ``date_format`` line that reads them
COMMON_LAYOUTS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S %z",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d %b %Y",
    "%b %d, %Y",
)
_ISO = "ISO 8601 (the default without `date_format`)"


def fit_layout(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    mapping: Mapping,
    staged: Staged,
    field_map: dict[str, str],
    timezone: str,
) -> Mapping:
    """``mapping`` with the file's date layout chosen, once its first rows pass the checks."""
    if staged.fmt == "whitespace":
        _check_field_count(con, entity, mapping, staged)
    dates = {
        name: kind
        for name, kind in entity.fields.items()
        if kind in ("timestamp", "date")
        and name in field_map
        and not _typed(staged, field_map[name])
    }
    layouts: list[str | None] = list(mapping.date_formats) or [mapping.date_format]
    if not dates:
        return replace(mapping, date_format=layouts[0], date_formats=())
    with staged.head(con, SAMPLE_ROWS) as head:
        sql, params = date_trials(staged, mapping, field_map, dates, timezone, layouts, head)
        rows = con.execute(sql, {**staged.params, **params}).fetchall()
    n = len(dates)

    def read(row: tuple[object, ...], layout: int, field: int) -> bool:
        return bool(row[n + layout * n + field])

    reads = [sum(read(r, i, j) for r in rows for j in range(n)) for i in range(len(layouts))]
    best = max(range(len(layouts)), key=lambda i: (reads[i], -i))
    for j, name in enumerate(dates):
        values = [row[j] for row in rows if row[j] is not None]
        bad = [str(row[j]) for row in rows if row[j] is not None and not read(row, best, j)]
        if len(values) >= MIN_VALUES and len(bad) > FAIL_SHARE * len(values):
            where = (str(staged.path), field_map[name], name)
            raise _unreadable(con, mapping, where, layouts, len(values), bad)
    return replace(mapping, date_format=layouts[best], date_formats=())


def _typed(staged: Staged, source: str) -> bool:
    """Whether a source column is typed (Parquet), not text: it has no layout to detect."""
    return bool(staged.types) and staged.types[staged.columns.index(source)] != "VARCHAR"


def _unreadable(
    con: duckdb.DuckDBPyConnection,
    mapping: Mapping,
    where: tuple[str, str, str],
    layouts: list[str | None],
    values: int,
    bad: list[str],
) -> MappingError:
    """The error for a date column (file, source column, field) nearly never readable."""
    path, source, name = where
    tried = " or ".join(repr(x) if x else _ISO for x in layouts)
    tried = f"the layouts {tried}" if len(layouts) > 1 else f"the layout {tried}"
    shown = ", ".join(repr(v) for v in list(dict.fromkeys(bad))[:3])
    guess = suggest_layout(con, bad[:50])
    line = f'`date_format: "{guess}"`' if guess else "a `date_format:` line (strptime codes)"
    fix = (
        "a mapping file (--mapping) made from the preset's lines (docs/import-mapping.md)"
        if mapping.name.startswith("preset")
        else "the mapping (--mapping, docs/import-mapping.md)"
    )
    return MappingError(
        f"{path}: column {source!r} ({name}): {len(bad):,} of the first {values:,} values "
        f"cannot be read as dates with {tried} (mapping: {mapping.name}), "
        f"e.g. {shown}.",
        hint=f"Put {line} in {fix}"
        + ("; it reads these values." if guess else " that reads these values."),
    )


def suggest_layout(con: duckdb.DuckDBPyConnection, samples: list[str]) -> str | None:
    """The first common layout that reads nearly all ``samples`` (None if none does)."""
    if not samples:
        return None
    for layout in COMMON_LAYOUTS:
        row = con.execute(
            "SELECT count(try_strptime(v, $f)) FROM unnest($v) t(v)", {"f": layout, "v": samples}
        ).fetchone()
        if row and row[0] >= FAIL_SHARE * len(samples):
            return layout
    return None


def _check_field_count(
    con: duckdb.DuckDBPyConnection, entity: Entity, mapping: Mapping, staged: Staged
) -> None:
    """Refuse a whitespace file whose lines nearly all have another number of fields."""
    with staged.head(con, SAMPLE_ROWS) as head:
        rows = con.execute(
            f"SELECT len(regexp_extract_all(raw, '\\S+')), raw FROM ({head})", staged.params
        ).fetchall()
    expected = len(mapping.names)
    wrong = [(n, raw) for n, raw in rows if n != expected]
    if len(rows) < MIN_VALUES or len(wrong) <= FAIL_SHARE * len(rows):
        return
    found = Counter(n for n, _ in wrong).most_common(1)[0][0]
    dated = {
        src
        for canonical, src in mapping.columns.items()
        if entity.fields.get(canonical) in ("timestamp", "date")
    }
    layout = " ".join(
        f"{n}({mapping.date_format})" if mapping.date_format and n in dated else n
        for n in mapping.names
    )
    sample = " ".join(str(wrong[0][1]).split())
    raise MappingError(
        f"{staged.path}: {len(wrong):,} of the first {len(rows):,} lines have {found} fields "
        f"(e.g. {sample!r}); the mapping {mapping.name} expects {expected}: {layout}.",
        hint=f"If the file has {found} columns, give a mapping (--mapping) whose `names:` lists "
        f"all {found} in order and whose `columns:` maps the ones to import "
        "(docs/import-mapping.md).",
    )

"""Reading the ``quarantine`` table: the rows imports kept, by import and reason, one row in
full, and an export of the raw rows a person can fix in a spreadsheet.

Every quarantined row has an id a person can copy: ``IMPORT_ID:LINE`` (the import's id and
the row's physical line in its file), or ``IMPORT_ID:FILE:LINE`` when the import read several
files (``FILE`` is the file's position in the import, from 1). :func:`retry` in
:mod:`tenure.ingest.retry` re-parses kept rows after a mapping is fixed.
"""

from __future__ import annotations

import csv
import json
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.errors import ConfigError, NotFoundError
from tenure.ingest.readers import detect_format
from tenure.store import Store

#: Quarantine reasons of records the file reader could not read: their raw row is the raw
#: text of the record (not a JSON object of the source columns).
READER_REASONS = ("wrong column count", "invalid encoding", "unreadable row")
#: The columns an export adds to the raw rows, after the file's own columns.
EXPORT_COLUMNS = (
    "quarantine_id",
    "quarantine_line",
    "quarantine_column",
    "quarantine_value",
    "quarantine_reason",
)
#: The source column of an export holding a raw record that has no columns (a line the
#: reader rejected, a JSON Lines or whitespace line).
RAW_COLUMN = "raw_line"
#: Cell starts that spreadsheet tools read as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Selection:
    """Which quarantined rows: all, or those of one import, reason and/or entity."""

    import_id: str | None = None
    reason: str | None = None
    entity: str | None = None

    def apply(self, table: ir.Table) -> ir.Table:
        """``table`` (the quarantine table) filtered to the selection."""
        conditions = []
        if self.import_id is not None:
            conditions.append(table.import_id == self.import_id)
        if self.reason is not None:
            conditions.append(table.reason == self.reason)
        if self.entity is not None:
            conditions.append(table.entity == self.entity)
        return table.filter(*conditions) if conditions else table

    def predicate(self, table: ir.Table) -> ir.BooleanValue:
        """The selection as one condition on ``table`` (for :meth:`Store.delete_where`)."""
        cond: ir.BooleanValue = ibis.literal(True)
        for column, value in (
            ("import_id", self.import_id),
            ("reason", self.reason),
            ("entity", self.entity),
        ):
            if value is not None:
                cond = cond & (table[column] == value)
        return cond

    def describe(self) -> str:
        """The selection in words (for messages)."""
        parts = [
            f"{label} {value!r}"
            for label, value in (
                ("import", self.import_id),
                ("reason", self.reason),
                ("entity", self.entity),
            )
            if value is not None
        ]
        return ", ".join(parts) if parts else "all imports"


def _files_by_import(store: Store, import_ids: list[str]) -> dict[str, list[str]]:
    """The files of each import, in the order it read them (from ``imports``)."""
    if not import_ids or not store.exists("imports"):
        return {}
    t = store.read("imports")
    rows = t.filter(t.import_id.isin(import_ids)).select("import_id", "file").to_pyarrow()
    return {
        str(iid): str(files or "").split(";")
        for iid, files in zip(
            rows.column("import_id").to_pylist(), rows.column("file").to_pylist(), strict=True
        )
    }


def _ids(store: Store, frame: pd.DataFrame) -> list[str]:
    """The row id of each quarantine row of ``frame`` (columns import_id, file, line)."""
    if frame.empty:
        return []
    imports = sorted(set(frame["import_id"]))
    files = _files_by_import(store, imports)
    t = store.read("quarantine")
    seen = t.filter(t.import_id.isin(imports)).select("import_id", "file").distinct().to_pyarrow()
    for iid, file in zip(
        seen.column("import_id").to_pylist(), seen.column("file").to_pylist(), strict=True
    ):
        known = files.setdefault(str(iid), [])
        if file not in known:
            known.append(str(file))
    out = []
    for iid, file, line in zip(frame["import_id"], frame["file"], frame["line"], strict=True):
        listed = files.get(iid, [file])
        if len(listed) > 1:
            out.append(f"{iid}:{listed.index(file) + 1}:{int(line)}")
        else:
            out.append(f"{iid}:{int(line)}")
    return out


def quarantine_summary(store: Store, selection: Selection | None = None) -> pd.DataFrame:
    """Quarantined rows per import and reason: ``import_id``, ``entity``, ``file`` (the
    files, ``;``-separated), ``reason``, ``rows``; oldest import first."""
    selection = selection or Selection()
    t = selection.apply(store.read("quarantine"))
    grouped = t.group_by("import_id", "entity", "reason").aggregate(
        file=t.file.min(),
        files=t.file.nunique(),
        rows=t.count(),
        first=t.quarantined_at.min(),
    )
    frame = grouped.order_by("first", "import_id", "reason").to_pandas()
    if frame.empty:
        return pd.DataFrame(columns=["import_id", "entity", "file", "reason", "rows"])
    frame["file"] = [
        f if n == 1 else f"{f} (+{n - 1} more)"
        for f, n in zip(frame["file"], frame["files"], strict=True)
    ]
    frame["rows"] = frame["rows"].astype("int64")
    return frame[["import_id", "entity", "file", "reason", "rows"]].reset_index(drop=True)


def quarantined_rows(
    store: Store, selection: Selection | None = None, *, limit: int | None = None
) -> pd.DataFrame:
    """The quarantined rows (``id``, ``import_id``, ``entity``, ``file``, ``line``,
    ``column``, ``value``, ``reason``), by import, file and line; the first ``limit`` only
    when given."""
    selection = selection or Selection()
    t = selection.apply(store.read("quarantine"))
    t = t.order_by("quarantined_at", "import_id", "file", "line")
    if limit is not None:
        t = t.limit(limit)
    frame = t.select(
        "import_id", "entity", "file", "line", "column", value=t.raw_value, reason=t.reason
    ).to_pandas()
    frame.insert(0, "id", _ids(store, frame))
    frame["line"] = frame["line"].astype("int64")
    return frame.reset_index(drop=True)


def count_quarantined(store: Store, selection: Selection | None = None) -> int:
    """How many rows the selection holds."""
    return int((selection or Selection()).apply(store.read("quarantine")).count().execute())


def parse_id(row_id: str) -> tuple[str, int | None, int]:
    """``IMPORT_ID:LINE`` or ``IMPORT_ID:FILE:LINE`` -> (import id, file position, line)."""
    parts = row_id.strip().rsplit(":", 2)
    head, _, line = row_id.strip().rpartition(":")
    with suppress(ValueError):  # a line that is not a number: the error below
        if len(parts) == 3 and parts[1].isdigit():
            return parts[0], int(parts[1]), int(parts[2])
        if head:
            return head, None, int(line)
    raise ConfigError(
        f"{row_id!r} is not a quarantined row id.",
        hint="Ids look like imp-20240301T100000-1a2b3c4d:17 (import id and line); "
        "`tenure quarantine list` shows them.",
    )


def quarantined_row(store: Store, row_id: str) -> dict[str, Any]:
    """One quarantined row in full: its id, import, entity, file, line, column, value,
    reason, when it was quarantined, and its raw row (``raw_row``: the text kept, and
    ``raw_fields``: the source columns when the raw row holds them)."""
    import_id, position, line = parse_id(row_id)
    t = store.read("quarantine")
    picked = t.filter(t.import_id == import_id, t.line == line).to_pandas()
    if position is not None and not picked.empty:
        files = _files_by_import(store, [import_id]).get(import_id) or sorted(set(picked["file"]))
        wanted = files[position - 1] if 0 < position <= len(files) else None
        picked = picked[picked["file"] == wanted]
    if picked.empty:
        raise NotFoundError(
            f"No quarantined row has the id {row_id!r} (import {import_id!r}, line {line}).",
            hint="`tenure quarantine list --import IMPORT_ID` shows the rows an import kept; "
            "a row a retry imported has left the quarantine.",
        )
    if len(picked) > 1:
        raise NotFoundError(
            f"The id {row_id!r} names rows of several files of import {import_id!r}.",
            hint=f"Add the file's position: {import_id}:1:{line}, {import_id}:2:{line}, ...",
        )
    row = picked.iloc[0]
    out: dict[str, Any] = {
        "id": _ids(store, picked)[0],
        "import_id": row["import_id"],
        "entity": row["entity"],
        "file": row["file"],
        "line": int(row["line"]),
        "column": _none(row["column"]),
        "value": _none(row["raw_value"]),
        "reason": row["reason"],
        "quarantined_at": str(row["quarantined_at"])[:19],
        "raw_row": _none(row["raw_row"]),
        "raw_fields": raw_fields(_none(row["raw_row"]), str(row["reason"]), str(row["file"])),
    }
    return out


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def raw_fields(
    raw_row: str | None, reason: str, file: str | None = None
) -> dict[str, str | None] | None:
    """The source columns of a kept raw row (CSV and Parquet rows are kept as a JSON object
    of header -> text); None for a raw line (JSON Lines, whitespace, reader rejects)."""
    if raw_row is None or reason in READER_REASONS or not raw_row.startswith("{"):
        return None
    if file is not None and detect_format(Path(file), None) == "jsonl":
        return None
    try:
        doc = json.loads(raw_row)
    except ValueError:
        return None
    if not isinstance(doc, dict) or any(isinstance(v, dict | list) for v in doc.values()):
        return None  # a JSON Lines record, kept as its line
    return {str(k): None if v is None else str(v) for k, v in doc.items()}


def neutralise(value: str | None) -> str | None:
    """A cell a spreadsheet tool would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
    CR first), prefixed with ``'``; numbers such as ``-5`` and other text unchanged."""
    if not value or not value.startswith(_FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def export_quarantine(
    store: Store,
    out: str | Path,
    selection: Selection | None = None,
    *,
    safe: bool = True,
) -> int:
    """Write the selected quarantined rows to the CSV file ``out`` as they were in their
    file (the file's columns; a raw record without columns in ``raw_line``), followed by
    :data:`EXPORT_COLUMNS` (id, line, column, value, reason); return how many rows.

    The file's columns are those of its header (all files of the selection, in the order
    first seen). ``safe`` (default) prefixes cells a spreadsheet would run as a formula with
    ``'`` (:func:`neutralise`); ``safe=False`` writes every value as kept.
    """
    selection = selection or Selection()
    t = selection.apply(store.read("quarantine")).order_by(
        "quarantined_at", "import_id", "file", "line"
    )
    frame = t.to_pandas()
    ids = _ids(store, frame)
    lines = {f for f in set(frame["file"]) if detect_format(Path(str(f)), None) == "jsonl"}
    fields = [
        None if file in lines else raw_fields(_none(r), str(reason))
        for r, reason, file in zip(frame["raw_row"], frame["reason"], frame["file"], strict=True)
    ]
    header: list[str] = []
    for f in fields:
        for name in f or ():
            if name not in header:
                header.append(name)
    raw_needed = any(f is None for f in fields)
    columns = [*header, *([RAW_COLUMN] if raw_needed else []), *EXPORT_COLUMNS]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = neutralise if safe else (lambda v: v)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        kept = zip(
            fields,
            ids,
            frame["raw_row"],
            frame["line"],
            frame["column"],
            frame["raw_value"],
            frame["reason"],
            strict=True,
        )
        for f, row_id, raw, line, column, value, reason in kept:
            values: list[object] = [(f or {}).get(name) for name in header]
            if raw_needed:
                values.append(None if f is not None else _none(raw))
            values += [row_id, int(line), _none(column), _none(value), reason]
            writer.writerow([clean(None if v is None else str(v)) for v in values])
    return len(frame)

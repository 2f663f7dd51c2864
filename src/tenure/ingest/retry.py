"""Retrying quarantined rows: re-parse the kept raw rows with the current or a given mapping.

The rows of each (import, file) are written to a temporary file and imported like any file,
under one retry import id (recorded in ``imports``), with the mapping given, else the one the
import used (its preset, or its YAML file read again: a fixed mapping applies):

* a CSV or Parquet row, kept as a JSON object of its source columns, is written back as a
  CSV row (UTF-8, comma-separated) under the same header;
* a JSON Lines or whitespace row, kept as its line, is written back as that line;
* a record the reader could not read (``wrong column count``, ``invalid encoding``,
  ``unreadable row``), kept as its raw text, is read again from the original file at its
  line when the file is still there and that line still holds it (so ``--encoding latin-1``
  decodes the bytes the kept text lost), else from the kept text; a CSV file's header comes
  from the original file, else from the other kept rows. Without a header such records are
  not retried (``skipped``).

Rows that now pass are stored (or found already present, or suppressed) and leave the
quarantine; the others stay, under their import and line, with their new reason, column and
value. ``retried == imported + already_present + suppressed + still_quarantined``.
"""

from __future__ import annotations

import csv
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from tenure.errors import IngestError, TenureError
from tenure.ingest.entities import entity as entity_spec
from tenure.ingest.mapping import (
    Mapping,
    check_parsing,
    check_reader_options,
    choose_mapping,
    presets,
)
from tenure.ingest.pipeline import FileOutcome, import_one, now_utc
from tenure.ingest.quarantine import Selection, raw_fields
from tenure.ingest.readers import detect_format
from tenure.ingest.result import import_result, log_import
from tenure.progress import ProgressCallback, no_progress
from tenure.store import Store

_KEPT = ("import_id", "entity", "file", "line", "reason", "raw_row", "quarantined_at")


@dataclass(frozen=True)
class RetryResult:
    """What a retry re-parsed and where the rows went.

    ``retried == imported + already_present + suppressed + still_quarantined``; ``skipped``
    rows (reader rejects without a known header) were not retried and stay as they were.
    """

    import_id: str
    retried: int
    imported: int
    already_present: int
    suppressed: int
    still_quarantined: int
    skipped: int = 0
    #: reasons of the rows still quarantined
    by_reason: dict[str, int] = field(default_factory=dict)
    #: the imports and files retried, with the mapping used
    sources: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)


@dataclass
class _Rebuilt:
    """One temporary file holding kept rows, and the original line of each of its lines."""

    path: Path
    mapping: Mapping
    lines: dict[int, int]  # line in this file -> line in the original file
    import_id: str  # the original import
    source: str  # the original file
    entity: str


def _recorded_mapping(store: Store, import_id: str) -> str | None:
    """The preset name or mapping file an import recorded (None: the default)."""
    t = store.read("imports")
    rows = t.filter(t.import_id == import_id).select("preset").limit(1).to_pyarrow()
    values = rows.column("preset").to_pylist()
    return values[0] if values else None


def _mapping_for(store: Store, entity_name: str, import_id: str, chosen: dict[str, Any]) -> Mapping:
    """The mapping to retry ``import_id``'s rows with: the one given, else the recorded one."""
    if chosen["preset"] or chosen["mapping"] is not None:
        return choose_mapping(entity_name, chosen["preset"], chosen["mapping"], **chosen["opts"])
    recorded = _recorded_mapping(store, import_id)
    if recorded and recorded in presets():
        return choose_mapping(entity_name, recorded, None, **chosen["opts"])
    if recorded:
        if not Path(recorded).is_file():
            raise IngestError(
                f"Import {import_id} used the mapping {recorded!r}, which is no longer there.",
                hint="Give the mapping to retry with: --mapping FILE.yaml or --preset NAME.",
            )
        return choose_mapping(entity_name, None, recorded, **chosen["opts"])
    return choose_mapping(entity_name, None, None, **chosen["opts"])


def _original_lines(path: Path, wanted: set[int]) -> dict[int, bytes]:
    """The bytes of the lines ``wanted`` (1-based) of ``path``, without their line end."""
    found: dict[int, bytes] = {}
    if not wanted or not path.is_file():
        return found
    last = max(wanted)
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number in wanted:
                found[number] = raw.rstrip(b"\r\n")
            if number >= last:
                break
    return found


def _skeleton(text: str) -> str:
    """The ASCII of ``text`` without ``?`` (what a lossy decoding keeps of a line)."""
    return "".join(c for c in text if c.isascii() and c != "?")


class _LastWrite:
    """A file-like object keeping only the last text written (one CSV row)."""

    text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def _csv_text(header: list[str], rows: list[dict[str, str | None]]) -> tuple[str, list[int]]:
    """CSV text of ``rows`` under ``header`` and the line each row starts on."""
    last = _LastWrite()
    writer = csv.writer(last, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(header)
    parts, starts, line = [last.text], [], 2
    for row in rows:
        writer.writerow([row.get(h) for h in header])
        parts.append(last.text)
        starts.append(line)
        line += last.text.count("\n")
    return "".join(parts), starts


def _parsed_file(
    folder: Path, group: pd.DataFrame, fields: list[dict[str, str | None]], mapping: Mapping
) -> _Rebuilt:
    """The CSV or Parquet rows of a group (kept as source columns) as a UTF-8 CSV file."""
    header: list[str] = []
    for f in fields:
        header += [k for k in f if k not in header]
    text, starts = _csv_text(header, fields)
    path = folder / f"retry-{uuid.uuid4().hex[:8]}.csv"
    path.write_text(text, encoding="utf-8")
    fitted = replace(
        mapping,
        format="csv",
        delimiter=",",
        quote='"',
        encoding="utf-8",
        header=True,
        names=(),
        delimiter_given=False,
    )
    lines = dict(zip(starts, (int(v) for v in group["line"]), strict=True))
    return _part(path, fitted, lines, group)


def _line_files(
    folder: Path, group: pd.DataFrame, mapping: Mapping, fmt: str, header: str | None
) -> tuple[list[_Rebuilt], list[int]]:
    """Rows kept as raw text (lines, reader rejects) as files of lines: the original bytes
    where the original file still holds them (read with the mapping's encoding), else the
    kept text (UTF-8); a CSV file's ``header`` (None: the original file's first line). Also
    the lines that could not be retried (a CSV file without a known header)."""
    source = str(group["file"].iloc[0])
    needs_header = fmt == "csv" and mapping.header
    wanted = {int(v) for v in group["line"]} | ({1} if needs_header else set())
    # a UTF-16 file's lines are not split on the byte b"\n": use the kept text
    readable = mapping.encoding != "utf-16"
    original = _original_lines(Path(source), wanted) if readable else {}
    exact: list[tuple[int, bytes]] = []
    kept: list[tuple[int, bytes]] = []
    for line, raw in zip(group["line"], group["raw_row"], strict=True):
        text = "" if raw is None else str(raw)
        got = original.get(int(line))
        if got is not None and "\n" not in text:
            decoded = got.decode("utf-8", "replace").replace("\ufffd", "?")
            if _skeleton(decoded) == _skeleton(text):
                exact.append((int(line), got))
                continue
        kept.append((int(line), text.encode("utf-8")))
    heads: dict[str, bytes | None] = {"exact": original.get(1), "kept": None}
    if header is not None:
        heads["kept"] = header.encode("utf-8")
    elif original.get(1) is not None:
        heads["kept"] = original[1].decode(mapping.encoding, "replace").encode("utf-8")
    files, skipped = [], []
    for kind, rows, encoding in (("exact", exact, mapping.encoding), ("kept", kept, "utf-8")):
        if not rows:
            continue
        head = heads[kind]
        if needs_header and head is None:
            skipped += [line for line, _ in rows]
            continue
        body, lines, at = b"", {}, 1
        if needs_header and head is not None:
            body, at = head + b"\n", 2
        for line, data in rows:
            body += data + b"\n"
            lines[at] = line
            at += data.count(b"\n") + 1
        suffix = ".jsonl" if fmt == "jsonl" else ".txt" if fmt == "whitespace" else ".csv"
        path = folder / f"retry-{uuid.uuid4().hex[:8]}{suffix}"
        path.write_bytes(body)
        fitted = replace(mapping, format=fmt, encoding=encoding, delimiter_given=False)
        files.append(_part(path, fitted, lines, group))
    return files, skipped


def _part(path: Path, mapping: Mapping, lines: dict[int, int], group: pd.DataFrame) -> _Rebuilt:
    first = group.iloc[0]
    return _Rebuilt(
        path, mapping, lines, str(first["import_id"]), str(first["file"]), str(first["entity"])
    )


def _header_of(fields: list[dict[str, str | None]], mapping: Mapping) -> str | None:
    """A CSV header line from the kept rows' source columns (None without rows)."""
    if not fields or not mapping.header:
        return None
    delim, quote = mapping.delimiter, mapping.quote
    return delim.join(f"{quote}{n}{quote}" if delim in n or quote in n else n for n in fields[0])


def _rebuild(
    folder: Path, group: pd.DataFrame, mapping: Mapping
) -> tuple[list[_Rebuilt], list[int]]:
    """The temporary files of one (import, file) group, and the lines skipped."""
    source = Path(str(group["file"].iloc[0]))
    fmt = detect_format(source, mapping.format)
    files: list[_Rebuilt] = []
    if fmt in ("jsonl", "whitespace"):
        return _line_files(folder, group, mapping, fmt, None)
    fields = [  # (the file is CSV or Parquet: its kept rows may hold columns)
        raw_fields(None if r is None else str(r), str(reason))
        for r, reason in zip(group["raw_row"], group["reason"], strict=True)
    ]
    parsed = [f is not None for f in fields]
    if any(parsed):
        rows = group[parsed]
        files.append(_parsed_file(folder, rows, [f for f in fields if f is not None], mapping))
    skipped: list[int] = []
    if not all(parsed):
        records = group[[not p for p in parsed]]
        header = None
        if not Path(source).is_file():
            header = _header_of([f for f in fields if f is not None], mapping)
        more, skipped = _line_files(folder, records, mapping, "csv", header)
        files += more
    return files, skipped


def _rebuild_all(
    store: Store, rows: pd.DataFrame, chosen: dict[str, Any], folder: Path
) -> tuple[list[_Rebuilt], list[tuple[str, str, int]], list[dict[str, str]]]:
    """The temporary files of every (import, file) of ``rows``, the rows skipped (import,
    file, line), and per (import, file) the mapping used."""
    rebuilt: list[_Rebuilt] = []
    skipped: list[tuple[str, str, int]] = []
    sources: list[dict[str, str]] = []
    for (iid, file), group in rows.groupby(["import_id", "file"], sort=False):
        group = group.reset_index(drop=True)
        entity_name = str(group["entity"].iloc[0])
        chosen_map = _mapping_for(store, entity_name, str(iid), chosen)
        source = Path(str(file))
        check_reader_options(chosen_map, source, detect_format(source, chosen_map.format))
        parts, lost = _rebuild(folder, group, chosen_map)
        rebuilt += parts
        skipped += [(str(iid), str(file), line) for line in lost]
        sources.append({"import_id": str(iid), "file": str(file), "mapping": chosen_map.name})
    return rebuilt, skipped, sources


def _selected(store: Store, selection: Selection) -> pd.DataFrame:
    t = selection.apply(store.read("quarantine"))
    return t.order_by("quarantined_at", "import_id", "file", "line").select(*_KEPT).to_pandas()


def retry_quarantined(
    store: Store,
    selection: Selection | None = None,
    *,
    preset: str | None = None,
    mapping: str | Path | dict[str, Any] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    progress: ProgressCallback | None = None,
) -> RetryResult:
    """Re-parse the selected quarantined rows with ``preset`` or ``mapping`` (default: the
    one each import used, read again) and the reader options; import the rows that pass,
    keep the others with their new reason (see the module docstring)."""
    selection = selection or Selection()
    rows = _selected(store, selection)
    retry_id = f"imp-{now_utc():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    if rows.empty:
        return RetryResult(retry_id, 0, 0, 0, 0, 0)
    chosen = {
        "preset": preset,
        "mapping": mapping,
        "opts": {"delimiter": delimiter, "encoding": encoding},
    }
    started = now_utc()
    total = FileOutcome()
    entity_name = str(rows["entity"].iloc[0])
    files = sorted(set(rows["file"].astype(str)))
    name = preset or (str(mapping) if mapping and not isinstance(mapping, dict) else None)
    outcomes: list[FileOutcome] = []
    with tempfile.TemporaryDirectory(prefix="tenure-retry-") as tmp:
        rebuilt, skipped, sources = _rebuild_all(store, rows, chosen, Path(tmp))
        try:
            _run(store, rebuilt, retry_id, started, progress or no_progress, outcomes)
        except TenureError:
            for outcome in outcomes:
                total.add(outcome)
            _settle_done(store, rows, rebuilt[: len(outcomes)], total.rows_read, retry_id)
            log_import(
                store, import_result(retry_id, entity_name, files, name, 1.0, total), started
            )
            raise
    for outcome in outcomes:
        total.add(outcome)
    retried = len(rows) - len(skipped)
    if total.rows_read != retried:
        _drop_sub_imports(store, retry_id, len(rebuilt))
        raise IngestError(
            f"The retry read {total.rows_read:,} rows back for {retried:,} quarantined rows; "
            "the quarantine is left as it was (rows that passed were stored).",
            hint="Export the rows with `tenure quarantine export`, fix them and import the "
            "file; please report this.",
        )
    _settle(store, _retried(selection, skipped), rows, rebuilt, retry_id)
    log_import(store, import_result(retry_id, entity_name, files, name, 1.0, total), started)
    return RetryResult(
        import_id=retry_id,
        retried=retried,
        imported=total.stored,
        already_present=total.present,
        suppressed=total.suppressed,
        still_quarantined=total.quarantined,
        skipped=len(skipped),
        by_reason=dict(total.by_reason),
        sources=sources,
    )


def _settle_done(
    store: Store,
    rows: pd.DataFrame,
    done: list[_Rebuilt],
    rows_read: int,
    retry_id: str,
) -> None:
    """After a failure: settle the files imported before it (their rows that passed leave
    the quarantine), so nothing is counted twice; the other rows stay as they were."""
    if rows_read == sum(len(part.lines) for part in done):
        _settle(store, _parts(done), rows, done, retry_id)
    else:
        _drop_sub_imports(store, retry_id, len(done))


def _run(
    store: Store,
    rebuilt: list[_Rebuilt],
    retry_id: str,
    started: Any,
    progress: ProgressCallback,
    outcomes: list[FileOutcome],
) -> None:
    """Import each temporary file under a sub-id of the retry (``RETRY.k``); each file's
    outcome is appended to ``outcomes`` (the files done when one fails)."""
    with store.staging() as staging:
        for k, part in enumerate(rebuilt):
            spec = entity_spec(part.entity)
            tz = part.mapping.timezone or store.settings.timezone
            check_parsing(part.mapping, tz, staging.work)
            try:
                outcome = import_one(
                    staging,
                    spec,
                    part.mapping,
                    part.path,
                    f"{retry_id}.{k}",
                    started,
                    progress,
                    source=part.source,
                )
            except TenureError as exc:  # name the file the rows come from, not the copy
                kept = f"{part.source} (its quarantined rows, import {part.import_id})"
                exc.message = exc.message.replace(str(part.path), kept)
                raise
            outcomes.append(outcome)


def _sub_ids(retry_id: str, n: int) -> list[str]:
    return [f"{retry_id}.{k}" for k in range(n)]


def _drop_sub_imports(store: Store, retry_id: str, n: int) -> None:
    subs = _sub_ids(retry_id, n)
    store.delete_where("quarantine", lambda t: t.import_id.isin(subs))


def _settle(
    store: Store,
    retried: Callable[[ibis.Table], Any],
    rows: pd.DataFrame,
    rebuilt: list[_Rebuilt],
    retry_id: str,
) -> None:
    """Replace the retried rows of the quarantine (those ``retried`` picks) by the ones
    still quarantined, under their import, file and line (one transaction on DuckDB)."""
    subs = _sub_ids(retry_id, len(rebuilt))
    t = store.read("quarantine")
    again = t.filter(t.import_id.isin(subs)).to_pandas() if subs else pd.DataFrame()
    kept_at = {
        (str(i), str(f), int(n)): q
        for i, f, n, q in zip(
            rows["import_id"], rows["file"], rows["line"], rows["quarantined_at"], strict=True
        )
    }
    if not again.empty:
        by_sub = dict(zip(subs, rebuilt, strict=True))
        parts = [by_sub[s] for s in again["import_id"]]
        again["line"] = [
            p.lines.get(int(line), -1) for p, line in zip(parts, again["line"], strict=True)
        ]
        again["import_id"] = [p.import_id for p in parts]
        again["file"] = [p.source for p in parts]
        again["quarantined_at"] = [
            kept_at.get((i, f, int(n)), q)
            for i, f, n, q in zip(
                again["import_id"],
                again["file"],
                again["line"],
                again["quarantined_at"],
                strict=True,
            )
        ]
    with store.transaction():
        store.delete_where("quarantine", lambda q: retried(q) | q.import_id.isin(subs))
        if not again.empty:
            store.insert("quarantine", pa.Table.from_pandas(again, preserve_index=False))


def _parts(parts: list[_Rebuilt]) -> Callable[[ibis.Table], Any]:
    """The predicate picking the original rows of ``parts``."""

    def predicate(t: ibis.Table) -> Any:
        cond: Any = ibis.literal(False)
        for part in parts:
            lines = sorted(set(part.lines.values()))
            mine = (t.import_id == part.import_id) & (t.file == part.source)
            cond = cond | (mine & t.line.isin(lines))
        return cond

    return predicate


def _retried(selection: Selection, skipped: list[tuple[str, str, int]]) -> Any:
    """The predicate picking the retried rows: the selection, less the skipped rows."""
    if not skipped:
        return selection.predicate
    left = Counter((i, f) for i, f, _ in skipped)

    def predicate(t: ibis.Table) -> Any:
        cond = selection.predicate(t)
        for iid, file in left:
            lines = [line for i, f, line in skipped if (i, f) == (iid, file)]
            cond = cond & ~((t.import_id == iid) & (t.file == file) & t.line.isin(lines))
        return cond

    return predicate

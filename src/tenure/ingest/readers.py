"""Read input files through DuckDB's streaming readers.

A :class:`Staged` file is a *reader query*: ``__rn`` (the row's position among the rows
read, deterministic for a given file) and one text column ``s{i}`` per source column (JSON
Lines and whitespace files: one column ``raw``, the line). The parse step reads straight from
it, so a file is scanned once. Only when rows are quarantined is the file read again into a
table (:meth:`Staged.materialize`) to give each of them its raw row and physical line.

CSV records DuckDB cannot read (wrong column count, bad encoding, broken quoting) are not
read: DuckDB's reject tables give their record number, raw text and error type (``rejects``,
known after the first scan).

Paths, delimiters and JSON paths reach DuckDB as bound parameters; source columns are
referred to by position (``#3``), so no text from the input ever becomes SQL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import IngestError

_CHUNK = 1 << 24
#: one text row ``raw`` per physical line (blank lines too: a one-column file has no empty
#: records to skip). Lines end at LF, with or without CR, even mixed in one file.
_LINES_READER = (
    "read_csv($path, columns={{'raw': 'VARCHAR'}}, header=false, delim=chr(31), quote='', "
    "escape='', new_line='\\r\\n', auto_detect=false, strict_mode=false, "
    "encoding=$encoding{rejects})"
)
#: DuckDB reject error types -> quarantine reason (anything else: ``unreadable row``)
COUNT_ERRORS = ("MISSING COLUMNS", "TOO MANY COLUMNS")
ENCODING_ERRORS = ("INVALID ENCODING", "INVALID UNICODE")
_REJECT_REASON = (
    "CASE WHEN bool_or(list_contains($count_errors, error_type)) THEN 'wrong column count' "
    "WHEN bool_or(list_contains($encoding_errors, error_type)) THEN 'invalid encoding' "
    "ELSE 'unreadable row' END"
)


@dataclass
class Staged:
    """A file ready to be read: its reader query, source columns and, later, its rejects."""

    path: Path
    fmt: str
    columns: list[str]
    reader: str  # SELECT __rn, s0.. | raw FROM <reader>
    params: dict[str, Any]
    #: the same without ``__rn`` (CSV): a table created from it in file order has
    #: ``rowid + 1 == __rn``, which saves the cost of the window
    plain: str | None = None
    #: Parquet: DuckDB type of each source column (typed columns are not read as text)
    types: list[str] = field(default_factory=list)
    header: int = 0
    rejects_table: str | None = None
    rows: int = 0
    #: records the reader rejected, per quarantine reason (known after the first scan)
    rejected: Counter[str] = field(default_factory=Counter)
    table: str = field(default_factory=lambda: f"__stage_{uuid.uuid4().hex[:12]}")

    @property
    def rejects(self) -> str:
        """Table of the rejected records: ``rec, raw, reason, j`` and, once materialized,
        ``line`` (the physical line)."""
        return f"{self.table}_rej"

    def collect_rejects(self, con: duckdb.DuckDBPyConnection) -> None:
        """After the first scan: keep the records DuckDB rejected (one row per record)."""
        if self.rejects_table is None:
            return
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.rejects} AS "
            f"SELECT line AS rec, trim(any_value(csv_line), chr(13) || chr(10)) AS raw, "
            f"{_REJECT_REASON} AS reason, "
            f"row_number() OVER (ORDER BY line) AS j, line FROM {self.rejects_table} "
            "GROUP BY line",
            {"count_errors": list(COUNT_ERRORS), "encoding_errors": list(ENCODING_ERRORS)},
        )
        found = con.execute(f"SELECT reason, count(*) FROM {self.rejects} GROUP BY ALL")
        self.rejected = Counter({str(reason): int(n) for reason, n in found.fetchall()})
        con.execute(f"DROP TABLE IF EXISTS {self.rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {self.rejects_table}_scan")

    def materialize(self, con: duckdb.DuckDBPyConnection, wanted: str) -> None:
        """Read the file again, keeping the rows whose ``__rn`` the query ``wanted`` gives
        (the quarantined ones) in ``table``; create the view ``{table}_lines(__rn, __line)``
        and give the rejected records their physical line.
        """
        reader = self.reader
        if self.rejects_table:  # the second scan rejects the same records, into new tables
            again = f"__rej_{uuid.uuid4().hex[:12]}"
            reader = reader.replace(self.rejects_table, again)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.table} AS SELECT * FROM ({reader}) "
            f"WHERE __rn IN ({wanted})",
            self.params,
        )
        if not self.rejects_table:  # Parquet: the row number
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {self.table}_lines AS "
                f"SELECT __rn, __rn AS __line FROM {self.table}"
            )
            return
        con.execute(f"DROP TABLE IF EXISTS {again}")
        con.execute(f"DROP TABLE IF EXISTS {again}_scan")
        records = self.header + self.rows + sum(self.rejected.values())
        if self.fmt == "csv" and _physical_lines(self.path) > records:
            _lines_by_quotes(con, self)  # blank lines, or quoted fields holding newlines
        else:
            _lines_by_records(con, self)

    @contextmanager
    def head(self, con: duckdb.DuckDBPyConnection, rows: int) -> Iterator[str]:
        """A reader query for the first ``rows`` rows (the same columns as ``reader``).

        Records it rejects go to fresh reject tables, dropped afterwards, so the main scan's
        rejects stay its own.
        """
        reader, again = self.reader, f"__rej_{uuid.uuid4().hex[:12]}"
        if self.rejects_table:
            reader = reader.replace(self.rejects_table, again)
        try:
            yield f"SELECT * FROM ({reader}) LIMIT {int(rows)}"
        finally:
            con.execute(f"DROP TABLE IF EXISTS {again}")
            con.execute(f"DROP TABLE IF EXISTS {again}_scan")

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP VIEW IF EXISTS {self.table}_lines")
        for suffix in ("_map", "_rec", "_rej"):
            con.execute(f"DROP TABLE IF EXISTS {self.table}{suffix}")
        con.execute(f"DROP TABLE IF EXISTS {self.table}")


def detect_format(path: Path, declared: str | None) -> str:
    """csv, parquet, jsonl or whitespace: as declared, else from the file name."""
    if declared:
        return declared
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".parquet", ".pq")):
        return "parquet"
    if suffixes.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def _physical_lines(path: Path) -> int:
    """Lines in a text file, counting a last line without a newline."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _mixed_line_ends(path: Path) -> bool:
    """Whether the start of a file has both CRLF and bare LF line ends."""
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
    crlf = head.count(b"\r\n")
    return 0 < crlf < head.count(b"\n")


def _rejects_options() -> tuple[str, str]:
    """A fresh name for DuckDB's reject tables, and the read_csv options that fill them."""
    rt = f"__rej_{uuid.uuid4().hex[:12]}"
    return rt, f"store_rejects=true, rejects_table='{rt}', rejects_scan='{rt}_scan'"


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    delim: str,
    quote: str,
    header: bool,
    encoding: str,
) -> Staged:
    rt, rejects = _rejects_options()
    params = {"path": str(path), "header": header, "delim": delim, "quote": quote}
    params["encoding"] = encoding
    source = (
        "read_csv($path, all_varchar=true, header=$header, delim=$delim, quote=$quote, "
        f"encoding=$encoding, {rejects})"
    )
    try:
        desc = con.execute(f"SELECT * FROM {source} LIMIT 0", params).description
    except duckdb.Error as exc:
        hint = (
            "Set the mapping keys `delimiter`, `quote` or `encoding` (see docs/import-mapping.md)."
        )
        if _mixed_line_ends(path):
            hint = (
                "The file mixes CRLF and LF line ends, which DuckDB's CSV reader refuses: "
                "convert it to one kind (e.g. `dos2unix`) and import it again."
            )
        raise IngestError(
            f"{path}: cannot read as CSV (delimiter {delim!r}, quote {quote!r}, "
            f"encoding {encoding!r}): {str(exc).splitlines()[0]}",
            hint=hint,
        ) from None
    columns = [d[0] for d in desc]
    cols = ", ".join(f"#{i + 1} AS s{i}" for i in range(len(columns)))
    reader = f"SELECT row_number() OVER () AS __rn, {cols} FROM {source}"
    plain = f"SELECT {cols} FROM {source}"
    return Staged(
        path, "csv", columns, reader, params, plain=plain, header=int(header), rejects_table=rt
    )


def _lines_by_records(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Create the view ``{table}_lines(__rn, __line)`` when every record is one line.

    DuckDB numbers rejected records by record (the header is record 1). The j-th rejected
    record r_j comes before a read row whose record would be b without rejects iff
    r_j - j < b, so that row's record (here: its line) is b + #{j : r_j - j < b}: an as-of
    join on the sorted shifts, set-based, no per-row or per-reject Python.
    """
    table, rej = staged.table, staged.rejects
    base = f"SELECT __rn, {staged.header} + __rn AS b FROM {table}"
    if not staged.rejected:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT __rn, b AS __line FROM ({base})"
        )
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_map AS "
        f"WITH sh AS (SELECT DISTINCT rec - j AS s, count(*) OVER (ORDER BY rec - j "
        f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n FROM {rej}) "
        f"SELECT t.__rn, t.b + coalesce(sh.n, 0) AS __line FROM ({base}) t "
        "ASOF LEFT JOIN sh ON t.b > sh.s"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT * FROM {table}_map")


def _lines_by_quotes(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Create the view ``{table}_lines(__rn, __line)`` and set ``line`` of the rejected
    records, for a file with more physical lines than records.

    Such a file has quoted fields holding newlines, or blank lines (which DuckDB's reader
    skips, yet counts as records). The file is read once more as physical lines; a line
    starts a record when the quote characters before it are even in number (quotes inside a
    field are doubled, RFC 4180). Record k (DuckDB's numbering, blank ones included) starts
    on the k-th such line; the header is the first non-blank record; read rows are the
    non-blank records DuckDB did not reject, in order.
    """
    table, rej = staged.table, staged.rejects
    encoding = staged.params.get("encoding", "utf-8")
    params = {
        "path": str(staged.path),
        # one byte per character keeps quotes and newlines where they are, whatever the text
        "encoding": encoding if encoding.startswith("utf-16") else "latin-1",
        "quote": staged.params.get("quote", '"'),
    }
    quotes = "length(raw) - length(replace(raw, $quote, ''))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_rec AS "
        f"WITH l AS (SELECT row_number() OVER () AS line, coalesce(raw, '') AS raw "
        f"FROM {_LINES_READER.format(rejects='')}), "
        f"s AS (SELECT line, raw, coalesce(sum({quotes}) OVER (ORDER BY line ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 0 AS start FROM l) "
        "SELECT row_number() OVER (ORDER BY line) AS rec, line, "
        "trim(raw, chr(13)) = '' AS blank FROM s WHERE start",
        params,
    )
    rejected = f"AND rec NOT IN (SELECT rec FROM {rej})" if staged.rejected else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_map AS SELECT * FROM ("
        f"SELECT row_number() OVER (ORDER BY rec) - {staged.header} AS __rn, line AS __line "
        f"FROM {table}_rec WHERE NOT blank {rejected}) WHERE __rn > 0"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT * FROM {table}_map")
    if staged.rejected:
        con.execute(f"UPDATE {rej} r SET line = m.line FROM {table}_rec m WHERE m.rec = r.rec")


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    params = {"path": str(path)}
    try:
        desc = con.execute("SELECT * FROM read_parquet($path) LIMIT 0", params).description
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read as Parquet: {exc}") from None
    columns = [d[0] for d in desc]
    described = con.execute("DESCRIBE SELECT * FROM read_parquet($path)", params).fetchall()
    types = [str(row[1]) for row in described]
    cols = ", ".join(f"#{i + 1} AS s{i}" for i in range(len(columns)))
    reader = (
        f"SELECT file_row_number + 1 AS __rn, {cols} FROM read_parquet($path, file_row_number=true)"
    )
    return Staged(path, "parquet", columns, reader, params, types=types)


def _first_line(path: Path) -> str:
    with path.open("rb") as fh:
        return fh.readline().decode("utf-8", "replace")


def _stage_lines(path: Path, fmt: str, names: tuple[str, ...], encoding: str) -> Staged:
    """JSON Lines and whitespace-separated files: one raw text column per physical line.

    A whitespace file whose first line repeats the column names has it skipped (a header),
    and so are its blank lines (only spaces or tabs), as DuckDB's CSV reader skips them.
    Lines DuckDB cannot read (bad encoding, too long) are rejected, as in a CSV file.
    """
    rt, rejects = _rejects_options()
    source = _LINES_READER.format(rejects=", " + rejects)
    reader = f"SELECT row_number() OVER () AS __rn, raw FROM {source}"
    header = (
        fmt == "whitespace"
        and bool(names)
        and (_first_line(path).lower().split() == [n.lower() for n in names])
    )
    if fmt == "whitespace":  # blank lines are no rows (as in CSV); numbers stay physical
        first = 2 if header else 1
        reader = f"SELECT * FROM ({reader}) WHERE __rn >= {first} AND regexp_matches(raw, '\\S')"
    params = {"path": str(path), "encoding": encoding}
    return Staged(path, fmt, ["raw"], reader, params, rejects_table=rt)


def check_file(path: Path) -> None:
    """Refuse a path that is not a readable file."""
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise IngestError(f"Input file {str(path)!r} {what}.", hint="Check the path and try again.")


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    *,
    delim: str = ",",
    quote: str = '"',
    header: bool = True,
    names: tuple[str, ...] = (),
    encoding: str = "utf-8",
) -> Staged:
    """Prepare ``path`` for reading (the file is not scanned yet)."""
    check_file(path)
    if fmt == "csv":
        return _stage_csv(con, path, delim, quote, header, encoding)
    if fmt == "parquet":
        return _stage_parquet(con, path)
    return _stage_lines(path, fmt, names, encoding)

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import IngestError

_CHUNK = 1 << 24
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

        The second scan keeps only what line numbers need besides those rows: the row
        number and count of newlines of rows whose quoted fields hold newlines.
        """
        reader = self.reader
        if self.rejects_table:  # the second scan rejects the same records, into new tables
            again = f"__rej_{uuid.uuid4().hex[:12]}"
            reader = reader.replace(self.rejects_table, again)
        records = self.header + self.rows + sum(self.rejected.values())
        multiline = self.fmt == "csv" and _physical_lines(self.path) > records
        nl = "0"
        if multiline:
            nl = " + ".join(_newlines(f"coalesce(r.s{i}, '')") for i in range(len(self.columns)))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.table} AS SELECT * FROM (SELECT r.*, "
            f"CAST({nl} AS BIGINT) AS __nl, w.__rn IS NOT NULL AS __wanted "
            f"FROM ({reader}) r LEFT JOIN ({wanted}) w ON r.__rn = w.__rn) "
            "WHERE __wanted OR __nl > 0",
            self.params,
        )
        if self.rejects_table:
            con.execute(f"DROP TABLE IF EXISTS {again}")
            con.execute(f"DROP TABLE IF EXISTS {again}_scan")
            _add_line_numbers(con, self, multiline=multiline)
        else:  # Parquet: the row number
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {self.table}_lines AS "
                f"SELECT __rn, __rn AS __line FROM {self.table}"
            )

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP VIEW IF EXISTS {self.table}_lines")
        for suffix in ("_nl", "_rec", "_rej"):
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
        raise IngestError(
            f"{path}: cannot read as CSV (delimiter {delim!r}, quote {quote!r}, "
            f"encoding {encoding!r}): {exc}",
            hint="Set the mapping keys `delimiter`, `quote` or `encoding` "
            "(see docs/import-mapping.md).",
        ) from None
    columns = [d[0] for d in desc]
    cols = ", ".join(f"#{i + 1} AS s{i}" for i in range(len(columns)))
    reader = f"SELECT row_number() OVER () AS __rn, {cols} FROM {source}"
    plain = f"SELECT {cols} FROM {source}"
    return Staged(
        path, "csv", columns, reader, params, plain=plain, header=int(header), rejects_table=rt
    )


def _add_line_numbers(con: duckdb.DuckDBPyConnection, staged: Staged, multiline: bool) -> None:
    """Create the view ``{table}_lines(__rn, __line)``; set ``line`` of the rejected records.

    DuckDB numbers rejected records by record (the header is record 1), not by physical line.
    The j-th rejected record r_j comes before a read row whose record would be b without
    rejects iff r_j - j < b, so that row's record is b + #{j : r_j - j < b} (an as-of join on
    the sorted shifts). When quoted fields hold newlines (``multiline``: the file has more
    lines than records), each record's physical line adds the newlines inside the records
    before it, read (``__nl``) or rejected. All set-based: no per-row or per-reject Python.
    """
    table, rej = staged.table, staged.rejects
    base = f"SELECT __rn, __nl, {staged.header} + __rn AS b FROM {table}"
    if staged.rejected:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}_rec AS "
            f"WITH sh AS (SELECT DISTINCT rec - j AS s, count(*) OVER (ORDER BY rec - j "
            f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n FROM {rej}) "
            f"SELECT t.__rn, t.__nl, t.b + coalesce(sh.n, 0) AS rec FROM ({base}) t "
            "ASOF LEFT JOIN sh ON t.b > sh.s"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}_rec AS SELECT __rn, __nl, b AS rec FROM ({base})"
        )
    if not multiline:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table}_lines AS "
            f"SELECT __rn, rec AS __line FROM {table}_rec"
        )
        return
    rejected = (
        f"UNION ALL SELECT NULL, rec, {_newlines('raw')} FROM {rej}" if staged.rejected else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_nl AS "
        f"WITH nl AS (SELECT __rn, rec, __nl AS nl FROM {table}_rec {rejected}) "
        "SELECT __rn, rec, rec + coalesce(sum(nl) OVER (ORDER BY rec ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS line FROM nl"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table}_lines AS "
        f"SELECT __rn, line AS __line FROM {table}_nl WHERE __rn IS NOT NULL"
    )
    if staged.rejected:
        con.execute(
            f"UPDATE {rej} r SET line = n.line FROM {table}_nl n "
            "WHERE n.__rn IS NULL AND n.rec = r.rec"
        )


def _newlines(text: str) -> str:
    return f"(length({text}) - length(replace({text}, chr(10), '')))"


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

    A whitespace file whose first line repeats the column names has it skipped (a header).
    Lines DuckDB cannot read (bad encoding, too long) are rejected, as in a CSV file.
    """
    rt, rejects = _rejects_options()
    source = (
        "read_csv($path, columns={'raw': 'VARCHAR'}, header=false, delim=chr(31), quote='', "
        f"escape='', auto_detect=false, strict_mode=false, encoding=$encoding, {rejects})"
    )
    reader = f"SELECT row_number() OVER () AS __rn, raw FROM {source}"
    header = (
        fmt == "whitespace"
        and bool(names)
        and (_first_line(path).lower().split() == [n.lower() for n in names])
    )
    if header:
        reader = f"SELECT * FROM ({reader}) WHERE __rn > 1"
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

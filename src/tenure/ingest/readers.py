"""Read input files through DuckDB's streaming readers.

A :class:`Staged` file is a *reader query*: ``__rn`` (the row's position among the rows
read, deterministic for a given file) and one text column ``s{i}`` per source column (JSON
Lines and whitespace files: one column ``raw``, the line). The parse step reads straight from
it, so a file is scanned once. Only when rows are quarantined is the file read again into a
table (:meth:`Staged.materialize`) to give each of them its raw row and physical line.

CSV rows whose column count is wrong are not read: DuckDB's reject tables give their record
number and raw text (``rejects``, known after the first scan).

Paths, delimiters and JSON paths reach DuckDB as bound parameters; source columns are
referred to by position (``#3``), so no text from the input ever becomes SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tenure.errors import IngestError

_CHUNK = 1 << 24


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
    rejects: list[tuple[int, str]] = field(default_factory=list)
    table: str = field(default_factory=lambda: f"__stage_{uuid.uuid4().hex[:12]}")

    def collect_rejects(self, con: duckdb.DuckDBPyConnection) -> None:
        """After the first scan: the records DuckDB rejected (one per record)."""
        if self.rejects_table is None:
            return
        found = con.execute(
            f"SELECT line, any_value(csv_line) FROM {self.rejects_table} GROUP BY line "
            "ORDER BY line"
        ).fetchall()
        self.rejects = [(int(a), str(b)) for a, b in found]
        con.execute(f"DROP TABLE IF EXISTS {self.rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {self.rejects_table}_scan")

    def materialize(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read the file again into ``table`` and create the view ``{table}_lines``."""
        reader = self.reader
        if self.rejects_table:  # the second scan rejects the same records, into new tables
            again = f"__rej_{uuid.uuid4().hex[:12]}"
            reader = reader.replace(self.rejects_table, again)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {self.table} AS {reader}", self.params)
        if self.rejects_table:
            con.execute(f"DROP TABLE IF EXISTS {again}")
            con.execute(f"DROP TABLE IF EXISTS {again}_scan")
        if self.fmt == "csv":
            self.rejects = _add_line_numbers(
                con, self.table, self.path, self.header, self.rows, self.rejects, self.columns
            )
        else:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {self.table}_lines AS "
                f"SELECT __rn, __rn AS __line FROM {self.table}"
            )

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP VIEW IF EXISTS {self.table}_lines")
        con.execute(f"DROP TABLE IF EXISTS {self.table}_nl")
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


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, delim: str, quote: str, header: bool
) -> Staged:
    rt = f"__rej_{uuid.uuid4().hex[:12]}"
    params = {"path": str(path), "header": header, "delim": delim, "quote": quote}
    source = (
        "read_csv($path, all_varchar=true, header=$header, delim=$delim, quote=$quote, "
        f"store_rejects=true, rejects_table='{rt}', rejects_scan='{rt}_scan')"
    )
    try:
        desc = con.execute(f"SELECT * FROM {source} LIMIT 0", params).description
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot read as CSV: {exc}",
            hint="Check the delimiter and quoting (mapping keys `delimiter`, `quote`).",
        ) from None
    columns = [d[0] for d in desc]
    cols = ", ".join(f"#{i + 1} AS s{i}" for i in range(len(columns)))
    reader = f"SELECT row_number() OVER () AS __rn, {cols} FROM {source}"
    plain = f"SELECT {cols} FROM {source}"
    return Staged(
        path, "csv", columns, reader, params, plain=plain, header=int(header), rejects_table=rt
    )


def _add_line_numbers(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    header: int,
    rows: int,
    rejects: list[tuple[int, str]],
    columns: list[str],
) -> list[tuple[int, str]]:
    """Create the view ``{table}_lines(__rn, __line)``; return the rejects with physical lines.

    DuckDB numbers rejected rows by record (the header is record 1), not by physical line.
    The j-th rejected record r_j comes before a read row whose record would be b without
    rejects iff r_j - j < b, so that row's record is b + #{j : r_j - j < b}. When quoted
    fields hold newlines (the file has more lines than records), each record's physical line
    adds the newlines inside the records before it.
    """
    shifts = sorted(r - j for j, (r, _) in enumerate(rejects, start=1))
    shift_sql = " + ".join(f"(b > {int(s)})::BIGINT" for s in shifts) or "0"
    rec = (
        f"SELECT __rn, b + {shift_sql} AS rec FROM (SELECT __rn, {header} + __rn AS b FROM {table})"
    )
    if _physical_lines(path) <= header + rows + len(rejects):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT __rn, rec AS __line FROM ({rec})"
        )
        return rejects
    text = " || ".join(f"coalesce(s{i}, '')" for i in range(len(columns))) or "''"
    nl = f"(length({text}) - length(replace({text}, chr(10), '')))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_nl AS SELECT r.__rn, r.rec, {nl} AS nl "
        f"FROM ({rec}) r JOIN {table} t ON r.__rn = t.__rn"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT __rn, rec + coalesce(sum(nl) "
        "OVER (ORDER BY rec ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __line "
        f"FROM {table}_nl"
    )
    fixed = []
    for r, raw in rejects:
        row = con.execute(f"SELECT coalesce(sum(nl), 0) FROM {table}_nl WHERE rec < ?", [r])
        before = row.fetchone()
        fixed.append((r + int(before[0] if before else 0), raw))
    return fixed


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


def _stage_lines(path: Path, fmt: str, names: tuple[str, ...]) -> Staged:
    """JSON Lines and whitespace-separated files: one raw text column per physical line.

    A whitespace file whose first line repeats the column names has it skipped (a header).
    """
    source = (
        "read_csv($path, columns={'raw': 'VARCHAR'}, header=false, delim=chr(31), quote='', "
        "escape='', auto_detect=false, strict_mode=false)"
    )
    reader = f"SELECT row_number() OVER () AS __rn, raw FROM {source}"
    header = (
        fmt == "whitespace"
        and bool(names)
        and (_first_line(path).lower().split() == [n.lower() for n in names])
    )
    if header:
        reader = f"SELECT * FROM ({reader}) WHERE __rn > 1"
    return Staged(path, fmt, ["raw"], reader, {"path": str(path)})


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    *,
    delim: str = ",",
    quote: str = '"',
    header: bool = True,
    names: tuple[str, ...] = (),
) -> Staged:
    """Prepare ``path`` for reading (the file is not scanned yet)."""
    if not path.is_file():
        raise IngestError(
            f"Input file {str(path)!r} does not exist.", hint="Check the path and try again."
        )
    if fmt == "csv":
        return _stage_csv(con, path, delim, quote, header)
    if fmt == "parquet":
        return _stage_parquet(con, path)
    return _stage_lines(path, fmt, names)

"""Read an input file into a staging table through DuckDB's streaming readers.

The staging table has ``__rn`` (the row's position among the rows read) and one text column
``s{i}`` per source column (JSON Lines and whitespace files: one column ``raw``, the line).
The view ``<table>_lines`` gives each row's 1-based physical line in the file (for Parquet,
the row number); it is only evaluated for quarantined rows. Rows whose column count is
wrong are not staged: DuckDB's reject tables give their line and raw text (``rejects``).

Paths, delimiters and JSON paths reach DuckDB as bound parameters; source columns are
referred to by position (``#3``), so no text from the input ever becomes SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from tenure.errors import IngestError

_CHUNK = 1 << 24


@dataclass
class Staged:
    """A staged file: its table, the source columns and the rejected lines."""

    table: str
    path: str
    fmt: str
    columns: list[str]
    rows: int
    rejects: list[tuple[int, str]] = field(default_factory=list)
    json_paths: dict[str, str] = field(default_factory=dict)


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
    con: duckdb.DuckDBPyConnection, path: Path, table: str, delim: str, quote: str, header: bool
) -> Staged:
    tag = uuid.uuid4().hex[:12]
    rt, rs = f"__rej_{tag}", f"__rejscan_{tag}"
    params = {"path": str(path), "header": header, "delim": delim, "quote": quote}
    reader = (
        "read_csv($path, all_varchar=true, header=$header, delim=$delim, quote=$quote, "
        f"store_rejects=true, rejects_table='{rt}', rejects_scan='{rs}')"
    )
    try:
        desc = con.execute(f"SELECT * FROM {reader} LIMIT 0", params).description
    except duckdb.Error as exc:
        raise IngestError(
            f"{path}: cannot read as CSV: {exc}",
            hint="Check the delimiter and quoting (mapping keys `delimiter`, `quote`).",
        ) from None
    columns = [d[0] for d in desc]
    cols = ", ".join(f"#{i + 1} AS s{i}" for i in range(len(columns)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT row_number() OVER () AS __rn, {cols} FROM {reader}",
        params,
    )
    rejects = con.execute(
        f"SELECT line, any_value(csv_line) FROM {rt} GROUP BY line ORDER BY line"
    ).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {rt}")
    con.execute(f"DROP TABLE IF EXISTS {rs}")
    rows = _count(con, table)
    found = [(int(a), str(b)) for a, b in rejects]
    found = _add_line_numbers(con, table, path, int(header), rows, found, columns)
    return Staged(table, str(path), "csv", columns, rows, found)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


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
    The j-th rejected record r_j comes before a staged row whose record would be b without
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


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> Staged:
    params = {"path": str(path)}
    try:
        desc = con.execute("SELECT * FROM read_parquet($path) LIMIT 0", params).description
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read as Parquet: {exc}") from None
    columns = [d[0] for d in desc]
    cols = ", ".join(f"CAST(#{i + 1} AS VARCHAR) AS s{i}" for i in range(len(columns)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT file_row_number + 1 AS __rn, {cols} "
        "FROM read_parquet($path, file_row_number=true)",
        params,
    )
    _lines_are_rows(con, table)
    return Staged(table, str(path), "parquet", columns, _count(con, table))


def _lines_are_rows(con: duckdb.DuckDBPyConnection, table: str) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {table}_lines AS SELECT __rn, __rn AS __line FROM {table}"
    )


def _drop_header_line(con: duckdb.DuckDBPyConnection, table: str, names: tuple[str, ...]) -> None:
    """Whitespace files: drop a first line that repeats the column names (a header)."""
    row = con.execute(f"SELECT lower(trim(raw)) FROM {table} WHERE __rn = 1").fetchone()
    if row and row[0] is not None and row[0].split() == [n.lower() for n in names]:
        con.execute(f"DELETE FROM {table} WHERE __rn = 1")


def _stage_lines(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, fmt: str, names: tuple[str, ...]
) -> Staged:
    """JSON Lines and whitespace-separated files: one raw text column per physical line."""
    reader = (
        "read_csv($path, columns={'raw': 'VARCHAR'}, header=false, delim=chr(31), quote='', "
        "escape='', auto_detect=false, strict_mode=false)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT row_number() OVER () AS __rn, raw FROM {reader}",
        {"path": str(path)},
    )
    if fmt == "whitespace" and names:
        _drop_header_line(con, table, names)
    _lines_are_rows(con, table)
    return Staged(table, str(path), fmt, ["raw"], _count(con, table))


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
    """Stage ``path`` into a new temporary table of ``con``."""
    if not path.is_file():
        raise IngestError(
            f"Input file {str(path)!r} does not exist.", hint="Check the path and try again."
        )
    table = f"__stage_{uuid.uuid4().hex[:12]}"
    if fmt == "csv":
        return _stage_csv(con, path, table, delim, quote, header)
    if fmt == "parquet":
        return _stage_parquet(con, path, table)
    return _stage_lines(con, path, table, fmt, names)

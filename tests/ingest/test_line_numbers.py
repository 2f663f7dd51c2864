"""Physical line numbers, checked against an independent count on generated files.

The file is built record by record, so the test knows each record's first physical line: blank
lines (which DuckDB's reader skips), quoted fields holding newlines (some of them blank lines
too), rejected records, unreadable values, LF or CRLF line ends.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.ingest import import_file
from tests.conftest import examples

HEADER = "customer_id,email,first_name,created_at"
EOLS = ["\n", "\r\n"]
KINDS = st.sampled_from(
    [
        *("good", "good", "bad date", "short", "long", "blank", "spaces"),
        *("multiline", "multiline bad date", "multiline long"),
    ]
)


def _record(kind: str, i: int) -> tuple[str, str | None]:
    """The text of one record (without its line end) and its expected quarantine reason."""
    name = '"two\n\nlines"' if kind.startswith("multiline") else "N"
    date = "someday" if kind.endswith("bad date") else "2024-01-01"
    return {
        "good": (f"K{i},a@x.com,N,{date}", None),
        "bad date": (f"K{i},a@x.com,N,{date}", "unreadable date"),
        "short": (f"K{i},a@x.com", "wrong column count"),
        "long": (f"K{i},a@x.com,{name},{date},extra", "wrong column count"),
        "blank": ("", None),
        "multiline": (f"K{i},a@x.com,{name},{date}", None),
        "multiline bad date": (f"K{i},a@x.com,{name},{date}", "unreadable date"),
        "multiline long": (f"K{i},a@x.com,{name},{date},extra", "wrong column count"),
        "spaces": ("   ", "wrong column count"),
    }[kind]


def _file(kinds: list[str], eol: str) -> tuple[str, dict[int, str], int]:
    """File text, {physical line: reason} of the rows to quarantine, number of rows."""
    parts, expected, line, rows = [HEADER + eol], {}, 2, 0
    for i, kind in enumerate(kinds):
        text, reason = _record(kind, i)
        parts.append(text.replace("\n", eol) + eol)
        if reason:
            expected[line] = reason
        rows += kind != "blank"
        line += 1 + text.count("\n")
    return "".join(parts), expected, rows


@examples(40)
def test_quarantined_rows_have_their_physical_line(examples: int) -> None:
    files = given(kinds=st.lists(KINDS, min_size=1, max_size=30), eol=st.sampled_from(EOLS))
    slow_ok = [HealthCheck.too_slow]
    settings(max_examples=examples, deadline=None, suppress_health_check=slow_ok)(
        files(_lines_are_physical)
    )()


def _lines_are_physical(kinds: list[str], eol: str) -> None:
    text, expected, rows = _file(kinds, eol)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_bytes(text.encode())
        url = f"duckdb://{Path(tmp) / 's.duckdb'}"
        with Store(url) as store:
            result = import_file(store, "customers", [path], max_quarantine=1.0)
            got = store.con.con.execute("SELECT line, reason FROM quarantine").fetchall()
    assert dict(got) == expected
    assert len(got) == len(expected)
    assert result.rows_read == rows
    assert result.stored == rows - len(expected)

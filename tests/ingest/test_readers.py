"""Reading files: rejected records, encodings, and exact physical line numbers at scale."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tenure import Store
from tenure.ingest import import_events, import_file, import_orders


def _quarantine(store: Store) -> list[tuple[int, str, str | None]]:
    rows = store.con.con.execute(
        "SELECT line, reason, raw_value FROM quarantine ORDER BY line"
    ).fetchall()
    return [(int(a), b, c) for a, b, c in rows]


CUSTOMERS = "customer_id,email,first_name,created_at\n"


@pytest.mark.parametrize(("eol", "bom"), [("\n", b""), ("\r\n", b"\xef\xbb\xbf")])
def test_rejected_records_get_reasons_by_error_and_exact_lines(
    store: Store, tmp_path: Path, eol: str, bom: bytes
) -> None:
    path = tmp_path / "c.csv"
    text = (
        CUSTOMERS  # 1
        + 'K1,a@x.com,"Ann\nMarie",2024-01-01\n'  # 2-3
        + 'K2,b@x.com,"two\nlines",2024-01-01,extra\n'  # 4-5: rejected, spans two lines
        + "K3,c@x.com,Bo,never\n"  # 6
    )
    path.write_bytes(
        bom
        + text.replace("\n", eol).encode()
        + f"K4,d@x.com,Caf\xe9,2024-01-01{eol}".encode("latin-1")  # 7: not UTF-8
        + f"K5,e@x.com,Ed,someday{eol}".encode()  # 8
    )
    result = import_file(store, "customers", [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (5, 1, 4)
    assert result.by_reason == {
        "wrong column count": 1,
        "invalid encoding": 1,
        "unreadable date": 2,
    }
    got = _quarantine(store)
    assert [(line, reason) for line, reason, _ in got] == [
        (4, "wrong column count"),
        (6, "unreadable date"),
        (7, "invalid encoding"),
        (8, "unreadable date"),
    ]
    assert got[0][2] == f'K2,b@x.com,"two{eol}lines",2024-01-01,extra'


def test_latin1_file_with_an_encoding_mapping(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((CUSTOMERS + "K1,a@x.com,Café,2024-01-01\n").encode("latin-1"))
    result = import_file(store, "customers", [path], mapping={"encoding": "latin-1"})
    assert (result.stored, result.quarantined) == (1, 0)
    assert store.table("customers").first_name.to_pyarrow().to_pylist() == ["Café"]


def test_jsonl_line_that_is_not_utf8_is_quarantined(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    ok = '{"messageId":"m%d","type":"track","event":"E","timestamp":"2024-03-01T10:00:00Z"}\n'
    path.write_bytes(
        (ok % 1).encode() + b'{"messageId":"m2","event":"caf\xe9"}\n' + (ok % 3).encode()
    )
    result = import_events(store, [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (3, 2, 1)
    assert [(line, reason) for line, reason, _ in _quarantine(store)] == [(2, "invalid encoding")]


@pytest.mark.slow
def test_line_numbers_exact_in_a_large_file_with_multiline_fields_and_rejects(
    store: Store, tmp_path: Path
) -> None:
    """300,000 order lines read by DuckDB's parallel reader: every quarantined row has its
    physical line, and lines numbered 1..n within an order follow the file's order."""
    rnd = random.Random(7)
    expected: dict[int, str] = {}
    line = 1
    parts = ["order_id,customer_id,ordered_at,currency,product_id,title,quantity,unit_price\n"]
    for i in range(300_000):
        line += 1
        order, k = f"O{i // 3}", i % 3 + 1
        title = '"two\nlines"' if rnd.random() < 0.001 else "t"
        r = rnd.random()
        if r < 0.0005:
            parts.append(f"{order},C,2024-01-01,USD,P{k},{title}\n")
            expected[line] = "wrong column count"
        elif r < 0.001:
            parts.append(f"{order},C,someday,USD,P{k},{title},1,2.00\n")
            expected[line] = "unreadable date"
        else:
            parts.append(f"{order},C,2024-01-01,USD,P{k},{title},1,2.00\n")
        line += title.count("\n")
    path = tmp_path / "big.csv"
    path.write_text("".join(parts))
    con = store.con.con
    con.execute("SET threads = 8")  # more threads than cores: more chances to reorder
    con.execute("SET preserve_insertion_order = false")  # the import turns it on, then back
    result = import_orders(store, [path], max_quarantine=1.0)
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (False,)
    assert result.rows_read == 300_000
    assert result.quarantined == len(expected) > 100
    assert {ln: reason for ln, reason, _ in _quarantine(store)} == expected
    misnumbered = con.execute(
        "SELECT count(*) FROM order_items WHERE product_id <> 'P' || line AND order_id NOT IN "
        "(SELECT CASE WHEN raw_row LIKE '{%' THEN json_extract_string(raw_row, '$.order_id') "
        "ELSE split_part(raw_row, ',', 1) END FROM quarantine)"
    ).fetchone()
    assert misnumbered == (0,)


def test_many_rejects_are_handled_in_the_engine(store: Store, tmp_path: Path) -> None:
    """A file whose rows mostly have the wrong column count: one reject per row, no blow-up."""
    rows = [CUSTOMERS] + [
        f"K{i},x@y.z,N\n" if i % 4 else f"K{i},x@y.z,N,2024-01-01\n" for i in range(20_000)
    ]
    path = tmp_path / "short.csv"
    path.write_text("".join(rows))
    result = import_file(store, "customers", [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored) == (20_000, 5_000)
    assert result.by_reason == {"wrong column count": 15_000}
    lines = store.con.con.execute("SELECT min(line), max(line), count(*) FROM quarantine")
    assert lines.fetchone() == (3, 20_001, 15_000)


def test_empty_and_header_only_files_import_nothing(store: Store, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header = tmp_path / "header.csv"
    header.write_text(CUSTOMERS)
    result = import_file(store, "customers", [empty, header])
    assert (result.rows_read, result.stored, result.quarantined) == (0, 0, 0)


def test_whitespace_file_with_tabs_blank_lines_and_a_header(store: Store, tmp_path: Path) -> None:
    """CDNOW-style: any run of spaces or tabs separates fields; blank lines are no rows."""
    path = tmp_path / "cdnow.txt"
    path.write_bytes(
        b"customer_id date number_of_cds dollar_value\n"  # 1: a header, skipped
        b"00001 19970101 1 11.77\n"  # 2
        b"\t00002  19970112\t1   12.00\r\n"  # 3: tabs, several spaces, CRLF
        b"   \n"  # 4: blank
        b"00001 19970101 2 20.76\n"  # 5: same customer and day: occurrence 2
        b"\n"  # 6: blank
        b"00004 19970102 x 20.76\n"  # 7
        b"00005 19970102 1\n"  # 8
    )
    result = import_orders(store, [path], preset="cdnow", max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (5, 3, 2)
    assert [(line, reason) for line, reason, _ in _quarantine(store)] == [
        (7, "unreadable number"),
        (8, "wrong column count"),
    ]
    orders = store.table("orders").order_by("order_id").select("order_id", "total")
    assert [(o["order_id"], str(o["total"])) for o in orders.to_pyarrow().to_pylist()] == [
        ("00001-19970101-1", "11.7700"),
        ("00001-19970101-2", "20.7600"),
        ("00002-19970112-1", "12.0000"),
    ]


def test_segment_event_without_timestamp_takes_original_timestamp_or_received_at(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"messageId":"a","type":"track","event":"E","originalTimestamp":"2024-03-01T10:00:00Z",'
        '"receivedAt":"2024-03-01T10:05:00Z"}\n'
        '{"messageId":"b","type":"track","event":"E","receivedAt":"2024-03-01T11:00:00Z"}\n'
        '{"messageId":"c","type":"track","event":"E","timestamp":"never",'
        '"receivedAt":"2024-03-01T11:00:00Z"}\n'
    )
    result = import_events(store, [path], max_quarantine=1.0)
    assert result.by_reason == {"unreadable date": 1}
    events = store.table("events").order_by("message_id").select("message_id", "timestamp")
    assert [(e["message_id"], str(e["timestamp"])) for e in events.to_pyarrow().to_pylist()] == [
        ("a", "2024-03-01 10:00:00"),
        ("b", "2024-03-01 11:00:00"),
    ]

"""The quarantine's library face: summary, rows, one row, export, retry (docs/import-mapping.md,
"Seeing, exporting and retrying quarantined rows")."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.errors import ConfigError, IngestError, NotFoundError
from tenure.ingest import (
    Selection,
    export_quarantine,
    import_orders,
    quarantine_summary,
    quarantined_row,
    quarantined_rows,
    retry_quarantined,
)
from tenure.ingest.quarantine import count_quarantined, neutralise, parse_id
from tests.conftest import examples

HEADER = "order_id,customer_id,ordered_at,currency,total,title\n"
#: line 2 good, 3 unreadable number, 4 wrong column count, 5 unknown currency, 6 a formula
ORDERS = (
    HEADER + "A1,C1,2024-03-01,EUR,10.50,ok\n"
    "A2,C2,2024-03-02,EUR,x,ok\n"
    "A3,C3,2024-03-03,EUR,5,ok,extra\n"
    "A4,C4,2024-03-04,ZZZ,7,ok\n"
    "A5,C5,2024-03-05,EUR,-,=HYPERLINK(1)\n"
)


def _imported(store: Store, tmp_path: Path, text: str = ORDERS, name: str = "orders.csv"):
    path = tmp_path / name
    path.write_text(text)
    return import_orders(store, [path], max_quarantine=1.0)


def test_summary_and_rows_name_file_line_field_value_reason(store: Store, tmp_path: Path) -> None:
    result = _imported(store, tmp_path)
    iid, file = result.import_id, str(tmp_path / "orders.csv")
    summary = quarantine_summary(store)
    assert summary.to_dict("records") == [
        {"import_id": iid, "entity": "orders", "file": file, "reason": r, "rows": n}
        for r, n in [("unknown currency", 1), ("unreadable number", 2), ("wrong column count", 1)]
    ]
    rows = quarantined_rows(store, Selection(import_id=iid))
    assert rows[["id", "line", "column", "value", "reason"]].to_dict("records") == [
        {
            "id": f"{iid}:3",
            "line": 3,
            "column": "total",
            "value": "x",
            "reason": "unreadable number",
        },
        {
            "id": f"{iid}:4",
            "line": 4,
            "column": None,
            "value": "A3,C3,2024-03-03,EUR,5,ok,extra",
            "reason": "wrong column count",
        },
        {
            "id": f"{iid}:5",
            "line": 5,
            "column": "currency",
            "value": "ZZZ",
            "reason": "unknown currency",
        },
        {
            "id": f"{iid}:6",
            "line": 6,
            "column": "total",
            "value": "-",
            "reason": "unreadable number",
        },
    ]
    assert list(rows["file"].unique()) == [file] and list(rows["entity"].unique()) == ["orders"]
    by_reason = quarantined_rows(store, Selection(reason="unreadable number"), limit=1)
    assert list(by_reason["line"]) == [3]
    assert count_quarantined(store, Selection(reason="unreadable number")) == 2
    assert quarantined_rows(store, Selection(import_id="imp-none")).empty
    assert quarantine_summary(store, Selection(entity="spend")).empty


def test_ids_of_an_import_of_several_files_name_the_file(store: Store, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(HEADER + "A1,C1,2024-03-01,EUR,x,ok\n")
    b.write_text(HEADER + "B2,C1,2024-03-01,EUR,y,ok\nB1,C1,2024-03-01,EUR,1,ok\n")
    iid = import_orders(store, [a, b], max_quarantine=1.0).import_id
    rows = quarantined_rows(store)
    assert list(rows["id"]) == [f"{iid}:1:2", f"{iid}:2:2"]
    assert quarantined_row(store, f"{iid}:2:2")["value"] == "y"
    assert quarantined_row(store, f"{iid}:1:2")["file"] == str(a)
    with pytest.raises(NotFoundError, match="names rows of several files"):
        quarantined_row(store, f"{iid}:2")
    with pytest.raises(NotFoundError, match="No quarantined row"):
        quarantined_row(store, f"{iid}:9:2")


def test_one_row_in_full_with_its_raw_row(store: Store, tmp_path: Path) -> None:
    iid = _imported(store, tmp_path).import_id
    row = quarantined_row(store, f"{iid}:3")
    assert {k: row[k] for k in ("id", "import_id", "entity", "line", "column", "value")} == {
        "id": f"{iid}:3",
        "import_id": iid,
        "entity": "orders",
        "line": 3,
        "column": "total",
        "value": "x",
    }
    assert row["raw_fields"] == {
        "order_id": "A2",
        "customer_id": "C2",
        "ordered_at": "2024-03-02",
        "currency": "EUR",
        "total": "x",
        "title": "ok",
    }
    reject = quarantined_row(store, f" {iid}:4 ")
    assert reject["raw_fields"] is None and reject["raw_row"] == "A3,C3,2024-03-03,EUR,5,ok,extra"
    with pytest.raises(NotFoundError, match=f"No quarantined row has the id '{iid}:2'"):
        quarantined_row(store, f"{iid}:2")  # the good row
    with pytest.raises(ConfigError, match="is not a quarantined row id"):
        quarantined_row(store, "nonsense")
    assert parse_id("imp-x:12") == ("imp-x", None, 12)
    assert parse_id("imp-x:2:12") == ("imp-x", 2, 12)


def test_export_writes_the_raw_rows_then_the_reasons(store: Store, tmp_path: Path) -> None:
    iid = _imported(store, tmp_path).import_id
    out = tmp_path / "fix" / "quarantine.csv"
    assert export_quarantine(store, out) == 4
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "order_id",
        "customer_id",
        "ordered_at",
        "currency",
        "total",
        "title",
        "raw_line",
        "quarantine_id",
        "quarantine_line",
        "quarantine_column",
        "quarantine_value",
        "quarantine_reason",
    ]
    assert rows[1] == [
        "A2",
        "C2",
        "2024-03-02",
        "EUR",
        "x",
        "ok",
        "",
        f"{iid}:3",
        "3",
        "total",
        "x",
        "unreadable number",
    ]
    assert rows[2][:6] == [""] * 6 and rows[2][6] == "A3,C3,2024-03-03,EUR,5,ok,extra"
    # a formula is neutralised; a lone "-" too (not a number), "-5" would not be
    assert rows[4][4:6] == ["'-", "'=HYPERLINK(1)"]
    assert neutralise("-5") == "-5" and neutralise("@x") == "'@x" and neutralise("a=1") == "a=1"
    export_quarantine(store, out, Selection(reason="unreadable number"), safe=False)
    with out.open(newline="") as fh:
        raw = list(csv.reader(fh))
    assert [r[0] for r in raw[1:]] == ["A2", "A5"] and raw[2][5] == "=HYPERLINK(1)"
    assert "raw_line" not in raw[0]


def test_a_fixed_export_imports_again(store: Store, tmp_path: Path) -> None:
    _imported(store, tmp_path)
    out = tmp_path / "fix.csv"
    export_quarantine(store, out, Selection(reason="unreadable number"), safe=False)
    out.write_text(out.read_text().replace(",x,", ",12,").replace(",-,", ",3,"))
    again = import_orders(store, [out])
    assert (again.stored, again.quarantined) == (2, 0)
    assert "quarantine_reason" in again.ignored_columns


def _mapped_orders(tmp_path: Path, date_format: str) -> Path:
    mapping = tmp_path / "orders.yaml"
    mapping.write_text(
        f'entity: orders\ndate_format: "{date_format}"\ncolumns:\n'
        "  Ref: order_id\n  Who: customer_id\n  When: ordered_at\n  Cur: currency\n  Total: total\n"
    )
    return mapping


def test_retry_after_fixing_the_mapping_imports_the_rows(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "export.csv"
    data.write_text(
        "Ref,Who,When,Cur,Total\n"
        "A1,C1,01/03/2024,EUR,10\n"
        "A2,C2,02/03/2024,ZZZ,20\n"
        "A3,C3,03/03/2024,EUR,30\n"
    )
    mapping = _mapped_orders(tmp_path, "%Y-%m-%d")
    first = import_orders(store, [data], mapping=mapping, max_quarantine=1.0)
    assert first.by_reason == {"unreadable date": 3}
    mapping.write_text(mapping.read_text().replace("%Y-%m-%d", "%d/%m/%Y"))  # the fix
    result = retry_quarantined(store, Selection(import_id=first.import_id))
    assert (result.retried, result.imported, result.already_present) == (3, 2, 0)
    assert (result.suppressed, result.still_quarantined, result.skipped) == (0, 1, 0)
    assert result.by_reason == {"unknown currency": 1}
    assert result.sources == [
        {"import_id": first.import_id, "file": str(data), "mapping": repr(str(mapping))}
    ]
    orders = store.table("orders").order_by("order_id").to_pandas()
    assert list(orders["order_id"]) == ["A1", "A3"] and set(orders["source"]) == {str(data)}
    assert str(orders["ordered_at"][0]) == "2024-03-01 00:00:00"
    left = quarantined_rows(store)
    assert left[["id", "line", "column", "value", "reason"]].to_dict("records") == [
        {
            "id": f"{first.import_id}:3",
            "line": 3,
            "column": "currency",
            "value": "ZZZ",
            "reason": "unknown currency",
        }
    ]
    imports = store.table("imports").order_by("started_at").to_pandas()
    assert list(imports["import_id"]) == [first.import_id, result.import_id]
    assert imports.iloc[1][["rows_read", "stored", "quarantined"]].tolist() == [3, 2, 1]
    # a second retry changes nothing, loses nothing
    again = retry_quarantined(store)
    assert (again.retried, again.imported, again.still_quarantined) == (1, 0, 1)
    assert count_quarantined(store) == 1


def test_retry_reads_the_kept_rows_when_the_file_is_gone(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "export.csv"
    data.write_text("Ref,Who,When,Cur,Total\nA1,C1,01/03/2024,EUR,10\nA1,C1,01/03/2024,EUR,10\n")
    first = import_orders(store, [data], mapping=_mapped_orders(tmp_path, "%Y"), max_quarantine=1.0)
    data.unlink()
    result = retry_quarantined(store, mapping=_mapped_orders(tmp_path, "%d/%m/%Y"))
    assert (result.retried, result.imported, result.already_present) == (2, 1, 1)
    assert count_quarantined(store) == 0 and store.count("orders") == 1
    assert first.quarantined == 2


def test_retry_with_latin1_reads_the_lost_bytes_from_the_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        (HEADER + "A1,C1,2024-03-01,EUR,10.50,caf\xe9\nA2,C2,2024-03-02,EUR,2,ok\n").encode(
            "latin-1"
        )
    )
    first = import_orders(store, [path], max_quarantine=1.0)
    assert first.by_reason == {"invalid encoding": 1}
    notes = first.quarantine_notes()
    # the commands on lines of their own (the CLI never wraps them)
    assert notes[0].startswith("Quarantined rows are kept with their line and reason")
    assert notes[0].endswith(f":\n  tenure quarantine list --import {first.import_id}")
    assert "`--encoding latin-1`" in notes[1]
    assert notes[1].endswith(
        f":\n  tenure quarantine retry --import {first.import_id} --encoding latin-1"
    )
    kept = quarantined_row(store, f"{first.import_id}:2")["raw_row"]
    assert kept == "A1,C1,2024-03-01,EUR,10.50,caf?"  # the reader lost the byte
    result = retry_quarantined(store, encoding="latin-1")
    assert (result.retried, result.imported, result.still_quarantined) == (1, 1, 0)
    titles = store.table("order_items").order_by("order_id").title.to_pyarrow().to_pylist()
    assert titles == ["café", "ok"]


def test_retry_of_nothing_and_of_rows_that_still_fail(store: Store, tmp_path: Path) -> None:
    assert retry_quarantined(store).retried == 0
    iid = _imported(store, tmp_path).import_id
    result = retry_quarantined(store, Selection(import_id=iid, reason="wrong column count"))
    assert (result.retried, result.still_quarantined) == (1, 1)
    assert result.by_reason == {"wrong column count": 1}
    after = quarantined_rows(store)
    assert list(after["line"]) == [3, 4, 5, 6] and count_quarantined(store) == 4


@examples(full=25, fast=4)
def test_retry_accounts_for_every_row(
    examples: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Invariant: retried = imported + already present + suppressed + still quarantined, and
    the quarantine loses exactly the rows that passed."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=8))
    def check(rows: list[tuple[bool, bool, bool]]) -> None:
        folder = tmp_path_factory.mktemp("retry")
        lines = ["Ref,Who,When,Cur,Total"]
        for i, (iso, good_currency, repeat) in enumerate(rows):
            day = "2024-03-05" if iso else "05/03/2024"
            ref = "R0" if repeat else f"R{i + 1}"
            lines.append(f"{ref},C{i},{day},{'EUR' if good_currency else 'ZZZ'},{i + 1}")
        data = folder / "orders.csv"
        data.write_text("\n".join(lines) + "\n")
        with Store(f"duckdb://{folder / 's.duckdb'}") as store:
            first = import_orders(
                store, [data], mapping=_mapped_orders(folder, "%Y-%m-%d"), max_quarantine=1.0
            )
            before = count_quarantined(store)
            assert before == first.quarantined
            stored_before = store.count("orders")
            result = retry_quarantined(store, mapping=_mapped_orders(folder, "%d/%m/%Y"))
            assert result.retried == before
            assert result.retried == (
                result.imported
                + result.already_present
                + result.suppressed
                + result.still_quarantined
            )
            assert count_quarantined(store) == result.still_quarantined
            assert store.count("orders") == stored_before + result.imported
            left = quarantined_rows(store)
            assert set(left["line"]) <= set(range(2, len(rows) + 2))

    check()


def test_a_retry_that_fails_midway_settles_the_files_done(store: Store, tmp_path: Path) -> None:
    """A mapping that fits the first import's rows but not the second's: the first's rows
    are imported and leave the quarantine; the error names the second's file; nothing is
    counted twice."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("Ref,Who,When,Cur,Total\nA1,C1,01/03/2024,EUR,10\n")
    b.write_text(HEADER + "B1,C1,01/03/2024,EUR,1,ok\n")
    first = import_orders(store, [a], mapping=_mapped_orders(tmp_path, "%Y"), max_quarantine=1.0)
    second = import_orders(store, [b], max_quarantine=1.0)
    assert first.quarantined == second.quarantined == 1
    with pytest.raises(IngestError) as failed:
        retry_quarantined(store, mapping=_mapped_orders(tmp_path, "%d/%m/%Y"))
    assert failed.value.message.startswith(
        f"{b} (its quarantined rows, import {second.import_id}): the mapping"
    )
    assert store.count("orders") == 1  # A1
    left = quarantined_rows(store)
    assert left[["import_id", "line", "reason"]].to_dict("records") == [
        {"import_id": second.import_id, "line": 2, "reason": "unreadable date"}
    ]

"""`--delimiter` and `--encoding` on imports, and spend rows without a campaign
(docs/import-mapping.md, "`--delimiter` and `--encoding`", "Spend")."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.errors import MappingArgumentError, MappingError
from tenure.ingest import (
    import_events,
    import_orders,
    import_spend,
    presets_for,
    quarantined_rows,
    retry_quarantined,
)
from tenure.ingest.mapping import delimiter_value, encoding_name

HEADER = "order_id;customer_id;ordered_at;currency;total;title\n"


def test_delimiter_and_encoding_replace_the_mapping_s(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_bytes((HEADER + "A1;C1;2024-03-01;EUR;10.50;caf\xe9\n").encode("latin-1"))
    result = import_orders(store, [path], delimiter=";", encoding="latin1")
    assert (result.stored, result.quarantined) == (1, 0)
    assert store.table("order_items").title.to_pyarrow().to_pylist() == ["café"]
    tsv = tmp_path / "tabs.csv"
    tsv.write_text(HEADER.replace(";", "\t") + "A2\tC1\t2024-03-02\tEUR\t3\tok\n")
    assert import_orders(store, [tsv], delimiter="tab").stored == 1
    assert delimiter_value("\\t") == delimiter_value("TAB") == "\t"
    assert encoding_name("UTF8") == "utf-8" and encoding_name("ISO-8859-1") == "latin-1"
    assert encoding_name("utf_16") == "utf-16" and encoding_name("cp1252") == "cp1252"


def test_a_wrong_encoding_or_delimiter_names_the_file_and_the_value(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "A1;C1;2024-03-01;EUR;1;ok\n")
    with pytest.raises(MappingArgumentError) as enc:
        import_orders(store, [path], encoding="cp1252")
    assert enc.value.message == (
        f"{path}: cannot read it with the encoding 'cp1252': Tenure reads utf-8, utf-16, latin-1."
    )
    assert "iconv" in (enc.value.hint or "") and enc.value.exit_code == 2
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    with pytest.raises(MappingError, match=f"{events}: --delimiter ';' applies to CSV files"):
        import_events(store, [events], delimiter=";")
    with pytest.raises(MappingError, match="is also the quote character"):
        import_orders(store, [path], delimiter='"')
    with pytest.raises(MappingError, match="1 to 4 bytes"):
        import_orders(store, [path], delimiter=";;;;;")
    with pytest.raises(MappingError) as wrong:
        import_orders(store, [path])  # read with ',': one column
    assert "this file seems to use ';', so pass --delimiter ';'" in (wrong.value.hint or "")
    assert store.count("orders") == 0


def test_presets_are_offered_per_entity() -> None:
    assert presets_for("orders") == ["cdnow", "online_retail", "shopify"]
    assert presets_for("events") == [] and presets_for("spend") == []


SPEND = "date,channel,campaign,cost,currency\n"


def test_spend_without_campaign_is_stored_and_summed_per_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        SPEND + "2024-03-01,google,,10.00,USD\n"
        "2024-03-01,google,,5.50,USD\n"
        "2024-03-01,meta,,7,USD\n"
        "2024-03-01,meta,spring,3,USD\n"
        "2024-03-02,google,,1,USD\n"
        "2024-03-02,google,,2,EUR\n"
    )
    result = import_spend(store, [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (6, 5, 1)
    assert result.by_reason == {"same key with different content": 1}
    assert result.tables == {"marketing_spend": 4}
    stored = store.table("marketing_spend").order_by(["date", "channel", "campaign"])
    got = stored.select("channel", "campaign", "cost", "currency").to_pyarrow().to_pylist()
    assert [(r["channel"], r["campaign"], float(r["cost"]), r["currency"]) for r in got] == [
        ("google", None, 15.5, "USD"),
        ("meta", "spring", 3.0, "USD"),
        ("meta", None, 7.0, "USD"),
        ("google", None, 1.0, "USD"),
    ]
    assert list(quarantined_rows(store)["line"]) == [7]  # the EUR row of 2 March
    again = import_spend(store, [path], max_quarantine=1.0)
    assert (again.stored, again.already_present, again.quarantined) == (0, 5, 1)


def test_spend_without_campaign_conflicts_and_updates_as_one_key(
    store: Store, tmp_path: Path
) -> None:
    first, later = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(SPEND + "2024-03-01,google,,10,USD\n")
    later.write_text(SPEND + "2024-03-01,google,,4,USD\n2024-03-01,google,,16,USD\n")
    import_spend(store, [first])
    conflict = import_spend(store, [later], max_quarantine=1.0)
    assert (conflict.stored, conflict.quarantined) == (0, 2)  # the sum (20) differs: both kept
    updated = import_spend(store, [later], update=True)
    # both rows of the sum count as updated; one stored row was replaced
    assert (updated.updated, updated.stored) == (2, 0)
    assert updated.tables == {"marketing_spend": 1, "row_history": 1}
    costs = store.table("marketing_spend").cost.to_pyarrow().to_pylist()
    assert [float(c) for c in costs] == [20.0]
    history = store.table("row_history").to_pyarrow().to_pylist()
    assert [json.loads(h["record_key"]) for h in history] == [
        {"date": "2024-03-01", "channel": "google", "campaign": None}
    ]
    dup = tmp_path / "dup.csv"
    dup.write_text(SPEND + "2024-03-05,google,x,1,USD\n2024-03-05,google,x,2,USD\n")
    assert import_spend(store, [dup], max_quarantine=1.0).quarantined == 1  # a campaign: no sum


def test_a_spend_row_quarantined_as_missing_key_before_imports_on_retry(
    store: Store, tmp_path: Path
) -> None:
    """Rows an older Tenure quarantined for their empty campaign import with a retry."""
    path = tmp_path / "old.csv"
    path.write_text(SPEND + "2024-03-01,email,,2.5,USD\n")
    row = {
        "import_id": "imp-old",
        "entity": "spend",
        "file": str(path),
        "line": 2,
        "column": "campaign",
        "raw_value": None,
        "reason": "missing key",
        "raw_row": json.dumps(
            {
                "date": "2024-03-01",
                "channel": "email",
                "campaign": None,
                "cost": "2.5",
                "currency": "USD",
            }
        ),
        "quarantined_at": None,
    }
    store.insert("quarantine", pa.Table.from_pylist([row]))
    result = retry_quarantined(store)
    assert (result.retried, result.imported, result.still_quarantined) == (1, 1, 0)
    assert store.count("marketing_spend") == 1 and store.count("quarantine") == 0

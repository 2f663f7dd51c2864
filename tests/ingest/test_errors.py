"""Inputs that cannot be imported at all: errors that name the file, the column, the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure import Store
from tenure.errors import IngestError, MappingError
from tenure.ingest import import_file, import_orders

ORDERS = "order_id,ordered_at,currency,total\nA1,2024-01-01,USD,3\n"


def _orders(tmp_path: Path, text: str = ORDERS, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_time_zone(store: Store, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="'Mars/Base'") as info:
        import_orders(store, [_orders(tmp_path)], mapping={"timezone": "Mars/Base"})
    assert "Europe/Paris" in str(info.value.hint)


def test_unusable_date_format(store: Store, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="'%Q-%Y'"):
        import_orders(store, [_orders(tmp_path)], mapping={"date_format": "%Q-%Y"})


def test_file_without_its_key_column_names_the_columns_found(store: Store, tmp_path: Path) -> None:
    path = _orders(tmp_path, ORDERS.replace(",", ";"), "semicolons.csv")
    with pytest.raises(MappingError, match="'order_id'") as info:
        import_orders(store, [path])
    message = str(info.value)
    assert "semicolons.csv" in message and "'order_id;ordered_at;currency;total'" in message
    assert "delimiter" in str(info.value.hint)
    assert store.count("imports") == 0


def test_unknown_entity_and_mapping_key(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="'refunds'") as info:
        import_file(store, "refunds", [_orders(tmp_path)])
    assert "orders" in str(info.value.hint)
    with pytest.raises(MappingError, match="delimeter"):
        import_orders(store, [_orders(tmp_path)], mapping={"delimeter": ";"})


def test_mapping_for_another_entity(store: Store, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="for orders, not customers"):
        import_file(store, "customers", [_orders(tmp_path)], preset="cdnow")


def test_not_parquet_and_directory(store: Store, tmp_path: Path) -> None:
    fake = _orders(tmp_path, "hello", "fake.parquet")
    with pytest.raises(IngestError, match=r"fake\.parquet"):
        import_orders(store, [fake])
    with pytest.raises(IngestError, match="is a directory"):
        import_orders(store, [tmp_path])


def test_yaml_file_errors(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed\n")
    with pytest.raises(MappingError, match=r"bad\.yaml"):
        import_orders(store, [_orders(tmp_path)], mapping=bad)
    with pytest.raises(MappingError, match="does not exist"):
        import_orders(store, [_orders(tmp_path)], mapping=tmp_path / "none.yaml")


def test_every_reason_and_mapping_key_is_documented() -> None:
    from tenure.ingest import REASONS
    from tenure.ingest.mapping import _KEYS

    doc = (Path(__file__).parents[2] / "docs" / "import-mapping.md").read_text()
    assert [r for r in REASONS if f"`{r}`" not in doc] == []
    assert [k for k in sorted(_KEYS - {"description"}) if f"\n{k}:" not in doc] == []


def test_derived_fields_must_name_mapped_canonical_columns(store: Store, tmp_path: Path) -> None:
    path = _orders(tmp_path)
    for mapping in (
        {"refund_prefix": {"column": "order_id; DROP TABLE orders", "prefix": "C"}},
        {"order_id_from": ["customer_id"]},
    ):
        with pytest.raises(MappingError, match="does not give"):
            import_orders(store, [path], mapping=mapping)
    assert store.count("orders") == 0


def test_every_path_is_checked_before_any_file_is_imported(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"missing\.csv"):
        import_orders(store, [_orders(tmp_path), tmp_path / "missing.csv"])
    assert store.count("orders") == 0 and store.count("imports") == 0


def test_files_imported_before_a_refused_one_are_logged(store: Store, tmp_path: Path) -> None:
    good = _orders(tmp_path)
    other = _orders(tmp_path, "id,when\n1,2024-01-01\n", "other.csv")
    with pytest.raises(MappingError, match=r"other\.csv"):
        import_orders(store, [good, other])
    log = store.table("imports").to_pyarrow().to_pylist()
    assert [(r["file"], r["rows_read"], r["stored"]) for r in log] == [(str(good), 1, 1)]


def test_max_quarantine_out_of_range(store: Store, tmp_path: Path) -> None:
    from tenure.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[0, 1\]\. Got 5 instead"):
        import_orders(store, [_orders(tmp_path)], max_quarantine=5)


def test_a_file_is_written_whole_or_not_at_all(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tenure.ingest.pipeline as pipeline

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "_quarantine", fail)
    path = _orders(tmp_path, ORDERS + "A2,someday,USD,3\n")
    with pytest.raises(OSError, match="disk full"):
        import_orders(store, [path], max_quarantine=1.0)
    assert store.count("orders") == 0 and store.count("quarantine") == 0
    monkeypatch.undo()
    result = import_orders(store, [path], max_quarantine=1.0)
    assert (result.stored, result.quarantined) == (1, 1)


def test_mixed_line_ends_are_named_in_the_hint(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"order_id,ordered_at,currency,total\nA1,2024-01-01,USD,3\r\nA2,x,USD,3\n")
    with pytest.raises(IngestError, match=r"mixed\.csv: cannot read as CSV") as info:
        import_orders(store, [path])
    assert "CRLF and LF" in str(info.value.hint)


def test_file_without_a_required_column_is_refused_before_any_row(
    store: Store, tmp_path: Path
) -> None:
    """Issue 11, item 3: no `ordered_at` or no `total` column -> refused, naming the column,
    the file and the mapping line that fixes it; nothing stored, nothing quarantined."""
    cases = {
        "no_date.csv": ("order_id,total,currency\nA1,3,USD\n", "ordered_at"),
        "no_total.csv": ("order_id,ordered_at,currency\nA1,2024-01-01,USD\n", "total"),
        "no_currency.csv": ("order_id,ordered_at,total\nA1,2024-01-01,3\n", "currency"),
    }
    for name, (text, column) in cases.items():
        with pytest.raises(MappingError, match=f"'{column}'") as info:
            import_orders(store, [_orders(tmp_path, text, name)])
        assert name in str(info.value) and "required" in str(info.value)
        assert f": {column}" in str(info.value.hint) and "--mapping" in str(info.value.hint)
    with pytest.raises(MappingError, match="currency: USD"):
        import_orders(store, [_orders(tmp_path, cases["no_currency.csv"][0], "c.csv")])
    events = _orders(tmp_path, "message_id,type\nm1,track\n", "events.csv")
    with pytest.raises(MappingError, match="'timestamp'"):
        import_file(store, "events", [events])
    spend = _orders(tmp_path, "date,channel,campaign,currency\n2024-01-01,a,b,USD\n", "sp.csv")
    with pytest.raises(MappingError, match="'cost'"):
        import_file(store, "spend", [spend])
    assert store.count("orders") == 0 and store.count("quarantine") == 0
    assert store.count("imports") == 0


def test_required_columns_can_come_from_the_mapping_or_the_lines(
    store: Store, tmp_path: Path
) -> None:
    """A mapping's `currency` gives every row's currency; lines give the order's total."""
    no_currency = _orders(tmp_path, "order_id,ordered_at,total\nA1,2024-01-01,3\n", "a.csv")
    assert import_orders(store, [no_currency], mapping={"currency": "USD"}).stored == 1
    lines = "order_id,ordered_at,currency,product_id,quantity,unit_price\nB1,2024-01-01,USD,P,2,3\n"
    assert import_orders(store, [_orders(tmp_path, lines, "b.csv")]).stored == 1
    total = store.con.con.execute("SELECT total FROM orders WHERE order_id = 'B1'").fetchone()
    assert total is not None and total[0] == 6


def test_a_date_column_unreadable_in_nearly_every_row_is_refused(
    store: Store, tmp_path: Path
) -> None:
    """Issue 11, item 8: the message names the column, the layout tried, three sample values
    and the mapping line that fixes it, instead of quarantining every row."""
    rows = "".join(f"A{i},2010-12-{i:02} 08:26:00,GBP,{i}\n" for i in range(1, 21))
    path = _orders(tmp_path, "id,when,currency,total\n" + rows, "iso.csv")
    mapping = {
        "columns": {
            "id": "order_id",
            "when": "ordered_at",
            "currency": "currency",
            "total": "total",
        },
        "date_format": "%m/%d/%Y %H:%M",
    }
    with pytest.raises(MappingError) as info:
        import_orders(store, [path], mapping=mapping)
    message = str(info.value)
    assert "iso.csv" in message and "'when' (ordered_at)" in message
    assert "20 of the first 20" in message and "'%m/%d/%Y %H:%M'" in message
    assert "'2010-12-01 08:26:00', '2010-12-02 08:26:00', '2010-12-03 08:26:00'" in message
    assert 'date_format: "%Y-%m-%d %H:%M:%S"' in str(info.value.hint)
    assert store.count("orders") == 0 and store.count("quarantine") == 0
    default = _orders(
        tmp_path,
        "order_id,ordered_at,currency,total\n"
        + rows.replace("2010-12-", "12/").replace(" 08:26:00", "/2010 08:26"),
        "us.csv",
    )
    with pytest.raises(MappingError, match="ISO 8601") as info:
        import_orders(store, [default])
    assert 'date_format: "%m/%d/%Y %H:%M"' in str(info.value.hint)


def test_cdnow_sample_with_the_cdnow_preset_names_the_expected_layout(
    store: Store, tmp_path: Path
) -> None:
    """The 5-column CDNOW sample file (`original_id sample_id date cds dollars`) given to
    the 4-column preset: refused, naming the layout the preset expects."""
    sample = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_sample.txt"
    with pytest.raises(MappingError) as info:
        import_orders(store, [sample], preset="cdnow")
    message = str(info.value)
    assert "CDNOW_sample.txt" in message and "5 fields" in message
    assert "customer_id date(%Y%m%d) number_of_cds dollar_value" in message
    assert "names:" in str(info.value.hint)
    assert store.count("orders") == 0 and store.count("quarantine") == 0
    mapping = {
        "format": "whitespace",
        "names": ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
        "columns": {
            "customer_id": "customer_id",
            "date": "ordered_at",
            "number_of_cds": "quantity",
            "dollar_value": "total",
        },
        "date_format": "%Y%m%d",
        "currency": "USD",
        "order_id_from": ["customer_id", "ordered_at"],
    }
    result = import_orders(store, [sample], mapping=mapping)
    assert (result.rows_read, result.stored, result.quarantined) == (6919, 6919, 0)

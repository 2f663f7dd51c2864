"""Importers that lose nothing: presets, planted bad rows, line numbers, re-imports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tenure import Store
from tenure.errors import IngestError, MappingError
from tenure.ingest import PRESETS, import_events, import_file, import_orders

FIXTURES = Path(__file__).parent / "fixtures"
CDNOW = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_master.txt"


def _quarantine(store: Store) -> list[tuple[int, str, str | None, str | None]]:
    rows = store.con.con.execute(
        'SELECT line, reason, "column", raw_value FROM quarantine ORDER BY line'
    ).fetchall()
    return [(int(a), b, c, d) for a, b, c, d in rows]


def test_presets_are_listed() -> None:
    assert PRESETS == [
        "cdnow",
        "delighted_nps",
        "judgeme_reviews",
        "online_retail",
        "referralcandy",
        "shopify",
    ]


def test_cdnow_master_gives_the_papers_customers_rows_and_dollars(store: Store) -> None:
    """Fader & Hardie's CDNOW master: 23,570 customers; row count and dollars of the file."""
    lines = [ln.split() for ln in CDNOW.read_text().splitlines() if ln.strip()]
    data = [ln for ln in lines if ln[0] != "customer_id"]
    dollars = sum(Decimal(ln[3]) for ln in data)
    result = import_orders(store, [CDNOW], preset="cdnow")
    assert result.rows_read == len(data) == 69_659
    assert (result.stored, result.quarantined) == (69_659, 0)
    con = store.con.con
    n, customers, total = con.execute(
        "SELECT count(*), count(DISTINCT customer_id), sum(total) FROM orders"
    ).fetchone()
    assert (n, customers, total) == (69_659, 23_570, dollars)
    assert con.execute("SELECT sum(quantity) FROM order_items").fetchone()[0] == sum(
        int(ln[2]) for ln in data
    )
    again = import_orders(store, [CDNOW], preset="cdnow")
    assert (again.stored, again.already_present, again.quarantined) == (0, 69_659, 0)
    assert store.count("orders") == 69_659


HEADER = (
    "order_id,line,customer_id,email,ordered_at,currency,product_id,quantity,unit_price,total\n"
)
PLANTED = {
    # line: (row, reason, column)
    2: ("A1,1,C1,a@x.com,2024-01-05 10:00:00,USD,P1,2,5.00,10.00", None, None),
    3: ("A1,2,C1,a@x.com,2024-01-05 10:00:00,USD,P2,1,3.50,10.00", None, None),
    4: ("A2,1,C2,b@x.com,31/02/2024,USD,P1,1,5.00,5.00", "unreadable date", "ordered_at"),
    5: (
        "A3,1,C3,c@x.com,2024-01-06,USD,P1,-2,5.00,-10.00",
        "negative quantity outside a refund",
        "quantity",
    ),
    6: (",1,C4,d@x.com,2024-01-06,USD,P1,1,5.00,5.00", "missing key", "order_id"),
    7: ("A5,1,C5,e@x.com,2024-01-07,XYZ,P1,1,5.00,5.00", "unknown currency", "currency"),
    8: (
        "A1,1,C1,a@x.com,2024-01-05 10:00:00,USD,P9,7,5.00,10.00",
        "same key with different content",
        "order_id,line",
    ),
    9: ("A6,1,C6,f@x.com,2024-01-08,USD,P1,1", "wrong column count", None),
    10: ('A7,1,C7,"g@x.com",2024-01-09 00:00:00,USD,"P1",1,5.00,5.00', None, None),
    11: ("A1,2,C1,a@x.com,2024-01-05 10:00:00,USD,P2,1,3.50,10.00", None, None),  # repeat
    12: ("A8,1,C8,h@x.com,2024-01-09,EUR,P1,1,not-a-price,5.00", "unreadable number", "unit_price"),
}


def _planted(tmp_path: Path) -> Path:
    path = tmp_path / "planted.csv"
    path.write_text(HEADER + "\n".join(row for row, _, _ in PLANTED.values()) + "\n")
    return path


def test_planted_bad_rows_are_quarantined_with_line_and_reason(
    store: Store, tmp_path: Path
) -> None:
    path = _planted(tmp_path)
    result = import_orders(store, [path], max_quarantine=1.0)
    bad = {line: (reason, col) for line, (_, reason, col) in PLANTED.items() if reason}
    assert result.rows_read == len(PLANTED)
    assert result.quarantined == len(bad)
    assert result.already_present == 1  # line 11 repeats line 3
    assert result.stored == len(PLANTED) - len(bad) - 1
    assert result.by_reason == {reason: 1 for reason, _ in bad.values()}
    got = {line: (reason, col) for line, reason, col, _ in _quarantine(store)}
    assert got == bad
    assert store.count("order_items") == 3 and store.count("orders") == 2
    raw = store.con.con.execute("SELECT raw_value FROM quarantine WHERE line = 4").fetchone()
    assert raw == ("31/02/2024",)
    again = import_orders(store, [path], max_quarantine=1.0)
    assert (again.stored, again.already_present, again.quarantined) == (0, 4, len(bad))
    assert store.count("order_items") == 3 and store.count("orders") == 2


def test_line_numbers_survive_quoted_newlines_and_rejected_lines(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "multi.csv"
    path.write_text(
        "customer_id,email,first_name,created_at\n"  # 1
        'K1,a@x.com,"Ann\nMarie",2024-01-01\n'  # 2-3
        "K2,b@x.com\n"  # 4: wrong column count
        'K3,c@x.com,"Bo\n\nB",2024-01-01\n'  # 5-7
        "K4,d@x.com,Cy,never\n"  # 8
        "K5,e@x.com,Di,2024-01-02,extra\n"  # 9: wrong column count
        "K6,f@x.com,Ed,someday\n"  # 10
    )
    result = import_file(store, "customers", [path], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (6, 2, 4)
    got = [(line, reason) for line, reason, _, _ in _quarantine(store)]
    assert got == [
        (4, "wrong column count"),
        (8, "unreadable date"),
        (9, "wrong column count"),
        (10, "unreadable date"),
    ]
    names = store.table("customers").order_by("customer_id").first_name.to_pyarrow().to_pylist()
    assert names == ["Ann\nMarie", "Bo\n\nB"]


def test_shopify_export(store: Store) -> None:
    result = import_orders(store, [FIXTURES / "shopify_orders.csv"], preset="shopify")
    assert (result.rows_read, result.stored, result.quarantined) == (4, 4, 0)
    orders = store.table("orders").order_by("order_id").to_pyarrow().to_pylist()
    assert [o["order_id"] for o in orders] == ["#1001", "#1002", "#1003"]
    first = orders[0]
    assert first["total"] == Decimal("49.0000") and first["coupon"] == "SPRING5"
    assert str(first["ordered_at"]) == "2024-03-01 15:00:00"  # -0500 -> UTC
    assert orders[1]["currency"] == "EUR" and orders[1]["refunded"] == Decimal("30.0000")
    assert orders[1]["status"] == "refunded" and orders[1]["channel"] == "pos"
    assert {"Billing Name", "Notes", "Lineitem discount"} <= set(result.ignored_columns)
    items = store.table("order_items").order_by(["order_id", "line"]).to_pyarrow().to_pylist()
    assert [(i["order_id"], i["line"], i["sku"], i["quantity"]) for i in items] == [
        ("#1001", 1, "MUG-BL", 1),
        ("#1001", 2, "TEA-SMP", 2),
        ("#1002", 1, "TEA-GRN", 3),
        ("#1003", 1, "POT-1", 1),
    ]
    assert all(i["currency"] for i in items)


def test_online_retail_refunds_may_be_negative(store: Store) -> None:
    result = import_orders(
        store, [FIXTURES / "online_retail.csv"], preset="online_retail", max_quarantine=1.0
    )
    assert (result.rows_read, result.stored, result.quarantined) == (6, 5, 1)
    assert result.by_reason == {"negative quantity outside a refund": 1}
    assert result.ignored_columns == ("Country",)
    assert _quarantine(store)[0][:2] == (6, "negative quantity outside a refund")
    orders = {o["order_id"]: o for o in store.table("orders").to_pyarrow().to_pylist()}
    assert set(orders) == {"536365", "536366", "C536379", "536381"}
    assert orders["536365"]["total"] == Decimal("35.6400")  # 6*2.55 + 6*3.39
    assert orders["536365"]["currency"] == "GBP"
    assert orders["C536379"]["status"] == "refunded" and orders["536365"]["status"] is None
    # 6/15/2011 09:41 in London (BST) is 08:41 UTC; 12/1/2010 08:26 (GMT) stays.
    assert str(orders["536381"]["ordered_at"]) == "2011-06-15 08:41:00"
    assert str(orders["536365"]["ordered_at"]) == "2010-12-01 08:26:00"


def test_segment_events_jsonl(store: Store) -> None:
    result = import_events(store, [FIXTURES / "events.jsonl"], max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.already_present) == (9, 3, 1)
    assert result.by_reason == {
        "unreadable json": 2,
        "missing key": 1,
        "invalid event type": 1,
        "unreadable date": 1,
    }
    got = [(line, reason) for line, reason, _, _ in _quarantine(store)]
    assert got == [
        (4, "unreadable json"),  # a blank line
        (5, "unreadable json"),
        (6, "missing key"),
        (7, "invalid event type"),
        (8, "unreadable date"),
    ]
    events = {e["message_id"]: e for e in store.table("events").to_pyarrow().to_pylist()}
    assert events["m1"]["utm_source"] == "google" and events["m1"]["utm_campaign"] == "spring"
    assert events["m1"]["event"] == "Home"  # a page call's `name`
    assert events["m2"]["event"] == "Product Added"  # a track call's `event`
    assert '"product_id":"P1"' in events["m2"]["properties"].replace(" ", "")
    assert str(events["m3"]["timestamp"]) == "2024-03-01 09:02:00"


def test_spend_products_customers_with_canonical_headers(store: Store, tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text(
        "date,channel,campaign,cost,currency\n2024-01-01,paid_search,brand,120.50,USD\n"
        "2024-01-01, paid_social,spring ,  80 ,USD\n"  # surrounding spaces are trimmed
    )
    products = tmp_path / "products.csv"
    products.write_text(
        "product_id,title,category,price,unit_cost,currency\nP1,Mug,Kitchen,15,6,USD\n"
    )
    assert import_file(store, "spend", [spend]).stored == 2
    assert import_file(store, "products", [products]).stored == 1
    assert import_file(store, "spend", [spend]).already_present == 2
    total = store.con.con.execute("SELECT sum(cost) FROM marketing_spend").fetchone()[0]
    assert total == Decimal("200.5000")
    campaigns = store.table("marketing_spend").select("channel", "campaign").to_pyarrow()
    assert sorted(campaigns.to_pylist(), key=str) == [
        {"channel": "paid_search", "campaign": "brand"},
        {"channel": "paid_social", "campaign": "spring"},
    ]


def test_parquet_input(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": ["P1", "P2", "P3"],
                "ordered_at": ["2024-01-01", "x", "2024-01-02"],
                "currency": ["USD"] * 3,
                "total": [Decimal("1.50"), Decimal("2"), Decimal("3")],
            }
        ),
        path,
    )
    result = import_orders(store, [path], max_quarantine=1.0)
    assert (result.stored, result.quarantined) == (2, 1)
    assert _quarantine(store)[0][:2] == (2, "unreadable date")  # Parquet: row number


def test_yaml_mapping(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("Ref;Who;When;Amount\nX1;k1;05/01/2024 13:00;12,50\n".replace(",", "."))
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        "entity: orders\ndelimiter: ';'\ncolumns:\n  Ref: order_id\n  Who: customer_id\n"
        "  When: ordered_at\n  Amount: total\ndate_format: '%d/%m/%Y %H:%M'\n"
        "timezone: Europe/Paris\ncurrency: EUR\n"
    )
    result = import_orders(store, [path], mapping=mapping)
    assert result.stored == 1
    row = store.table("orders").to_pyarrow().to_pylist()[0]
    assert str(row["ordered_at"]) == "2024-01-05 12:00:00"
    assert row["currency"] == "EUR" and row["total"] == Decimal("12.5000")


def test_mapping_naming_a_missing_column(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("id,when\n1,2024-01-01\n")
    with pytest.raises(MappingError, match="'Ref'") as info:
        import_orders(store, [path], mapping={"columns": {"Ref": "order_id"}})
    assert "'id'" in str(info.value.hint) and "o.csv" in str(info.value)


def test_unknown_preset_and_missing_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="Unknown preset 'woo'") as info:
        import_orders(store, [tmp_path / "x.csv"], preset="woo")
    assert "cdnow" in str(info.value.hint)
    with pytest.raises(IngestError, match="does not exist"):
        import_orders(store, [tmp_path / "missing.csv"])


def test_import_is_logged(store: Store, tmp_path: Path) -> None:
    path = _planted(tmp_path)
    result = import_orders(store, [path], max_quarantine=1.0)
    log = store.table("imports").to_pyarrow().to_pylist()
    assert len(log) == 1
    assert log[0]["import_id"] == result.import_id
    assert (log[0]["rows_read"], log[0]["stored"], log[0]["quarantined"]) == (
        result.rows_read,
        result.stored,
        result.quarantined,
    )
    assert result.over_threshold is False and result.threshold_error() is None
    again = import_orders(store, [path])
    assert again.over_threshold is True
    error = again.threshold_error()
    assert error is not None and error.exit_code == 3
    assert error.message == (
        f"{again.quarantined_share:.2%} of the rows were quarantined, more than the 1.00% "
        "allowed. The good rows were stored."
    )
    listing = f"See them with `tenure quarantine list --import {again.import_id}`"
    assert error.hint is not None and error.hint.startswith(listing)


def test_threshold_error_points_to_update_for_changed_rows() -> None:
    """Rows quarantined for holding a stored key with other content: the hint says --update
    (unless the import ran with it)."""
    from tenure.ingest.pipeline import CONFLICT
    from tenure.ingest.result import ImportResult

    result = ImportResult(
        import_id="i",
        entity="orders",
        files=("o.csv",),
        preset=None,
        rows_read=10,
        stored=5,
        updated=0,
        already_present=0,
        quarantined=5,
        suppressed=0,
        threshold=0.01,
        by_reason={CONFLICT: 4, "unreadable date": 1},
    )
    error = result.threshold_error()
    assert error is not None and error.message.startswith("50.00% of the rows were quarantined")
    assert error.hint is not None and error.hint.endswith(
        " 4 of them: a stored key with other content ('same key with different content'); "
        "if they are newer versions (a later export), import again with --update to apply them."
    )
    updated = result.threshold_error(update=True)
    assert updated is not None and updated.hint is not None and "--update" not in updated.hint


def test_typed_parquet_columns(store: Store, tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": ["T1", "T2"],
                "line": pa.array([1, 1], pa.int64()),
                "ordered_at": pa.array([dt.datetime(2024, 5, 1, 12), None], pa.timestamp("us")),
                "currency": ["EUR", "EUR"],
                "quantity": pa.array([3, -1], pa.int32()),
                "unit_price": pa.array([Decimal("2.50"), Decimal("1.00")], pa.decimal128(10, 2)),
            }
        ),
        path,
    )
    result = import_orders(store, [path], max_quarantine=1.0, mapping={"timezone": "Europe/Paris"})
    assert (result.stored, result.quarantined) == (1, 1)
    assert _quarantine(store)[0][:2] == (2, "missing value")
    order = store.table("orders").to_pyarrow().to_pylist()[0]
    assert str(order["ordered_at"]) == "2024-05-01 10:00:00"  # Paris summer time -> UTC
    assert order["total"] == Decimal("7.5000")


def test_import_file_has_the_documented_signature(store: Store, tmp_path: Path) -> None:
    """The CLI codes against this signature: keep it."""
    import inspect

    names = list(inspect.signature(import_file).parameters)
    assert names == [
        "store",
        "entity",
        "paths",
        "preset",
        "mapping",
        "max_quarantine",
        "progress",
        "update",
        "delimiter",
        "encoding",
        "source",
    ]
    path = tmp_path / "spend.csv"
    path.write_text("date,channel,campaign,cost,currency\n2024-01-01,email,news,3,USD\n")
    seen: list[tuple[str, int, int | None]] = []
    result = import_file(
        store=store, entity="spend", paths=[path], progress=lambda *a: seen.append(a)
    )
    assert result.tables == {"marketing_spend": 1} and result.to_dict()["stored"] == 1
    assert seen[-1] == ("Import spend.csv: quarantine and flags", 4, 4)


def _canonical_csvs(tmp_path: Path) -> dict[str, Path]:
    files = {
        "customers": "customer_id,email,created_at,accepts_marketing,traits\n"
        'K1,a@x.com,2024-01-01,yes,"{""plan"":""pro""}"\nK2,b@x.com,2024-01-02,no,\n',
        "products": "product_id,title,price,unit_cost,margin,currency\nP1,Mug,15,6,,USD\n"
        "P2,Pot,30,,0.4,EUR\n",
        "spend": "date,channel,campaign,cost,currency\n2024-01-01,email,news,3,USD\n",
    }
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / f"{name}.csv"
        out[name].write_text(text)
    return out


@pytest.mark.parametrize(
    ("entity", "file", "preset"),
    [
        ("orders", "shopify_orders.csv", "shopify"),
        ("orders", "online_retail.csv", "online_retail"),
        ("events", "events.jsonl", None),
        ("customers", None, None),
        ("products", None, None),
        ("spend", None, None),
    ],
)
def test_a_second_import_of_any_file_stores_nothing(
    store: Store, tmp_path: Path, entity: str, file: str | None, preset: str | None
) -> None:
    path = FIXTURES / file if file else _canonical_csvs(tmp_path)[entity]
    first = import_file(store, entity, [path], preset=preset, max_quarantine=1.0)
    counts = store.counts()
    again = import_file(store, entity, [path], preset=preset, max_quarantine=1.0)
    assert first.stored > 0 and again.stored == 0
    assert again.already_present == first.stored + first.already_present
    assert again.quarantined == first.quarantined
    # the bookkeeping the second import writes: its own record, its quarantined rows, and
    # the data-version log of the tables it wrote (tenure.store.stamps)
    kept = ("imports", "quarantine", "data_versions")
    assert {k: v for k, v in store.counts().items() if k not in kept} == {
        k: v for k, v in counts.items() if k not in kept
    }
    assert store.count("quarantine") == 2 * first.quarantined


ISO_TIMES = {
    # text: UTC as stored, with naive times read in Europe/Paris (None: unreadable date)
    "2024-01-01 10:00:00": "2024-01-01 09:00:00",
    "2024-07-01T10:00:00": "2024-07-01 08:00:00",  # summer time
    "2024-01-01T10:00": "2024-01-01 09:00:00",
    "2024-01-01T10:00:00.5": "2024-01-01 09:00:00.500000",
    "2024-01-01": "2023-12-31 23:00:00",
    "2024-01-01T10:00:00Z": "2024-01-01 10:00:00",
    "2024-01-01T10:00Z": "2024-01-01 10:00:00",
    "2024-01-01T10:00:00z": "2024-01-01 10:00:00",
    "2024-01-01T10:00:00 GMT": "2024-01-01 10:00:00",
    "2024-01-01T10:00:00-05": "2024-01-01 15:00:00",
    "2024-01-01T10:00-05": "2024-01-01 15:00:00",
    "2024-01-01T10:00+01:00": "2024-01-01 09:00:00",
    "2024-01-01T10:00:00.123+0100": "2024-01-01 09:00:00.123000",
    "2024-01-01 10:00:00 -0500": "2024-01-01 15:00:00",
    "2024-02-30T10:00:00Z": None,
    "2024-02-30 10:00:00 +0100": None,
    "yesterday": None,
}


def test_iso_8601_variants_without_a_date_format(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    rows = "".join(f"K{i},{text}\n" for i, text in enumerate(ISO_TIMES))
    path.write_text("customer_id,created_at\n" + rows)
    result = import_file(
        store, "customers", [path], mapping={"timezone": "Europe/Paris"}, max_quarantine=1.0
    )
    assert result.by_reason == {"unreadable date": 3}
    stored = {
        r["customer_id"]: r["created_at"] for r in store.table("customers").to_pyarrow().to_pylist()
    }
    got = {text: stored.get(f"K{i}") for i, text in enumerate(ISO_TIMES)}
    assert {k: (str(v) if v else None) for k, v in got.items()} == ISO_TIMES


def test_negative_quantity_is_allowed_in_a_refund_only(store: Store, tmp_path: Path) -> None:
    """A refund is a `status` of refunded/refund (any case) or a true `is_refund` column."""
    path = tmp_path / "returns.csv"
    path.write_text(
        "order_id,ordered_at,currency,product_id,quantity,unit_price,status,is_refund\n"
        "R1,2024-01-01,USD,P1,-1,5,Refunded,\n"  # 2
        "R2,2024-01-01,USD,P1,-1,5,refund,false\n"  # 3
        "R3,2024-01-01,USD,P1,-2,5,,true\n"  # 4
        "R4,2024-01-01,USD,P1,-1,5,paid,false\n"  # 5: quarantined
        "R5,2024-01-01,USD,P1,-1,5,,\n"  # 6: quarantined
        "R6,2024-01-01,USD,P1,1,5,paid,maybe\n"  # 7: not a boolean
    )
    result = import_orders(store, [path], max_quarantine=1.0)
    assert (result.stored, result.quarantined) == (3, 3)
    assert [(line, reason) for line, reason, _, _ in _quarantine(store)] == [
        (5, "negative quantity outside a refund"),
        (6, "negative quantity outside a refund"),
        (7, "unreadable value"),
    ]
    totals = store.table("orders").order_by("order_id").total.to_pyarrow().to_pylist()
    assert totals == [Decimal("-5.0000"), Decimal("-5.0000"), Decimal("-10.0000")]

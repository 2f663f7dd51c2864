"""Issue 11's import checks: dates out of bounds, impossible amounts, export layouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenure import Store, load_settings
from tenure.ingest import flagged_counts, import_file, import_orders


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _quarantined(store: Store) -> list[tuple[str, int, str, str, str]]:
    rows = store.con.con.execute(
        'SELECT entity, line, reason, "column", raw_value FROM quarantine ORDER BY entity, line'
    ).fetchall()
    return [(e, int(n), r, c, v) for e, n, r, c, v in rows]


def test_dates_in_the_future_or_before_the_floor_are_quarantined(
    store: Store, tmp_path: Path
) -> None:
    """Issue 11, item 2: 2099-01-05 and 1900-01-01 are quarantined with their own reasons, in
    every entity's date; a date a few hours ahead (clock skew) is accepted."""
    now = datetime.now(UTC).replace(tzinfo=None)
    skew = (now + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")
    late = (now + timedelta(hours=30)).strftime("%Y-%m-%d %H:%M:%S")
    orders = _write(
        tmp_path,
        "orders.csv",
        "order_id,ordered_at,currency,total\n"
        "A1,2024-01-05,USD,10\n"
        "A2,2099-01-05,USD,10\n"
        "A3,1900-01-01,USD,10\n"
        f"A4,{skew},USD,10\n"
        f"A5,{late},USD,10\n"
        "A6,1990-01-01,USD,10\n",
    )
    result = import_orders(store, [orders], max_quarantine=1.0)
    assert (result.stored, result.quarantined) == (3, 3)
    assert result.by_reason == {"date in the future": 2, "date before the floor": 1}
    customers = _write(
        tmp_path, "c.csv", "customer_id,created_at\nK1,2024-01-01\nK2,2099-01-01 10:00\n"
    )
    assert import_file(store, "customers", [customers], max_quarantine=1.0).quarantined == 1
    events = _write(
        tmp_path,
        "e.jsonl",
        '{"messageId": "m1", "type": "track", "event": "x", "timestamp": "1900-01-01T00:00:00Z"}\n'
        '{"messageId": "m2", "type": "track", "event": "x", "timestamp": "2024-01-01T00:00:00Z"}\n',
    )
    assert import_file(store, "events", [events], max_quarantine=1.0).stored == 1
    spend = _write(
        tmp_path,
        "s.csv",
        "date,channel,campaign,cost,currency\n2024-01-01,a,b,5,USD\n2099-01-01,a,b,5,USD\n",
    )
    assert import_file(store, "spend", [spend], max_quarantine=1.0).stored == 1
    assert _quarantined(store) == [
        ("customers", 3, "date in the future", "created_at", "2099-01-01 10:00"),
        ("events", 1, "date before the floor", "timestamp", "1900-01-01T00:00:00Z"),
        ("orders", 3, "date in the future", "ordered_at", "2099-01-05"),
        ("orders", 4, "date before the floor", "ordered_at", "1900-01-01"),
        ("orders", 6, "date in the future", "ordered_at", late),
        ("spend", 3, "date in the future", "date", "2099-01-01"),
    ]


def test_date_bounds_follow_the_settings(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 's.duckdb'}"
    settings = load_settings(store_url=url, earliest_date="2000-01-01", future_tolerance_hours=48)
    late = (datetime.now(UTC) + timedelta(hours=30)).strftime("%Y-%m-%d %H:%M:%S")
    path = _write(
        tmp_path,
        "o.csv",
        f"order_id,ordered_at,currency,total\nA1,1997-01-01,USD,1\nA2,{late},USD,1\n",
    )
    with Store(url, settings=settings) as store:
        result = import_orders(store, [path], max_quarantine=1.0)
    assert result.by_reason == {"date before the floor": 1}
    assert result.stored == 1


FIXTURES = Path(__file__).parent / "fixtures"
CDNOW_SAMPLE = Path(__file__).parents[1] / "fixtures" / "cdnow" / "CDNOW_sample.txt"


def _spreadsheet_copy(tmp_path: Path) -> Path:
    """The online_retail fixture as a spreadsheet tool saves it: ISO dates, float ids."""
    lines = (FIXTURES / "online_retail.csv").read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        month, day, rest = cells[4].split("/")
        year, clock = rest.split()
        hour, minute = clock.split(":")
        cells[4] = f"{year}-{int(month):02}-{int(day):02} {int(hour):02}:{minute}:00"
        cells[6] += ".0"
        out.append(",".join(cells))
    return _write(tmp_path, "online_retail_iso.csv", "\n".join(out) + "\n")


def test_preset_detects_each_files_date_layout_and_float_ids(store: Store, tmp_path: Path) -> None:
    """Issue 11, item 8: a spreadsheet-saved online_retail export (ISO dates, `17850.0`)
    imports like the original, in the same store, with the same orders and customers."""
    iso = _spreadsheet_copy(tmp_path)
    assert "2010-12-01 08:26:00" in iso.read_text() and ",17850.0," in iso.read_text()
    result = import_orders(store, [iso], preset="online_retail", max_quarantine=1.0)
    assert (result.rows_read, result.stored, result.quarantined) == (6, 5, 1)
    assert result.by_reason == {"negative quantity outside a refund": 1}
    original = import_orders(
        store, [FIXTURES / "online_retail.csv"], preset="online_retail", max_quarantine=1.0
    )
    assert (original.stored, original.already_present, original.quarantined) == (0, 5, 1)
    orders = {o["order_id"]: o for o in store.table("orders").to_pyarrow().to_pylist()}
    assert orders["536365"]["customer_id"] == "17850"
    assert str(orders["536381"]["ordered_at"]) == "2011-06-15 08:41:00"


def test_whole_number_ids_written_as_floats_are_normalised(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    customers = _write(
        tmp_path,
        "c.csv",
        "customer_id,email\n17850.0,a@x.com\n 14527.00 ,b@x.com\n12.5,c@x.com\nX1.0,d@x.com\n",
    )
    import_file(store, "customers", [customers])
    ids = sorted(store.table("customers").customer_id.to_pyarrow().to_pylist())
    assert ids == ["12.5", "14527", "17850", "X1.0"]
    events = _write(
        tmp_path,
        "e.jsonl",
        '{"messageId": 7.0, "type": "identify", "userId": "42.0", '
        '"anonymousId": "a1", "timestamp": "2024-01-01T00:00:00Z"}\n',
    )
    import_file(store, "events", [events])
    event = store.table("events").to_pyarrow().to_pylist()[0]
    assert (event["message_id"], event["user_id"]) == ("7", "42")
    parquet = tmp_path / "o.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": [536365.0],
                "customer_id": [17850.0],
                "ordered_at": ["2024-01-01"],
                "currency": ["GBP"],
                "total": [3.5],
            }
        ),
        parquet,
    )
    import_orders(store, [parquet])
    order = store.table("orders").to_pyarrow().to_pylist()[0]
    assert (order["order_id"], order["customer_id"]) == ("536365", "17850")


def test_negative_totals_outside_refunds_are_quarantined(store: Store, tmp_path: Path) -> None:
    """Issue 11, item 4: a total of -50 without a refund status is quarantined with its own
    reason; the same total on a refund is stored."""
    path = _write(
        tmp_path,
        "o.csv",
        "order_id,ordered_at,currency,total,status\n"
        "A1,2024-01-01,USD,-50,\n"
        "A2,2024-01-01,USD,-50,refunded\n"
        "A3,2024-01-01,USD,50,paid\n"
        "A4,2024-01-01,USD,-0.01,paid\n",
    )
    result = import_orders(store, [path], max_quarantine=1.0)
    assert (result.stored, result.quarantined) == (2, 2)
    assert result.by_reason == {"negative amount outside a refund": 2}
    assert [q[1:4] for q in _quarantined(store)] == [
        (2, "negative amount outside a refund", "total"),
        (5, "negative amount outside a refund", "total"),
    ]
    lines = _write(
        tmp_path,
        "l.csv",
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "A563186,B,Adjust bad debt,1,8/12/2011 14:51,-11062.06,,United Kingdom\n"
        "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527,United Kingdom\n",
    )
    again = import_orders(store, [lines], preset="online_retail", max_quarantine=1.0)
    assert (again.stored, again.by_reason) == (1, {"negative amount outside a refund": 1})


def _flags(store: Store) -> list[tuple[str, int, str, str, str]]:
    rows = store.con.con.execute(
        'SELECT entity, line, record_key, "column", value FROM flagged_values ORDER BY line'
    ).fetchall()
    return [(e, int(n), k, c, v) for e, n, k, c, v in rows]


def test_implausible_amounts_are_stored_and_flagged(store: Store, tmp_path: Path) -> None:
    """Issue 11, item 4: 99,999,999,999,999.99 in a small store (under 1,000 amounts) is
    beyond the fixed `amount_flag_limit`: stored, and recorded in `flagged_values`."""
    path = _write(
        tmp_path,
        "o.csv",
        "order_id,ordered_at,currency,total\n"
        "A1,2024-01-01,USD,10\n"
        "A2,2024-01-01,USD,99999999999999.99\n"
        "A3,2024-01-01,USD,999999\n",
    )
    result = import_orders(store, [path])
    assert (result.rows_read, result.stored, result.flagged, result.quarantined) == (3, 3, 1, 0)
    assert result.to_dict()["flagged"] == 1
    assert _flags(store) == [
        ("orders", 3, '{"order_id":"A2"}', "total", "99999999999999.9900"),
    ]
    reason = store.con.con.execute("SELECT reason FROM flagged_values").fetchone()
    assert reason == ("above the fixed bound 1000000 (amount_flag_limit): under 1,000 amounts",)
    assert flagged_counts(store) == {("orders", "total"): 1}
    again = import_orders(store, [path])  # already present: not flagged twice
    assert (again.already_present, again.flagged) == (3, 0)
    assert flagged_counts(store) == {("orders", "total"): 1}


def test_amounts_far_beyond_the_stores_distribution_are_flagged(
    store: Store, tmp_path: Path
) -> None:
    """With 1,000+ amounts, the bound is `amount_flag_factor` (10) x their 99th percentile:
    the 1,202 totals (1..1,200 stored, 2 incoming) have p99 1,190 (the 1,190th), so the
    bound is 11,900; unit prices are compared with unit prices, line by line."""
    rows = "".join(f"A{i},2024-01-01,USD,{i}\n" for i in range(1, 1201))
    first = _write(tmp_path, "a.csv", "order_id,ordered_at,currency,total\n" + rows)
    assert import_orders(store, [first]).flagged == 0
    more = _write(
        tmp_path,
        "b.csv",
        "order_id,ordered_at,currency,total\n"
        "B1,2024-01-02,USD,11000\n"
        "B2,2024-01-02,USD,12000\n"
        "B3,2024-01-02,USD,-900000\n",
    )
    result = import_orders(store, [more], max_quarantine=1.0)
    assert (result.stored, result.flagged, result.quarantined) == (2, 1, 1)
    assert [f[2:4] for f in _flags(store)] == [('{"order_id":"B2"}', "total")]
    reason = store.con.con.execute("SELECT reason FROM flagged_values").fetchone()
    assert reason == ("above 10 x the 99th percentile of the store's totals (1190.0000)",)
    lines = _write(
        tmp_path,
        "l.csv",
        "order_id,ordered_at,currency,product_id,quantity,unit_price\n"
        "L1,2024-01-03,USD,P1,1,5\nL1,2024-01-03,USD,P2,1,2000000\n",
    )
    lined = import_orders(store, [lines])
    assert (lined.stored, lined.flagged) == (2, 1)
    assert _flags(store)[-1][2:4] == ('{"order_id":"L1","line":2}', "unit_price")
    assert flagged_counts(store) == {("orders", "total"): 1, ("orders", "unit_price"): 1}


def test_an_order_total_on_every_line_is_flagged_once(store: Store, tmp_path: Path) -> None:
    """In an order file with lines and a `total`, the order (built from its first line) is
    flagged once, on that line."""
    path = _write(
        tmp_path,
        "lines.csv",
        "order_id,line,ordered_at,currency,product_id,quantity,unit_price,total\n"
        "T1,1,2024-01-01,USD,P1,1,5,50000000000000\n"
        "T1,2,2024-01-01,USD,P2,1,5,50000000000000\n"
        "T2,1,2024-01-01,USD,P1,1,5,5\n",
    )
    result = import_orders(store, [path])
    assert (result.stored, result.flagged) == (3, 1)
    assert _flags(store) == [
        ("orders", 2, '{"order_id":"T1"}', "total", "50000000000000.0000"),
    ]

"""The same import on a DuckDB store and on PySpark local mode gives the same counts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tenure import Store
from tenure.ingest import import_orders

pytest.importorskip("pyspark")

ROWS = (
    "order_id,line,customer_id,ordered_at,currency,product_id,quantity,unit_price\n"
    "S1,1,C1,2024-01-01 10:00:00,USD,P1,2,5.00\n"
    "S1,2,C1,2024-01-01 10:00:00,USD,P2,1,2.25\n"
    "S2,1,C2,2024-01-02,USD,P1,1,5.00\n"
    "S3,1,C3,not a date,USD,P1,1,5.00\n"
    "S4,1,C4,2024-01-03,USD\n"
)


def _run(store: Store, path: Path) -> list[tuple[int, int, int]]:
    out = []
    for _ in range(2):
        r = import_orders(store, [path], max_quarantine=1.0)
        out.append((r.stored, r.already_present, r.quarantined))
    return out


@pytest.mark.spark
def test_import_on_pyspark_matches_duckdb(spark_store: Store, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ROWS)
    expected = [(3, 0, 2), (0, 3, 2)]
    assert _run(store, path) == expected
    assert _run(spark_store, path) == expected
    for st in (store, spark_store):
        # the Spark session's catalog is shared with other test modules: look at our rows
        orders = st.table("orders")
        ours = orders.filter(orders.order_id.isin(["S1", "S2", "S3"])).order_by("order_id")
        assert ours.total.to_pyarrow().to_pylist() == [Decimal("12.2500"), Decimal("5.0000")]
        items = st.table("order_items")
        assert items.filter(items.order_id.isin(["S1", "S2", "S3"])).count().execute() == 3
        q = st.table("quarantine")
        ours_q = q.filter(q.file == str(path)).order_by(["import_id", "line"])
        got = ours_q.select("line", "reason").to_pyarrow().to_pylist()
        assert sorted((r["line"], r["reason"]) for r in got) == [
            (5, "unreadable date"),
            (5, "unreadable date"),
            (6, "wrong column count"),
            (6, "wrong column count"),
        ]


UPDATE_FIRST = (
    "order_id,line,email,ordered_at,currency,product_id,quantity,unit_price,status\n"
    "U1,1,upd-ann@example.com,2024-01-01,USD,P1,1,5.00,paid\n"
    "U1,2,,2024-01-01,USD,P2,2,1.00,paid\n"
    "U2,1,upd-bob@example.com,2024-01-02,USD,P1,1,5.00,paid\n"
)
UPDATE_LATER = (
    "order_id,line,email,ordered_at,currency,product_id,quantity,unit_price,status\n"
    "U1,1,upd-ann@example.com,2024-01-01,USD,P1,1,5.00,refunded\n"
    "U1,2,,2024-01-01,USD,P2,3,1.00,refunded\n"
    "U2,1,upd-bob@example.com,2024-01-02,USD,P1,1,5.00,paid\n"
)


@pytest.mark.slow
@pytest.mark.spark
def test_update_on_pyspark_matches_duckdb(spark_store: Store, store: Store, tmp_path: Path) -> None:
    """--update on Spark (the table rewritten) gives DuckDB's counts, rows and history; a
    privacy deletion then removes the person's previous versions (regex on the JSON)."""
    from tenure.identity import resolve_identities
    from tenure.identity.privacy import delete_person

    first, later = tmp_path / "first.csv", tmp_path / "later.csv"
    first.write_text(UPDATE_FIRST)
    later.write_text(UPDATE_LATER)
    for st in (store, spark_store):
        import_orders(st, [first])
        r = import_orders(st, [later], update=True)
        assert (r.stored, r.updated, r.already_present, r.quarantined) == (0, 2, 1, 0)
        assert r.tables == {"order_items": 1, "orders": 1, "row_history": 2}
        orders = st.table("orders")
        ours = orders.filter(orders.order_id.isin(["U1", "U2"])).order_by("order_id")
        got = [(o["status"], o["total"]) for o in ours.to_pyarrow().to_pylist()]
        assert got == [("refunded", Decimal("8.0000")), ("paid", Decimal("5.0000"))]
        items = st.table("order_items")
        mine = items.filter(items.order_id == "U1").order_by("line").quantity.to_pyarrow()
        assert mine.to_pylist() == [1, 3]
        h = st.table("row_history")
        keys = h.filter(h.record_key.contains('"U1"')).order_by("entity").record_key
        assert keys.to_pyarrow().to_pylist() == [
            '{"order_id":"U1","line":2}',
            '{"order_id":"U1"}',
        ]
        again = import_orders(st, [later], update=True)
        assert (again.updated, again.already_present) == (0, 3)
        resolve_identities(st)
        deleted = delete_person(st, "upd-ann@example.com")["rows_deleted"]
        assert deleted["row_history"] == 2
        assert h.filter(h.record_key.contains('"U1"')).count().execute() == 0
    assert not [t for t in spark_store.con.list_tables() if t.startswith("_tenure_update")]


@pytest.mark.spark
def test_flagged_amounts_on_pyspark_match_duckdb(
    spark_store: Store, store: Store, tmp_path: Path
) -> None:
    """Issue 11, item 4 on another backend: the stored values' percentile is computed in the
    engine, the flagged row uploaded to `flagged_values`."""
    path = tmp_path / "big.csv"
    path.write_text(
        "order_id,ordered_at,currency,total\n"
        "FL1,2024-01-01,USD,10\n"
        "FL2,2024-01-01,USD,99999999999999.99\n"
    )
    for st in (store, spark_store):
        result = import_orders(st, [path])
        assert (result.stored, result.flagged) == (2, 1)
        flags = st.table("flagged_values")
        ours = flags.filter(flags.import_id == result.import_id)
        assert ours.select("line", "record_key", "column", "value").to_pyarrow().to_pylist() == [
            {
                "line": 3,
                "record_key": '{"order_id":"FL2"}',
                "column": "total",
                "value": "99999999999999.9900",
            }
        ]
    # with 1,000+ amounts, the bound follows the stored distribution (computed in the engine)
    many = tmp_path / "many.csv"
    many.write_text(
        "order_id,ordered_at,currency,total\n"
        + "".join(f"SP{i},2024-01-01,USD,{i}\n" for i in range(1, 1201))
    )
    big = tmp_path / "big2.csv"
    big.write_text(
        "order_id,ordered_at,currency,total\nSPB1,2024-01-02,USD,11000\nSPB2,2024-01-02,USD,12000\n"
    )
    for st in (store, spark_store):
        assert import_orders(st, [many]).flagged == 0
        result = import_orders(st, [big])
        assert (result.stored, result.flagged) == (2, 1)
        flags = st.table("flagged_values")
        ours = flags.filter(flags.import_id == result.import_id)
        assert ours.record_key.to_pyarrow().to_pylist() == ['{"order_id":"SPB2"}']


@pytest.mark.spark
def test_quarantine_list_and_retry_on_pyspark(spark_store: Store, tmp_path: Path) -> None:
    """The quarantine commands' library on Spark: the rows of one import, and a retry that
    stores the fixed ones and keeps the others (the shared catalog: one import's rows)."""
    from tenure.ingest import Selection, quarantined_rows, retry_quarantined

    path = tmp_path / "retry.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,currency,total\n"
        "Q1,C1,01/03/2024,USD,1\nQ2,C2,02/03/2024,ZZZ,2\n"
    )
    first = import_orders(spark_store, [path], max_quarantine=1.0)
    assert first.by_reason == {"unreadable date": 2}
    mine = Selection(import_id=first.import_id)
    assert list(quarantined_rows(spark_store, mine)["line"]) == [2, 3]
    fixed = {"entity": "orders", "date_format": "%d/%m/%Y"}
    result = retry_quarantined(spark_store, mine, mapping=fixed)
    assert (result.retried, result.imported, result.still_quarantined) == (2, 1, 1)
    left = quarantined_rows(spark_store, mine)
    assert left[["line", "reason"]].to_dict("records") == [
        {"line": 3, "reason": "unknown currency"}
    ]
    orders = spark_store.table("orders")
    assert orders.filter(orders.order_id == "Q1").count().execute() == 1

"""Products' `active` and `inventory` (migration 10): imported as a boolean and a count, a bad
value quarantined, an empty one unknown (null)."""

from __future__ import annotations

from pathlib import Path

from tenure import Store
from tenure.ingest import import_file


def test_active_and_inventory_are_read_and_checked(store: Store, tmp_path: Path) -> None:
    products = tmp_path / "products.csv"
    products.write_text(
        "product_id,title,currency,active,inventory\n"
        "P1,Mug,USD,true,12\n"
        "P2,Kettle,USD,no,0\n"
        "P3,Tin,USD,,\n"  # unknown: null, not false or 0
        "P4,Tray,USD,maybe,3\n"  # line 5: unreadable value
        "P5,Cup,USD,1,lots\n"  # line 6: unreadable number
    )
    result = import_file(store, "products", [products])
    assert (result.stored, result.quarantined) == (3, 2)
    rows = store.table("products").order_by("product_id").to_pyarrow().to_pylist()
    assert [(r["product_id"], r["active"], r["inventory"]) for r in rows] == [
        ("P1", True, 12),
        ("P2", False, 0),
        ("P3", None, None),
    ]
    bad = store.table("quarantine").order_by("line").to_pyarrow().to_pylist()
    assert [(b["line"], b["column"], b["raw_value"], b["reason"]) for b in bad] == [
        (5, "active", "maybe", "unreadable value"),
        (6, "inventory", "lots", "unreadable number"),
    ]

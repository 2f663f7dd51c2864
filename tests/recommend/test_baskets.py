"""Purchase lines and cart sessions: which orders and lines make the baskets, and what the
warnings say when there is nothing to pair."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from tenure import Store
from tenure.errors import ConfigError, NotFoundError
from tenure.recommend.baskets import (
    LINE_COLUMNS,
    basket_summary,
    basket_warnings,
    baskets_table,
    cart_lines,
    purchase_lines,
    unplaced_lines,
)
from tenure.recommend.rules import association_rules, complete_basket, product_pairs

JAN = datetime(2024, 1, 1, 12)


def add_orders(store: Store, orders: list[tuple], items: list[tuple]) -> None:
    """orders: (order_id, customer_id, email, day offset, total, refunded, status);
    items: (order_id, line, product_id, sku)."""
    store.insert(
        "orders",
        pa.Table.from_pylist(
            [
                {
                    "order_id": o,
                    "customer_id": c,
                    "email": e,
                    "ordered_at": JAN + timedelta(days=d),
                    "currency": "USD",
                    "total": Decimal(t),
                    "refunded": Decimal(r),
                    "status": s,
                }
                for o, c, e, d, t, r, s in orders
            ]
        ),
    )
    store.insert(
        "order_items",
        pa.Table.from_pylist(
            [
                {"order_id": o, "line": n, "product_id": p, "sku": k, "quantity": 1}
                for o, n, p, k in items
            ]
        ),
    )


@pytest.fixture
def shop(store: Store) -> Store:
    store.insert(
        "products",
        pa.Table.from_pylist(
            [{"product_id": f"P{i}", "sku": f"S{i}", "title": f"Product {i}"} for i in range(1, 6)]
        ),
    )
    add_orders(
        store,
        [
            ("O1", "C1", None, 0, "30", "0", "paid"),
            ("O2", "C2", None, 1, "20", "0", "paid"),
            ("O3", "C1", None, 2, "20", "0", "cancelled"),
            ("O4", "C3", None, 3, "10", "10", "paid"),  # refunded in full: not a purchase
            ("O5", "C2", None, 31, "15", "0", "paid"),
            ("O6", None, " A@x.com", 4, "5", "0", None),  # a guest order
        ],
        [
            ("O1", 1, "P1", "S1"),
            ("O1", 2, "P2", None),
            ("O1", 3, "P2", None),  # the same product twice: one basket row
            ("O1", 4, None, "S3"),  # sku of the catalogue: its product
            ("O2", 1, "P1", None),
            ("O2", 2, " P2 ", None),
            ("O3", 1, "P1", None),
            ("O3", 2, "P4", None),
            ("O4", 1, "P1", None),
            ("O4", 2, "P5", None),
            ("O5", 1, "P1", None),
            ("O5", 2, "", "S9"),  # a sku the catalogue does not know: the sku itself
            ("O5", 3, " ", None),  # neither: in no basket, counted
            ("O6", 1, "P2", None),
        ],
    )
    return store


def rows(store: Store, **kw: object) -> list[tuple]:
    frame = purchase_lines(store, **kw).to_pandas()  # type: ignore[arg-type]
    assert list(frame.columns) == list(LINE_COLUMNS)
    return sorted((r.order_id, r.product_id, r.person_id) for r in frame.itertuples())


def test_purchase_lines(shop: Store) -> None:
    """Purchases only, one row per (order, product), the sku's product, the guest's
    e-mail as the person."""
    assert rows(shop) == [
        ("O1", "P1", "C1"),
        ("O1", "P2", "C1"),
        ("O1", "P3", "C1"),
        ("O2", "P1", "C2"),
        ("O2", "P2", "C2"),
        ("O5", "P1", "C2"),
        ("O5", "S9", "C2"),
        ("O6", "P2", "a@x.com"),
    ]
    assert [r[0] for r in rows(shop, as_of=date(2024, 1, 31))] == ["O1"] * 3 + ["O2"] * 2 + ["O6"]
    times = purchase_lines(shop).to_pandas().groupby("order_id").ordered_at.first()
    assert times["O5"] == JAN + timedelta(days=31)


def test_unplaced_lines_are_counted_and_reported(shop: Store) -> None:
    assert unplaced_lines(shop) == (1, ["O5"])
    assert unplaced_lines(shop, date(2024, 1, 31)) == (0, [])
    assert basket_warnings(shop) == [
        "1 order line(s) of purchase orders have neither a product_id nor a sku, so they are "
        "in no basket (orders O5). Fill their product_id or sku in order_items and import "
        "them again."
    ]
    summary = basket_summary(purchase_lines(shop))
    assert (summary.lines, summary.baskets, summary.multi_item, summary.products) == (8, 4, 3, 4)


def test_pairs_from_purchase_lines(shop: Store) -> None:
    pairs = product_pairs(purchase_lines(shop)).to_pandas()
    assert sorted(zip(pairs.product_id, pairs.other_id, pairs.together, strict=True)) == [
        ("P1", "P2", 2),
        ("P2", "P1", 2),
    ]
    assert pairs.baskets.tolist() == [4, 4]


def test_empty_store(store: Store) -> None:
    """No orders: empty lines, pairs and rules, a message, and a clear error for a cart."""
    lines = purchase_lines(store)
    assert lines.count().execute() == 0
    assert basket_warnings(store) == [
        "There are no baskets: no purchase order has a line with a product id or sku, so "
        "pairs, rules and cart completions are empty. Import the orders with their lines "
        "(`tenure import orders` of a file with a product_id or sku column per line; "
        "docs/import-mapping.md)."
    ]
    assert product_pairs(lines).count().execute() == 0
    assert association_rules(lines, min_support=0.5).count().execute() == 0
    with pytest.raises(NotFoundError, match="No basket holds the cart product"):
        complete_basket(lines, ["P1"])


def test_single_product_store(store: Store) -> None:
    """Every order holds the one product: no pairs, a message, an empty cart answer."""
    add_orders(
        store,
        [(f"O{i}", f"C{i}", None, i, "10", "0", "paid") for i in range(3)],
        [(f"O{i}", 1, "P1", None) for i in range(3)] + [("O0", 2, "P1", None)],
    )
    lines = purchase_lines(store)
    assert lines.count().execute() == 3
    assert basket_warnings(store) == [
        "None of the 3 baskets holds two or more distinct products, so pairs, rules and cart "
        "completions are empty (frequently bought together needs orders of several "
        "products; cart sessions from the events are another source)."
    ]
    assert product_pairs(lines).count().execute() == 0
    assert association_rules(lines, min_support=0.1, min_confidence=0).count().execute() == 0
    out = complete_basket(lines, ["P1"])
    assert out.empty
    assert out.attrs["notes"][-1] == "No pair holds P1."


def event(anon: str | None, user: str | None, minutes: int, props: str, name: str) -> dict:
    return {
        "message_id": f"m{anon}{user}{minutes}{name}",
        "type": "track",
        "event": name,
        "anonymous_id": anon,
        "user_id": user,
        "timestamp": JAN + timedelta(minutes=minutes),
        "properties": props,
    }


def test_cart_lines(shop: Store) -> None:
    """Cart sessions: a device's Product Added events less than 30 minutes apart; the
    product from the properties (a number too; a sku through the catalogue)."""
    added = "Product Added"
    shop.insert(
        "events",
        pa.Table.from_pylist(
            [
                event("d1", None, 0, '{"product_id":"P1","sku":"S1","price":3}', added),
                event("d1", None, 10, '{"sku": "S3", "quantity": 1}', added),
                event("d1", None, 12, '{"product_id":"P4"}', "Product Viewed"),
                event("d1", "u1", 39, '{"product_id": 7}', added),  # 29 min after: same
                event("d1", "u1", 70, '{"product_id":"P2"}', added),  # 31 min: a new one
                event(None, "u2", 0, '{"product_id":"P1"}', added),
                event(None, "u2", 1, '{"name":"no id"}', added),
            ]
        ),
    )
    frame = cart_lines(shop).to_pandas()
    assert list(frame.columns) == list(LINE_COLUMNS)
    got = sorted((r.order_id, r.product_id, r.person_id) for r in frame.itertuples())
    assert got == [
        ("cart:d1:1", "7", "d1"),
        ("cart:d1:1", "P1", "d1"),
        ("cart:d1:1", "P3", "d1"),
        ("cart:d1:2", "P2", "u1"),
        ("cart:u2:1", "P1", "u2"),
    ]
    first = frame[frame.order_id == "cart:d1:2"].ordered_at.iloc[0]
    assert first == JAN + timedelta(minutes=70)
    same = purchase_lines(shop, source="carts", gap_minutes=60).to_pandas()
    assert set(same.order_id) == {"cart:d1:1", "cart:u2:1"}
    assert len(cart_lines(shop, date(2023, 12, 31)).to_pandas()) == 0
    with pytest.raises(ConfigError, match="'source' parameter"):
        purchase_lines(shop, source="sessions")
    with pytest.raises(ConfigError, match="'gap_minutes' parameter"):
        cart_lines(shop, gap_minutes=0)


def test_baskets_table() -> None:
    table = baskets_table([[" a", "b", "a"], ["", "c"]])
    assert table.column("order_id").to_pylist() == ["B000001", "B000001", "B000002"]
    assert table.column("product_id").to_pylist() == ["a", "b", "c"]
    assert table.column_names == list(LINE_COLUMNS)

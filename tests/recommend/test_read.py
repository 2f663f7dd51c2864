"""The recommendations as a store owner meets them: the pipeline's ``recommendations`` step,
``recommend_for`` / ``recommend_cart`` / ``top_pairs`` and their ``tenure recommend`` faces
(paired tests), on a tiny coffee shop imported through the real importers, whose numbers are
counted by hand below."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.errors import NotFoundError
from tenure.ingest import import_file
from tenure.pipeline import RunResult, run
from tenure.recommend import (
    CANDIDATES,
    PAIRS,
    RECOMMENDATIONS,
    ProductNotFoundError,
    recommend_cart,
    recommend_for,
    top_pairs,
)

runner = CliRunner()

PRODUCTS = [
    # product_id, sku, title, category, price, active, inventory
    ("P1", "SKU-1", "Espresso Beans", "Coffee", "12.00", "true", "40"),
    ("P2", "SKU-2", "Milk Frother", "Gear", "30.00", "true", "5"),
    ("P3", "SKU-3", "Filter Papers", "Coffee", "3.00", "true", ""),
    ("P4", "SKU-4", "Stoneware Mug", "Gear", "9.00", "true", "0"),  # out of stock
    ("P5", "SKU-5", "Hand Grinder", "Gear", "45.00", "false", "3"),  # discontinued
]
#: (order, customer, day, products): P1+P2 in 3 orders, P2+P4 in 2, P1+P5 in 2, ...
ORDERS = [
    ("o1", "c1", "2025-01-05", ["P1", "P2"]),
    ("o2", "c1", "2025-02-05", ["P3"]),
    ("o3", "c2", "2025-01-10", ["P1", "P2", "P4"]),
    ("o4", "c3", "2025-01-12", ["P1", "P2", "P5"]),
    ("o5", "c4", "2025-01-15", ["P1", "P5"]),
    ("o6", "c5", "2025-01-20", ["P2", "P4"]),
]
AS_OF = "2025-03-01"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, RunResult]:
    """The shop imported, and run once as of AS_OF (the tests read what the run built)."""
    from datetime import date

    tmp = tmp_path_factory.mktemp("shop")
    url = f"duckdb://{tmp / 'shop.duckdb'}"
    products = _write(
        tmp / "products.csv",
        ["product_id", "sku", "title", "category", "price", "currency", "active", "inventory"],
        [[*p[:5], "EUR", *p[5:]] for p in PRODUCTS],
    )
    lines = [
        [o, c, f"{c}@example.com", f"{day} 10:00:00", "EUR", pid, "1", "10.00"]
        for o, c, day, items in ORDERS
        for pid in items
    ]
    orders = _write(
        tmp / "orders.csv",
        ["order_id", "customer_id", "email", "ordered_at", "currency", "product_id", "quantity",
         "unit_price"],
        lines,
    )  # fmt: skip
    with Store(url) as store:
        import_file(store, "products", [products])
        import_file(store, "orders", [orders])
        result = run(store, as_of=date.fromisoformat(AS_OF), force=True)
    return url, result


@pytest.fixture(scope="module")
def shop_url(shop_run: tuple[str, RunResult]) -> str:
    return shop_run[0]


@pytest.fixture
def shop(shop_url: str) -> Iterator[Store]:
    with Store(shop_url) as store:
        yield store


def test_the_step_builds_the_three_tables(shop: Store) -> None:
    pairs = shop.read(PAIRS).to_pandas().set_index(["product_id", "other_id"])
    # 6 baskets; P1 in 4, P2 in 4: together 3 -> support 1/2, confidence 3/4, lift 9/8
    p12 = pairs.loc[("P1", "P2")]
    assert (p12.together, p12.product_orders, p12.other_orders, p12.baskets) == (3, 4, 4, 6)
    assert p12.support == pytest.approx(0.5)
    assert p12.confidence == pytest.approx(0.75)
    assert p12.lift == pytest.approx(1.125)
    # P2 -> P4: together 2 of P2's 4 orders; P4 in 2 of 6 -> lift 1.5
    assert pairs.loc[("P2", "P4")].confidence == pytest.approx(0.5)
    assert pairs.loc[("P2", "P4")].lift == pytest.approx(1.5)
    assert ("P1", "P4") not in pairs.index  # 1 order together < min_together 2
    recs = shop.read(RECOMMENDATIONS).to_pandas()
    assert set(recs.columns) >= {"person_id", "rank", "product_id", "score", "reason"}
    assert not set(recs.product_id) & {"P4", "P5"}  # out of stock, inactive: never shown
    assert recs.reason.notna().all() and (recs["rank"] >= 1).all()
    assert shop.exists(CANDIDATES)


def test_the_run_says_what_the_catalogue_keeps_out(shop_run: tuple[str, RunResult]) -> None:
    built = shop_run[1].get("recommendations")
    assert built is not None and built.output is not None
    notes = " ".join(built.output.notes)
    assert "inactive or out of stock" in notes or "out of stock" in notes, notes


def test_recommend_for_a_customer_by_email(shop: Store) -> None:
    frame = recommend_for(shop, "c4@example.com", top=5)
    # c4 bought P1 (and the inactive P5): P2 goes with P1, P3 was bought by P1's buyer c1
    assert frame["product_id"].iloc[0] == "P2"
    assert frame["title"].iloc[0] == "Milk Frother"
    assert "P1" not in set(frame["product_id"])  # bought already, not a consumable
    assert not set(frame["product_id"]) & {"P4", "P5"}
    assert frame.attrs["matched_by"] == "email"
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))


def test_recommend_cart_gives_rules_and_leaves_out_unavailable_products(shop: Store) -> None:
    frame = recommend_cart(shop, ["Espresso Beans"], top=3)
    assert frame.attrs["cart"] == ["P1"]
    first = frame.iloc[0]
    assert first.product_id == "P2"
    assert first.reason == "bought together in 3 orders, lift 1.1"
    assert "P5" not in set(frame.product_id)  # inactive, though bought with P1 twice
    assert "P4" not in set(frame.product_id)  # out of stock
    assert len(frame) == 2  # P2, then P3 as a best-seller fill (nothing else is available)
    assert frame.reason.iloc[1].startswith("best seller")


def test_a_product_nobody_knows_is_refused_with_close_matches(shop: Store) -> None:
    with pytest.raises(ProductNotFoundError, match="'Espreso Beans'") as err:
        recommend_cart(shop, ["Espreso Beans"])
    assert "P1" in (err.value.hint or "")


def test_top_pairs_most_orders_first_each_pair_once(shop: Store) -> None:
    frame = top_pairs(shop, top=10)
    assert (frame.product_id.iloc[0], frame.other_id.iloc[0]) == ("P1", "P2")
    assert (frame.product_id < frame.other_id).all()
    assert frame.title.iloc[0] == "Espresso Beans"
    assert frame.other_title.iloc[0] == "Milk Frother"
    mine = top_pairs(shop, product="SKU-2")
    assert set(mine.other_id) == {"P1", "P4"}


def test_cli_recommend_for_cart_pairs(shop_url: str) -> None:
    out = runner.invoke(app, ["recommend", "for", "c4@example.com", "--json", "--store", shop_url])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["products"][0]["product_id"] == "P2"
    assert data["products"][0]["reason"]
    out = runner.invoke(app, ["recommend", "cart", "SKU-1", "--json", "--store", shop_url])
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)[0]
    assert (first["title"], first["reason"]) == (
        "Milk Frother",
        "bought together in 3 orders, lift 1.1",
    )
    assert first["price"] == 30.0
    out = runner.invoke(app, ["recommend", "cart", "Espresso Beans", "--store", shop_url])
    assert out.exit_code == 0, out.output
    assert "Completing a cart of P1" in out.stdout and "Milk" in out.stdout
    out = runner.invoke(app, ["recommend", "pairs", "--top", "1", "--csv", "--store", shop_url])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[1].startswith("P1,Espresso Beans,P2,Milk Frother,3,")
    out = runner.invoke(app, ["recommend", "cart", "nothing-like-it", "--store", shop_url])
    assert out.exit_code == 1
    assert "No product 'nothing-like-it'" in out.output


def test_a_store_without_pairs_says_why(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'single.duckdb'}"
    orders = _write(
        tmp_path / "orders.csv",
        ["order_id", "customer_id", "ordered_at", "currency", "product_id", "quantity",
         "unit_price"],
        [["o1", "c1", "2025-01-01 10:00:00", "USD", "P1", "1", "5.00"],
         ["o2", "c2", "2025-01-02 10:00:00", "USD", "P2", "1", "5.00"]],
    )  # fmt: skip
    with Store(url) as store:
        import_file(store, "orders", [orders])
        from datetime import date

        result = run(store, as_of=date(2025, 2, 1))
        built = result.get("recommendations")
        assert built is not None and built.outcome == "ok"
        assert any("two or more distinct products" in n for n in built.output.notes)
        assert store.read(PAIRS).count().execute() == 0
        frame = top_pairs(store)
        assert frame.empty and frame.attrs["notes"]
        cart = recommend_cart(store, ["P1"])
        assert list(cart.product_id) == ["P2"]  # the best-seller fill
    with pytest.raises(NotFoundError), Store(f"duckdb://{tmp_path / 'empty.duckdb'}") as empty:
        top_pairs(empty)


def test_carts_of_the_events_complete_a_cart_too(demo_url: str) -> None:
    with Store(demo_url, read_only=True) as store:
        orders = recommend_cart(store, ["P0005"], top=5)
        carts = recommend_cart(store, ["P0005"], top=5, source="carts")
    assert len(orders) == len(carts) == 5
    assert carts.reason.str.startswith("bought together in").any()
    out = runner.invoke(
        app, ["recommend", "cart", "P0005", "--source", "baskets", "--store", demo_url]
    )
    assert out.exit_code == 2 and "'source'" in out.output

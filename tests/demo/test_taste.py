"""`generate_demo(taste=...)` / `tenure demo --taste`: buyers' favourite categories and
their journeys (on by default, `params.TASTE`).

With taste 0 the demo draws products by popularity and budget only; with tastes, the orders
(who, when, how much) are the same and only the products in them move towards each buyer's
favourite category, or, on repeat orders, the next category of its journey, which the truth
records and the recommenders can learn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.demo import DEFAULT_TASTE, DEMO_TABLES, generate_demo
from tenure.demo import params as P
from tenure.demo.catalog import CATEGORY_NAMES, JOURNEY
from tenure.errors import ConfigError
from tenure.recommend.evaluate import next_product, time_split

SMALL = {"customers": 300, "days": 90, "seed": 3}


def _tables(path: Path, **options: float) -> dict[str, pd.DataFrame]:
    """Every demo table (without the load time), sorted, after ``generate_demo``."""
    with Store(f"duckdb://{path}") as st:
        generate_demo(st, **SMALL, **options)  # type: ignore[arg-type]
        out = {}
        for name in DEMO_TABLES:
            frame = st.table(name).to_pandas().drop(columns=["imported_at"], errors="ignore")
            out[name] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
        return out


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[float | None, dict[str, pd.DataFrame]]:
    base = tmp_path_factory.mktemp("small")
    return {
        None: _tables(base / "default.duckdb"),
        0.0: _tables(base / "zero.duckdb", taste=0.0),
        0.5: _tables(base / "half.duckdb", taste=0.5),
    }


TASTE_ROWS = ["taste", "journey_prob", "journey", "favourite_category"]


def test_default_taste(small: dict[float | None, dict[str, pd.DataFrame]]) -> None:
    truth = small[None]["generator_truth"]
    assert truth.loc[truth.name == "taste", "value"].tolist() == [DEFAULT_TASTE] == [P.TASTE]
    assert 0 < DEFAULT_TASTE < 1
    truth = small[0.0]["generator_truth"]
    assert not truth.name.isin(TASTE_ROWS).any()


def test_taste_moves_products_not_orders(
    small: dict[float | None, dict[str, pd.DataFrame]],
) -> None:
    """The orders (ids, buyers, days, amounts), the catalogue, the spend, the referrals and
    the feedback (but the products reviewed) are those of the demo without taste; the lines
    still add up to each order's subtotal."""
    plain, tasted = small[0.0], small[0.5]
    for name in ("orders", "products", "marketing_spend", "referrals"):
        pd.testing.assert_frame_equal(tasted[name], plain[name], obj=name)
    # feedback: the same answers and reviews, of products of the tasted baskets
    pd.testing.assert_frame_equal(
        tasted["feedback"].drop(columns="product_id"), plain["feedback"].drop(columns="product_id")
    )
    items, orders = tasted["order_items"], tasted["orders"]
    assert not items[["order_id", "product_id"]].equals(
        plain["order_items"][["order_id", "product_id"]]
    )
    amount = (items.quantity * items.unit_price).groupby(items.order_id).sum()
    assert (amount == orders.set_index("order_id").subtotal.loc[amount.index]).all()
    assert set(items.order_id) == set(orders.order_id)


def test_taste_truth(small: dict[float | None, dict[str, pd.DataFrame]]) -> None:
    truth, orders = small[0.5]["generator_truth"], small[0.5]["orders"]
    knob = truth[truth.name == "taste"]
    assert knob[["scope", "value"]].values.tolist() == [["global", 0.5]]
    fav = truth[truth.name == "favourite_category"]
    assert set(fav.scope) == set(orders.customer_id)  # every buyer, once
    assert fav.scope.is_unique
    assert set(fav.value) <= set(range(len(CATEGORY_NAMES)))
    assert (fav.description == [CATEGORY_NAMES[int(v)] for v in fav.value]).all()
    journey = truth[truth.name == "journey"].set_index("scope").loc[CATEGORY_NAMES]
    assert journey.description.tolist() == [P.JOURNEYS[c] for c in CATEGORY_NAMES]
    assert journey.value.tolist() == JOURNEY.tolist()
    assert truth.loc[truth.name == "journey_prob", "value"].tolist() == [P.JOURNEY_PROB]
    plain = small[0.0]["generator_truth"]
    others = truth[~truth.name.isin(TASTE_ROWS)]
    pd.testing.assert_frame_equal(others.reset_index(drop=True), plain)


def test_taste_out_of_range(tmp_path: Path) -> None:
    with Store(f"duckdb://{tmp_path / 'd.duckdb'}") as st:
        for taste in (-0.1, 1.5, float("nan")):
            with pytest.raises(ConfigError, match="'taste' parameter must be a number from 0 to 1"):
                generate_demo(st, customers=10, taste=taste)
        assert st.count("generator_truth") == 0  # refused before anything is written


def test_cli_taste(tmp_path: Path) -> None:
    path = tmp_path / "cli.duckdb"
    args = ["demo", "--store", str(path), "--customers", "200", "--days", "60", "--json"]
    result = CliRunner().invoke(app, [*args, "--taste", "0.5"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["customers"] == 200
    with Store(f"duckdb://{path}") as st:
        truth = st.table("generator_truth").to_pandas()
    assert truth.loc[truth.name == "taste", "value"].tolist() == [0.5]
    assert (truth.name == "favourite_category").sum() == 200
    bad = CliRunner().invoke(app, [*args, "--taste", "2"])
    assert bad.exit_code == 2


# -- the taste is real: buyers keep to their category, and history now predicts ------------
@pytest.fixture(scope="module")
def tasted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("tasted") / "demo.duckdb"
    with Store(f"duckdb://{path}") as st:
        generate_demo(st, customers=1_500, days=365, seed=7, taste=0.7)
        yield st


def test_orders_keep_to_the_favourite_then_its_journey(tasted: Store) -> None:
    """First orders lean to the favourite; repeat orders to the favourite or the next
    category of its journey, each far above its share of all lines."""
    truth = tasted.table("generator_truth").to_pandas()
    favourite = truth[truth.name == "favourite_category"].set_index("scope").description
    orders = tasted.table("orders").to_pandas()[["order_id", "customer_id", "ordered_at"]]
    items = tasted.table("order_items").to_pandas()[["order_id", "category"]]
    lines = items.merge(orders, on="order_id")
    lines["favourite"] = lines.customer_id.map(favourite)
    lines["journey"] = lines.favourite.map(P.JOURNEYS)
    first = lines.ordered_at == lines.groupby("customer_id").ordered_at.transform("min")
    overall = lines.category.value_counts(normalize=True)
    firsts, later = lines[first], lines[~first]  # later: repeat buyers' later orders
    assert len(later) > 1_000
    assert (firsts.category == firsts.favourite).mean() > 0.6
    assert (firsts.category == firsts.journey).mean() < firsts.journey.map(overall).mean()
    for step in ("favourite", "journey"):
        share = (later.category == later[step]).mean()
        assert share > 2 * later[step].map(overall).mean(), step
    assert (later.category == later.favourite).mean() > 0.4


def test_recommender_beats_popularity_with_taste(tasted: Store) -> None:
    ev = next_product(time_split(tasted, holdout_days=90), products=tasted.table("products"))
    assert ev.cases > 300
    assert ev.hit_rate.recommender.value > ev.hit_rate.popularity.value
    assert ev.mrr.recommender.value > ev.mrr.popularity.value

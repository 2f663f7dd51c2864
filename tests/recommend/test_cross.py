"""Cross-category candidates (recommend.cross): who is a candidate, the learnt ranking, the
held-out AUC, the reasons' numbers, skipped categories, and the demo store."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.errors import ConfigError
from tenure.recommend.baskets import purchase_lines
from tenure.recommend.cross import CANDIDATE_COLUMNS, auc_interval, cross_category

AS_OF = date(2024, 12, 31)  # the cutoff, 90 days before: 2024-10-02


def shop(path: Path, orders: list[tuple[str, datetime, str]]) -> str:
    """A store of (customer, when, category) orders, one line of 10.00 each, product
    ``<category>-1`` listed in the catalogue with its category."""
    url = f"duckdb://{path}"
    money = pa.decimal128(18, 4)
    with Store(url) as st:
        st.insert(
            "orders",
            pa.table(
                {
                    "order_id": [f"o{n}" for n in range(len(orders))],
                    "customer_id": [c for c, _, _ in orders],
                    "ordered_at": [at for _, at, _ in orders],
                    "currency": ["USD"] * len(orders),
                    "total": pa.array([Decimal(10)] * len(orders), money),
                }
            ),
        )
        st.insert(
            "order_items",
            pa.table(
                {
                    "order_id": [f"o{n}" for n in range(len(orders))],
                    "line": [1] * len(orders),
                    "product_id": [f"{cat}-1" for _, _, cat in orders],
                    "quantity": [1] * len(orders),
                    "unit_price": pa.array([Decimal(10)] * len(orders), money),
                    "currency": ["USD"] * len(orders),
                }
            ),
        )
        cats = sorted({cat for _, _, cat in orders})
        st.insert(
            "products",
            pa.table({"product_id": [f"{c}-1" for c in cats], "category": cats}),
        )
    return url


JULY = datetime(2024, 7, 1, 12)
DEC = datetime(2024, 12, 1, 12)


def moves() -> list[tuple[str, datetime, str]]:
    """20 buyers of Shoes with 3 orders on 1 July move to Bags in November; 20 with one order
    that day and 5 buyers of Hats do not. After the cutoff q0 buys Shoes three times and q1
    once (1 December)."""
    orders = []
    for n in range(20):
        orders += [(f"f{n:02d}", JULY, "Shoes")] * 3 + [
            (f"f{n:02d}", datetime(2024, 11, 15), "Bags")
        ]
        orders.append((f"s{n:02d}", JULY, "Shoes"))
    orders += [(f"h{n}", JULY, "Hats") for n in range(5)]
    orders += [("q0", DEC, "Shoes")] * 3 + [("q1", DEC, "Shoes")]
    return orders


def test_buyers_who_never_bought_a_category_ranked_by_learnt_propensity(tmp_path: Path) -> None:
    url = shop(tmp_path / "moves.duckdb", moves())
    with Store(url, read_only=True) as st:
        result = cross_category(st, as_of=AS_OF, lines=purchase_lines(st), min_movers=10)
    assert result.cutoff == date(2024, 10, 2)
    q = result.quality.set_index("category")
    bags = q.loc["Bags", ["buyers", "movers", "held_out", "auc", "auc_orders"]]
    assert bags.tolist() == [45, 20, 14, 1.0, 1.0]  # the orders alone tell the movers here
    assert q.loc["Hats", "note"] == "skipped: 0 movers and 40 non-movers (fewer than 10)"
    assert q.loc["Shoes", "note"] == "skipped: 0 movers and 5 non-movers (fewer than 10)"
    c = result.candidates
    assert list(c.columns) == CANDIDATE_COLUMNS
    # the only category learnt is Bags; every buyer without Bags is a candidate, once
    assert set(c.category) == {"Bags"} and c["rank"].eq(1).all()
    expected = {f"s{n:02d}" for n in range(20)} | {f"h{n}" for n in range(5)} | {"q0", "q1"}
    assert set(c.person_id) == expected
    by = c.set_index("person_id")
    assert by.propensity.idxmax() == "q0"  # three orders, like the movers
    assert by.propensity["q1"] == pytest.approx(by.propensity["s00"])  # time had no say
    assert by.propensity["s00"] > by.propensity["h0"]  # nobody moved from Hats
    assert by.reason["s00"] == "buyers like you who bought Shoes moved to Bags: 50% of 40"
    # nobody moved from Hats: the reason gives the rate of all the buyers followed
    assert by.reason["h0"] == "buyers like you moved to Bags: 44% of 45"
    assert by.reason["q0"] == by.reason["s00"]
    # no churn: the same store gives the same candidates and figures again
    with Store(url, read_only=True) as st:
        again = cross_category(st, as_of=AS_OF, lines=purchase_lines(st), min_movers=10)
    pd.testing.assert_frame_equal(again.candidates, result.candidates)
    pd.testing.assert_frame_equal(again.quality, result.quality)


def test_top_categories_per_person_by_propensity(tmp_path: Path) -> None:
    """Two targets learnt: each buyer of neither gets both, ranked by propensity."""
    orders = moves()
    for n in range(20):  # the frequent buyers also move to Hats, and half the others
        orders.append((f"f{n:02d}", datetime(2024, 11, 20), "Hats"))
    orders += [(f"s{n:02d}", datetime(2024, 11, 20), "Hats") for n in range(0, 20, 2)]
    url = shop(tmp_path / "two.duckdb", orders)
    with Store(url, read_only=True) as st:
        result = cross_category(st, as_of=AS_OF, lines=purchase_lines(st), min_movers=10)
        top1 = cross_category(st, as_of=AS_OF, lines=purchase_lines(st), min_movers=10, top=1)
    c = result.candidates
    q1 = c[c.person_id == "q1"]
    assert q1["rank"].tolist() == [1, 2]
    assert q1.propensity.is_monotonic_decreasing
    assert q1.category.tolist() == ["Hats", "Bags"]  # 30 of 40 moved to Hats, 20 to Bags
    assert top1.candidates.groupby("person_id").size().max() == 1
    assert top1.candidates.set_index("person_id").category["q1"] == "Hats"


def test_one_category_one_customer_and_bad_parameters(tmp_path: Path) -> None:
    one_cat = shop(tmp_path / "one.duckdb", [("a", JULY, "Shoes"), ("b", DEC, "Shoes")])
    with Store(one_cat, read_only=True) as st:
        result = cross_category(st, as_of=AS_OF, lines=purchase_lines(st))
        assert result.candidates.empty and list(result.candidates.columns) == CANDIDATE_COLUMNS
        assert result.quality.empty
        assert result.notes == ("1 categories bought: no move between categories to learn",)
        with pytest.raises(ConfigError, match="'top' and 'horizon_days'"):
            cross_category(st, as_of=AS_OF, lines=purchase_lines(st), top=0)
    one_customer = shop(tmp_path / "c.duckdb", [("a", JULY, "Shoes"), ("a", DEC, "Bags")])
    with Store(one_customer, read_only=True) as st:
        result = cross_category(st, as_of=AS_OF, lines=purchase_lines(st), min_movers=1)
    assert result.candidates.empty
    assert result.quality.note.tolist() == [
        "skipped: 1 movers and 0 non-movers (fewer than 4); ranked by the move rate, 100.0%",
        "skipped: 0 movers and 0 non-movers (fewer than 4)",
    ]


def test_auc_interval_hanley_mcneil() -> None:
    """Hanley & McNeil (1982), eq. 2: AUC 0.8 on 50 + 50 cases has SE 0.04450."""
    low, high = auc_interval(0.8, 50, 50)
    assert (high - low) / (2 * 1.96) == pytest.approx(0.04450, abs=1e-5)
    assert auc_interval(1.0, 6, 8) == (1.0, 1.0)


def test_demo_store_candidates_and_quality(demo_url: str) -> None:
    with Store(demo_url, read_only=True) as st:
        result = cross_category(st, as_of=date(2024, 12, 30))  # the store's purchase lines
    q = result.quality.set_index("category")
    assert len(q) == 8  # the demo's categories
    assert q.note["Gift sets"] == (
        "skipped: 17 movers and 423 non-movers (fewer than 20); ranked by the move rate, 3.9%"
    )
    gifts = result.candidates[result.candidates.category == "Gift sets"]
    assert len(gifts) > 0 and (gifts.propensity == 17 / 440).all()  # not modelled: the rate
    learnt = q[q.note == ""]
    assert (learnt.movers >= 20).all() and learnt.auc.between(0, 1).all()
    c = result.candidates
    assert c.groupby("person_id").size().max() == 3
    assert c.reason.str.match(
        r"buyers like you (who bought .+ )?moved to .+: \d+% of [\d,]+$"
    ).all()
    assert (c.propensity.between(0, 1)).all()

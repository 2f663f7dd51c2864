"""The products a send names (docs/flows.md, `products`): the cart's items, the products
frequently bought with the trigger's product, the person's next products, exactly, on a
hand-built store."""

from __future__ import annotations

import json
from datetime import timedelta

import ibis
import pandas as pd
import pytest

from tenure import Store
from tenure.engage.flow_spec import load_flows, parse_flow, shipped_dir
from tenure.errors import ConfigError
from tests.engage.flowkit import T0, build, event
from tests.engage.test_flows import messages, tick

H = timedelta(hours=1)


def _added(mid: str, person: str, product: str, hours: float) -> dict[str, object]:
    props = json.dumps({"product_id": product, "price": 10, "quantity": 1})
    return event(mid, person, "Product Added", T0 - hours * H, props)


def _flow(products: str, count: int, trigger: str = "Product Added") -> str:
    return (
        f"name: f\ntrigger: {{event: {trigger}}}\nlookback: 2d\nsteps:\n"
        f"  - id: s\n    send: {{channel: onsite, template: t, products: {products}, "
        f"count: {count}}}\n"
    )


def _products(store: Store) -> dict[str, list[str]]:
    m = messages(store)
    return {p: json.loads(t)["products"] for p, t in zip(m.person_id, m.payload, strict=True)}


def test_cart_names_the_items_added_in_the_day_before_entering(flow_store: Store) -> None:
    build(
        flow_store,
        [
            _added("a1", "p1", "P1", 30),  # more than a day before the checkout: not in it
            _added("a2", "p1", "P2", 5),
            _added("a3", "p1", "P3", 4),
            _added("a4", "p1", "P2", 3.5),  # added again: once, at its latest
            event("c1", "p1", "Checkout Started", T0 - 3 * H),
            event("c2", "p2", "Checkout Started", T0 - 3 * H),  # nothing added
        ],
        [],
    )
    tick(flow_store, [parse_flow(_flow("cart", 5, "Checkout Started"), "f.yaml")], T0)
    assert _products(flow_store) == {"p1": ["P2", "P3"], "p2": []}


def test_frequently_bought_together_and_next_products(flow_store: Store) -> None:
    build(flow_store, [_added("a1", "p1", "P1", 2), _added("a2", "p2", "P9", 2)], [])
    pairs = pd.DataFrame(
        {
            "product_id": ["P1", "P1", "P1", "P1", "P2"],
            "other_id": ["P2", "P3", "P4", 'P"5', "P1"],
            "lift": [1.5, 3.0, 2.0, 2.5, 9.0],
        }
    )
    flow_store.replace("product_pairs", ibis.memtable(pairs))
    tick(flow_store, [parse_flow(_flow("frequently_bought_together", 3), "f.yaml")], T0)
    assert _products(flow_store) == {"p1": ["P3", 'P"5', "P4"], "p2": []}
    recs = pd.DataFrame(
        {"person_id": ["p1", "p1", "p2"], "rank": [2, 1, 1], "product_id": ["B", "A", "C"]}
    )
    flow_store.replace("product_recommendations", ibis.memtable(recs))
    flow_store.truncate("messages")
    flow_store.truncate("flow_state")
    flow_store.truncate("flow_ticks")
    tick(
        flow_store,
        [parse_flow(_flow("next_products", 1).replace("name: f", "name: g"), "g.yaml")],
        T0,
    )
    assert _products(flow_store) == {"p1": ["A"], "p2": ["C"]}


def test_the_shipped_product_sends_and_invalid_options() -> None:
    flows = {f.name: f for f in load_flows(sorted(shipped_dir().glob("*.yaml")))}
    named = {
        (f.name, s.id): (s.products, s.count) for f in flows.values() for s in f.steps if s.products
    }
    assert named == {
        ("abandoned_cart", "email_cart"): ("cart", 5),
        ("cart_cross_sell", "bought_together"): ("frequently_bought_together", 3),
        ("post_purchase", "add_ons"): ("next_products", 3),
    }
    with pytest.raises(
        ConfigError, match=r"line 6, `products`: 'carts' is not valid\. Did you mean 'cart'"
    ):
        parse_flow(_flow("carts", 3), "f.yaml")
    with pytest.raises(ConfigError, match="`count` goes with `products`"):
        parse_flow(_flow("cart", 3).replace("products: cart, ", ""), "f.yaml")

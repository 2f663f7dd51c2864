"""flow_stats (tenure.deliver.measure) on a hand-made store with known outcomes: every count,
the uplift and its interval, a flow without holdout (unknown, never 0), the A/B rule; and a
simulated store whose figures are those of the uplift functions on its known counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from tenure import Store
from tenure.deliver.measure import flow_stats
from tenure.deliver.uplift import rate_difference, welch
from tenure.errors import ConfigError
from tests.deliver.measurekit import NOW, empty_store, empty_store_file, measured_store

__all__ = ["empty_store", "empty_store_file", "measured_store"]  # fixtures


def test_every_count_of_the_hand_made_store(measured_store: Store) -> None:
    stats = flow_stats(measured_store, now=NOW)
    assert [f.flow for f in stats.flows] == ["cart", "plain"]
    cart = stats.flows[0].to_dict()
    assert {k: cart[k] for k in ("entered", "persons", "held_out", "measured", "maturing")} == {
        "entered": 8,
        "persons": 8,
        "held_out": 3,
        "measured": 7,  # t5 entered 2 days before NOW: its window is still open
        "maturing": 1,
    }
    assert cart["messages"] == {"sent": 4, "failed": 1, "holdout": 3}
    assert cart["steps"] == [
        {
            "step": "email_1",
            "channel": "email",
            "messages": 8,
            "sent": 4,
            "failed": 1,
            "suppressed": 0,
            "capped": 0,
            "holdout": 3,
            "waiting": 0,
            "bounced": 1,  # t2's address bounced after the send
            "unsubscribed": 1,  # t3 unsubscribed after it (t1's older unsubscribe is not)
            "clicked": 2,  # t1's and t3's messages (t2's click is after NOW)
            "clicks": 3,  # t1 clicked twice
            "converted": 3,  # t1, t3 and t5 bought within 7 days of their send
            "orders": 3,
            "revenue": 170.0,
            "coupon_orders": 1,  # t1 typed its code in lower case
            "discount_cost": 10.0,
        }
    ]
    assert cart["channels"] == [
        {
            "channel": "email",
            "messages": 8,
            "sent": 4,
            "failed": 1,
            "bounced": 1,
            "unsubscribed": 1,
            "clicked": 2,
            "clicks": 3,
        }
    ]
    assert (cart["clicked"], cart["clicks"]) == (2, 3)
    plain = stats.flows[1].to_dict()
    assert (plain["clicked"], plain["clicks"]) == (1, 1)
    # measured: t1-t4 treated (t4 bought after its window), h1-h3 held out
    assert cart["treated"] == {
        "group": "treated",
        "persons": 4,
        "converted": 2,
        "conversion": 0.5,
        "orders": 2,
        "revenue": 140.0,
        "revenue_per_person": 35.0,
        "coupon_orders": 1,
        "coupon_converted": 1,
        "discount_cost": 10.0,
        "unknown_revenue_orders": 0,
    }
    assert cart["holdout"]["persons"] == 3 and cart["holdout"]["converted"] == 1
    assert cart["holdout"]["revenue"] == 40.0


def test_the_uplift_and_the_incremental_figures(measured_store: Store) -> None:
    cart = flow_stats(measured_store, "cart", now=NOW).flows[0]
    _, lo, hi = rate_difference(2, 4, 1, 3)
    assert cart.conversion_uplift is not None
    assert cart.conversion_uplift.to_dict() == {
        "estimate": pytest.approx(1 / 6),
        "low": pytest.approx(float(lo)),
        "high": pytest.approx(float(hi)),
    }
    # revenue per person: treated 90, 0, 50, 0; holdout 40, 0, 0
    t, h = np.array([90.0, 0, 50, 0]), np.array([40.0, 0, 0])
    _, rlo, rhi = welch(4, t.mean(), t.var(ddof=1), 3, h.mean(), h.var(ddof=1))
    assert cart.revenue_uplift is not None
    assert cart.revenue_uplift.estimate == pytest.approx(35 - 40 / 3)
    assert (cart.revenue_uplift.low, cart.revenue_uplift.high) == pytest.approx(
        (float(rlo), float(rhi))
    )
    inc = cart.incremental
    assert inc is not None and inc.conversions is not None and inc.revenue is not None
    assert inc.conversions.estimate == pytest.approx(4 / 6)  # 4 treated x 1/6
    assert inc.revenue.estimate == pytest.approx(4 * (35 - 40 / 3))
    assert inc.discount_cost == 10.0
    # of the treated converters, (1/3) / (1/2) would have bought anyway
    assert inc.wasted_share == pytest.approx(2 / 3)
    assert inc.wasted_discount == pytest.approx(6.6667)


def test_a_flow_without_holdout_has_an_unknown_uplift(measured_store: Store) -> None:
    plain = flow_stats(measured_store, "plain", now=NOW).to_dict()["flows"][0]
    assert plain["holdout"]["persons"] == 0
    assert plain["holdout"]["conversion"] is None
    assert plain["uplift"] == {"conversion": None, "revenue_per_person": None}
    assert plain["incremental"] is None
    assert plain["treated"]["conversion"] == 0.5
    assert plain["messages"] == {"sent": 1, "pending": 1}


def test_too_few_persons_per_variant_name_no_winner(measured_store: Store) -> None:
    cart = flow_stats(measured_store, "cart", now=NOW).to_dict()["flows"][0]
    assert [(v["group"], v["persons"], v["converted"]) for v in cart["variants"]] == [
        ("A", 2, 2),
        ("B", 2, 0),
    ]
    assert cart["ab"]["winner"] is None
    assert cart["ab"]["reason"] == "too few persons (A has 2, B has 2 of 100 needed)"
    # 2 of 2 against 0 of 2 is significant (Newcombe: 0.07 to 1): only the minimum stops it
    low = flow_stats(measured_store, "cart", now=NOW, min_per_arm=2).flows[0].verdict
    assert low is not None and low.winner == "A"


def test_the_window_and_the_clock(measured_store: Store) -> None:
    # a 10-day window takes in t4's order of 9 days after entering; t5 is measured later
    wide = flow_stats(measured_store, "cart", now=NOW + timedelta(days=10), window_days=10)
    cart = wide.flows[0]
    assert (cart.measured, cart.treated.arm.persons, cart.treated.arm.converted) == (8, 5, 4)
    early = flow_stats(measured_store, "cart", now=datetime(2026, 3, 2)).flows[0]
    assert (early.entered, early.measured, early.conversion_uplift) == (7, 0, None)
    with pytest.raises(ConfigError, match="The 'window_days' parameter must be an int"):
        flow_stats(measured_store, window_days=0)
    with pytest.raises(ConfigError, match="The 'confidence' parameter must be a number"):
        flow_stats(measured_store, confidence=95)


def test_an_unknown_flow_and_an_empty_store(empty_store: Store) -> None:
    assert flow_stats(empty_store, now=NOW).flows == []
    assert flow_stats(empty_store, "nothing", now=NOW).to_dict()["flows"] == []


def simulate(store: Store, seed: int, treated: int, held: int, base: float, lift: float) -> None:
    """A store of one flow: ``treated`` + ``held`` persons entered on 1 March; each buys
    once on 3 March with probability ``base`` (held out) or ``base + lift`` (treated)."""
    rng = np.random.default_rng(seed)
    entry = datetime(2026, 3, 1)
    state, orders = [], []
    for i in range(treated + held):
        person, out = f"s{i:05d}", i >= treated
        state.append(
            {
                "flow": "sim",
                "person_id": person,
                "trigger_id": "t",
                "entered_at": entry,
                "holdout": out,
                "status": "completed",
            }
        )
        if rng.random() < base + (0 if out else lift):
            orders.append(
                {
                    "order_id": f"o{i}",
                    "customer_id": person,
                    "ordered_at": entry + timedelta(days=2),
                    "currency": "USD",
                    "total": f"{rng.lognormal(3.5, 0.6):.2f}",
                    "status": "completed",
                }
            )
    store.insert("flow_state", pa.Table.from_pylist(state))
    store.insert("orders", pa.Table.from_pylist(orders))


def test_a_simulated_store_reports_the_uplift_functions_figures(empty_store: Store) -> None:
    """The coverage of test_uplift holds for flow_stats: on a simulated store its interval
    is the Newcombe interval of the store's counts, and it covers the known lift."""
    simulate(empty_store, 3, 900, 300, 0.05, 0.04)
    sim = flow_stats(empty_store, "sim", now=NOW).flows[0]
    o = empty_store.table("orders").to_pandas()
    bought = set(o["customer_id"])
    k1 = sum(f"s{i:05d}" in bought for i in range(900))
    k0 = sum(f"s{i:05d}" in bought for i in range(900, 1200))
    assert (sim.treated.arm.persons, sim.treated.arm.converted) == (900, k1)
    assert (sim.holdout.arm.persons, sim.holdout.arm.converted) == (300, k0)
    d, lo, hi = rate_difference(k1, 900, k0, 300)
    e = sim.conversion_uplift
    assert e is not None and (e.estimate, e.low, e.high) == pytest.approx(
        (float(d), float(lo), float(hi))
    )
    assert e.low is not None and e.high is not None and e.low <= 0.04 <= e.high
    assert sim.treated.arm.revenue == pytest.approx(
        o[o["customer_id"] < "s00900"]["total"].astype(float).sum()
    )


def _coupon_orders(store: Store) -> int:
    cart = flow_stats(store, "cart", now=NOW).flows[0].to_dict()
    return int(cart["steps"][0]["coupon_orders"])


def test_a_pool_code_issued_at_sending_attributes_the_order(measured_store: Store) -> None:
    """The code the dispatcher issued (``discount_codes``, e.g. from a pool) is the message's
    code: an order with it is the message's coupon order, the payload's code no longer is."""
    orders = measured_store.table("orders").to_pyarrow()
    issued = {
        "code": "POOL-0007",
        "flow": "cart",
        "step": "email_1",
        "person_id": "t1",
        "message_key": "key-t1",
        "issued_at": datetime(2026, 3, 1, 11),
    }
    measured_store.insert("discount_codes", pa.Table.from_pylist([issued]))
    assert _coupon_orders(measured_store) == 0  # t1 typed the payload's code, not the pool's
    coupons = [
        "pool-0007" if o == "o-t1" else c
        for o, c in zip(
            orders.column("order_id").to_pylist(), orders.column("coupon").to_pylist(), strict=True
        )
    ]
    orders = orders.set_column(orders.schema.get_field_index("coupon"), "coupon", pa.array(coupons))
    measured_store.truncate("orders")
    measured_store.insert("orders", orders)
    assert _coupon_orders(measured_store) == 1

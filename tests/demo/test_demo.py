"""The demo store: deterministic, internally consistent, and close to its own truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tenure import Store, load_settings
from tenure.demo import DemoSummary, generate_demo
from tenure.demo import params as P
from tenure.errors import StoreError

N = 2000


def _open(path: Path) -> Store:
    url = f"duckdb://{path}"
    return Store(url, settings=load_settings(store_url=url))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSummary]]:
    store = _open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    summary = generate_demo(store, customers=N, seed=11)
    yield store, summary
    store.close()


def _q(store: Store, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    return store.con.con.execute(sql).fetchall()


def _digest(store: Store) -> tuple:  # type: ignore[type-arg]
    return tuple(
        _q(store, f"SELECT count(*), sum(hash(t)) FROM {t} t")[0]
        for t in ("orders", "order_items", "events", "customers", "marketing_spend")
    )


def test_same_seed_same_store_other_seed_other_store(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        with _open(tmp_path / f"{name}.duckdb") as st:
            generate_demo(st, customers=300, seed=seed)
            digests.append(_digest(st))
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_summary_reconciles_with_tables(demo: tuple[Store, DemoSummary]) -> None:
    store, s = demo
    n, revenue = _q(store, "SELECT count(*), sum(total) FROM orders")[0]
    assert s.orders == n and s.revenue == revenue
    assert s.aov == (revenue / n).quantize(Decimal("0.01"))
    buyers, repeaters = _q(
        store,
        "SELECT count(*), count(*) FILTER (WHERE n >= 2) FROM "
        "(SELECT customer_id, count(*) n FROM orders GROUP BY 1)",
    )[0]
    assert buyers == s.customers == N
    assert s.repeat_rate == pytest.approx(repeaters / buyers)
    assert s.prospects == round(N * P.PROSPECT_SHARE)
    assert store.count("customers") == N + s.prospects
    assert s.tables == {t: store.count(t) for t in s.tables}
    assert s.spend == _q(store, "SELECT sum(cost) FROM marketing_spend")[0][0]


def test_money_adds_up_to_the_cent(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    bad_total = "SELECT count(*) FROM orders WHERE total <> subtotal - discount + shipping + tax"
    assert _q(store, bad_total) == [(0,)]
    lines = _q(
        store,
        "SELECT count(*) FROM (SELECT o.order_id, any_value(o.subtotal) s, "
        "sum(i.quantity * i.unit_price) l, count(i.line) k FROM orders o "
        "LEFT JOIN order_items i USING (order_id) GROUP BY 1) WHERE k = 0 OR s <> l",
    )
    assert lines == [(0,)]
    refunds = _q(store, "SELECT count(*) FROM orders WHERE refunded > total OR refunded < 0")
    assert refunds == [(0,)]


def test_events_follow_segment_spec_and_orders(demo: tuple[Store, DemoSummary]) -> None:
    store, s = demo
    assert _q(store, "SELECT count(*) = count(DISTINCT message_id) FROM events") == [(True,)]
    types = {t for (t,) in _q(store, "SELECT DISTINCT type FROM events")}
    assert types <= {"track", "identify", "page"}
    missing = _q(
        store,
        "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT json_extract_string("
        "properties, '$.order_id') FROM events WHERE event = 'Order Completed')",
    )
    assert missing == [(0,)]
    assert s.events == store.count("events")


def test_cart_abandonment_is_about_70_percent(demo: tuple[Store, DemoSummary]) -> None:
    """Sessions (a landing page view opens one) with a cart: ~70% end without an order."""
    store, _ = demo
    share = _q(
        store,
        "WITH e AS (SELECT anonymous_id, event, sum((event = 'Home')::INT) OVER ("
        "PARTITION BY anonymous_id ORDER BY timestamp, message_id ROWS UNBOUNDED PRECEDING) "
        "AS session FROM events), s AS (SELECT anonymous_id, session, "
        "bool_or(event = 'Product Added') AS cart, bool_or(event = 'Order Completed') AS bought "
        "FROM e GROUP BY ALL) "
        "SELECT count(*) FILTER (WHERE cart AND NOT bought) / count(*) FILTER (WHERE cart) FROM s",
    )[0][0]
    assert share == pytest.approx(P.CART_ABANDONMENT, abs=0.03)


def test_repeat_purchases_match_the_bgnbd_truth(demo: tuple[Store, DemoSummary]) -> None:
    """Mean repeat purchases per channel ~ E[X(t)] of the channel's BG/NBD population."""
    store, _ = demo
    rows = _q(
        store,
        "SELECT json_extract_string(c.traits, '$.demo_truth.channel') ch, "
        "json_extract(c.traits, '$.demo_truth.repeats')::INT r, count(o.order_id) - 1 n "
        "FROM customers c JOIN orders o USING (customer_id) GROUP BY c.customer_id, c.traits",
    )
    assert all(r == n for _, r, n in rows)
    # pool all buyers: with seasonality handled in operational time, the mean number of
    # repeats is the mean over buyers of E[X(T_i)]; check it within 15%.
    tbl = _q(
        store,
        "SELECT json_extract_string(traits, '$.demo_truth.channel'), "
        "date_diff('second', min(o.ordered_at), TIMESTAMP '2025-12-31 00:00:00') / 86400.0 "
        "FROM customers c JOIN orders o USING (customer_id) GROUP BY c.customer_id, c.traits",
    )
    by = {c.name: c for c in P.CHANNELS}
    expected = np.mean([P.expected_repeat(by[ch], t) for ch, t in tbl])
    observed = np.mean([n for _, _, n in rows])
    assert observed == pytest.approx(expected, rel=0.15)


def test_spend_per_order_matches_gamma_gamma(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    mean_subtotal = float(_q(store, "SELECT avg(subtotal) FROM orders")[0][0])
    expected = P.GG_P * P.GG_GAMMA / (P.GG_Q - 1)
    assert mean_subtotal == pytest.approx(expected, rel=0.12)


def test_identity_truth_is_recorded(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    traits = [json.loads(t) for (t,) in _q(store, "SELECT traits FROM customers")]
    devices = {d for t in traits for d in t["demo_devices"]}
    event_devices = {d for (d,) in _q(store, "SELECT DISTINCT anonymous_id FROM events")}
    assert event_devices <= devices
    assert len({t["demo_person"] for t in traits}) == len(traits)


def test_truth_table_has_every_channel_parameter(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    rows = {(n, s): v for n, s, v in _q(store, "SELECT name, scope, value FROM generator_truth")}
    for ch in P.CHANNELS:
        for name in ("r", "alpha", "a", "b", "acquisition_share", "cac", "buyers", "spend"):
            assert (name, ch.name) in rows
    assert rows[("p", "global")] == P.GG_P
    spend = _q(store, "SELECT channel, sum(cost) FROM marketing_spend GROUP BY 1")
    for channel, total in spend:
        assert rows[("spend", channel)] == pytest.approx(float(total))


def test_refuses_a_store_with_other_data_unless_replace(tmp_path: Path) -> None:
    with _open(tmp_path / "shop.duckdb") as st:
        st.insert("imports", pa.table({"import_id": ["x"]}))
        st.insert("orders", pa.table({"order_id": ["real-1"], "currency": ["USD"]}))
        with pytest.raises(StoreError, match="not a demo store") as info:
            generate_demo(st, customers=50)
        assert "--replace" in str(info.value.hint)
        summary = generate_demo(st, customers=50, replace=True)
        assert st.count("orders") == summary.orders
        assert st.count("imports") == 0
        again = generate_demo(st, customers=60, seed=2)  # a previous demo is replaced
        assert st.count("orders") == again.orders

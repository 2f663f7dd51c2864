"""The demo store: deterministic, internally consistent, and close to its own truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy.special import hyp2f1

from tenure import Store
from tenure.demo import DEMO_TABLES, DemoSummary, generate_demo
from tenure.demo import params as P
from tenure.errors import ConfigError, StoreError
from tenure.store.schema import TABLES

N = 2000
SEED = 11


def _open(path: Path) -> Store:
    url = f"duckdb://{path}"
    return Store(url)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSummary]]:
    store = _open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    summary = generate_demo(store, customers=N, seed=SEED)
    yield store, summary
    store.close()


def _q(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.con.con.execute(sql).fetchall()


def _one(store: Store, sql: str) -> Any:
    return _q(store, sql)[0][0]


def _digest(store: Store) -> tuple[Any, ...]:
    """Rows and a hash of every demo table, without the load time Store.insert stamps."""
    return tuple(_q(store, _digest_sql(t))[0] for t in DEMO_TABLES if t != "generator_truth")


def _digest_sql(table: str) -> str:
    cols = ", ".join(f'"{c}"' for c in TABLES[table].columns if c != "imported_at")
    return f"SELECT count(*), sum(hash(t)) FROM (SELECT {cols} FROM {table}) t"


@pytest.mark.slow
def test_same_seed_same_store_other_seed_other_store(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        with _open(tmp_path / f"{name}.duckdb") as st:
            generate_demo(st, customers=300, seed=seed)
            digests.append(_digest(st))
    assert digests[0] == digests[1]
    for same_seed, other_seed in zip(digests[0], digests[2], strict=True):
        assert same_seed[0] == 0 or same_seed != other_seed


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
    assert s.prospects == round(N * P.PROSPECT_SHARE) == store.count("customers") - N
    assert s.tables == {t: store.count(t) for t in DEMO_TABLES}
    assert s.events == store.count("events")
    assert s.spend == _one(store, "SELECT sum(cost) FROM marketing_spend")
    assert s.currency == "USD" and s.seed == SEED
    assert store.count("identities") == 0
    assert json.loads(json.dumps(s.to_dict()))["revenue"] == str(s.revenue)


def test_money_adds_up_to_the_cent(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    bad_total = "SELECT count(*) FROM orders WHERE total <> subtotal - discount + shipping + tax"
    assert _one(store, bad_total) == 0
    assert _one(store, "SELECT count(*) FROM orders WHERE total % 0.01 <> 0") == 0
    lines = (
        "SELECT count(*) FROM (SELECT o.order_id, any_value(o.subtotal) s, "
        "sum(i.quantity * i.unit_price) l, count(i.line) k FROM orders o "
        "LEFT JOIN order_items i USING (order_id) GROUP BY 1) WHERE k = 0 OR s <> l"
    )
    assert _one(store, lines) == 0
    assert _one(store, "SELECT count(*) FROM order_items WHERE unit_price <= 0") == 0
    refunds = (
        "SELECT count(*) FROM orders WHERE refunded > total OR refunded < 0 "
        "OR (status = 'paid') <> (refunded = 0) OR (status = 'refunded') <> (refunded = total)"
    )
    assert _one(store, refunds) == 0
    share = _one(store, "SELECT avg((status <> 'paid')::INT) FROM orders")
    assert share == pytest.approx(P.REFUND_FULL + P.REFUND_PARTIAL, abs=0.01)


def test_unit_prices_stay_near_list_prices(demo: tuple[Store, DemoSummary]) -> None:
    """Lines are priced at list price x f so they add up to the gamma-gamma subtotal."""
    store, _ = demo
    ratios = _q(
        store,
        "SELECT quantile_cont(r, [0.05, 0.5, 0.95]) FROM (SELECT i.unit_price / p.price r "
        "FROM order_items i JOIN products p USING (product_id))",
    )[0][0]
    assert ratios[0] > 0.6 and 0.95 < ratios[1] < 1.05 and ratios[2] < 1.5


def test_companions_and_bundles_are_bought_together(demo: tuple[Store, DemoSummary]) -> None:
    """Basket analysis finds the co-purchase structure: the product pairs with high lift are
    companions or bundle members (by category), or, with the buyers' tastes (an order's
    products lean to one category), of the same category."""
    store, _ = demo
    related = {frozenset((c[0], c[3])) for c in P.CATEGORIES}
    related |= {frozenset((c[0],)) for c in P.CATEGORIES}
    related |= {frozenset((x, y)) for _, cats in P.BUNDLES for x in cats for y in cats if x != y}
    pairs = _q(
        store,
        "WITH b AS (SELECT DISTINCT order_id, product_id, category FROM order_items), "
        "n AS (SELECT count(DISTINCT order_id) n FROM b), "
        "s AS (SELECT product_id, count(*) / any_value(n) sup FROM b, n GROUP BY 1), "
        "pair AS (SELECT x.product_id a, y.product_id c, any_value(x.category) ca, "
        "any_value(y.category) cc, count(*) k FROM b x JOIN b y ON x.order_id = y.order_id "
        "AND x.product_id < y.product_id GROUP BY 1, 2) "
        "SELECT ca, cc FROM pair, n, s sa, s sc WHERE sa.product_id = a AND sc.product_id = c "
        "AND k >= 8 AND k / (sa.sup * sc.sup * n) > 5",
    )
    assert len(pairs) >= 10
    assert sum(frozenset(p) in related for p in pairs) >= 0.9 * len(pairs)


def test_events_follow_segment_spec_and_orders(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    assert _one(store, "SELECT count(*) = count(DISTINCT message_id) FROM events")
    kinds = {(t, e) for t, e in _q(store, "SELECT DISTINCT type, event FROM events")}
    assert kinds == {
        ("page", "Home"),
        ("identify", None),
        *[
            ("track", name)
            for name in (
                "Product Viewed",
                "Product Added",
                "Checkout Started",
                "Order Completed",
                "Newsletter Subscribed",
            )
        ],
    }
    unmatched = _one(
        store,
        "SELECT count(*) FROM orders o LEFT JOIN events e ON e.event = 'Order Completed' "
        "AND json_extract_string(e.properties, '$.order_id') = o.order_id "
        "AND e.timestamp = o.ordered_at AND e.user_id = o.customer_id "
        "AND json_extract(e.properties, '$.total')::DECIMAL(18, 2) = o.total "
        "WHERE e.message_id IS NULL",
    )
    assert unmatched == 0
    checks = _q(
        store,
        "SELECT min(timestamp) >= TIMESTAMP '2024-01-01', "
        "max(timestamp) < TIMESTAMP '2024-01-01' + INTERVAL 730 DAY, "
        "bool_and(sent_at >= timestamp AND received_at > sent_at), "
        "bool_and((utm_source IS NOT NULL) <= (type = 'page')), "
        "bool_and((traits IS NOT NULL) = (type = 'identify')), "
        "bool_and(json_valid(properties) OR properties IS NULL), bool_and(json_valid(context)) "
        "FROM events",
    )[0]
    assert all(checks), checks


def test_user_id_only_once_a_device_has_identified(demo: tuple[Store, DemoSummary]) -> None:
    """analytics.js behaviour: anonymous until the device's first identify with a user id,
    identified from then on; every device seen identifies at some point."""
    store, _ = demo
    rows = _q(
        store,
        "WITH e AS (SELECT *, min(timestamp) FILTER (WHERE type = 'identify' AND user_id IS "
        "NOT NULL) OVER (PARTITION BY anonymous_id) first_id FROM events) "
        "SELECT count(*) FILTER (WHERE (user_id IS NOT NULL) <> (timestamp >= first_id)), "
        "count(*) FILTER (WHERE first_id IS NULL), count(*) FILTER (WHERE user_id IS NULL) "
        "FROM e",
    )[0]
    assert rows[0] == 0 and rows[1] == 0
    assert rows[2] > 0.1 * store.count("events")  # many visits happen before identifying


def test_cart_abandonment_is_about_70_percent(demo: tuple[Store, DemoSummary]) -> None:
    """Visits (a device's events with gaps under 30 minutes) with a cart: ~70% end without
    an order."""
    store, _ = demo
    share = _one(
        store,
        "WITH e AS (SELECT anonymous_id, event, timestamp, coalesce(timestamp - lag(timestamp) "
        "OVER (PARTITION BY anonymous_id ORDER BY timestamp) > INTERVAL 30 MINUTE, true)::INT "
        "AS new FROM events), v AS (SELECT *, sum(new) OVER (PARTITION BY anonymous_id "
        "ORDER BY timestamp ROWS UNBOUNDED PRECEDING) AS visit FROM e), s AS (SELECT "
        "bool_or(event = 'Product Added') cart, bool_or(event = 'Order Completed') bought "
        "FROM v GROUP BY anonymous_id, visit) "
        "SELECT count(*) FILTER (WHERE cart AND NOT bought) / count(*) FILTER (WHERE cart) "
        "FROM s",
    )
    assert share == pytest.approx(P.CART_ABANDONMENT, abs=0.02)


def _truth(store: Store) -> list[dict[str, Any]]:
    rows = _q(
        store,
        "SELECT c.traits, count(o.order_id), coalesce(sum(o.subtotal), 0) FROM customers c "
        "LEFT JOIN orders o USING (customer_id) GROUP BY c.customer_id, c.traits",
    )
    out = []
    for traits, orders, subtotal in rows:
        doc = json.loads(traits)
        doc.update(orders=orders, subtotal=float(subtotal))
        out.append(doc)
    return out


def expected_repeats(ch: P.Channel, t: np.ndarray) -> np.ndarray:
    """BG/NBD E[X(t)] (Fader, Hardie & Lee 2005, eq. 9)."""
    a, b, r, alpha = ch.a, ch.b, ch.r, ch.alpha
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return np.asarray((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


def test_repeat_purchases_match_the_bgnbd_truth_per_channel(
    demo: tuple[Store, DemoSummary],
) -> None:
    """Per channel, mean repeat purchases ~ mean E[X(T_i)] over the channel's buyers, with
    T_i the buyer's observation time in operational days (within 4 standard errors)."""
    store, _ = demo
    buyers = [d for d in _truth(store) if "demo_truth" in d]
    assert all(d["orders"] == d["demo_truth"]["repeats"] + 1 for d in buyers)
    for ch in P.CHANNELS:
        mine = [d["demo_truth"] for d in buyers if d["demo_truth"]["channel"] == ch.name]
        observed = np.array([t["repeats"] for t in mine], dtype=float)
        expected = expected_repeats(ch, np.array([t["T"] for t in mine]))
        se = observed.std() / np.sqrt(len(observed))
        assert abs(observed.mean() - expected.mean()) < 4 * se, ch.name
        lam = np.array([t["lambda"] for t in mine])
        assert lam.mean() == pytest.approx(ch.r / ch.alpha, rel=0.25), ch.name


def test_spend_per_order_matches_gamma_gamma(demo: tuple[Store, DemoSummary]) -> None:
    """Subtotals are Gamma(p, nu_i): their sum over orders matches the sum of p / nu_i."""
    store, _ = demo
    buyers = [d for d in _truth(store) if "demo_truth" in d]
    spent = sum(d["subtotal"] for d in buyers)
    expected = sum(d["orders"] * d["demo_truth"]["expected_spend"] for d in buyers)
    assert spent / expected == pytest.approx(1.0, abs=0.03)
    mean_subtotal = float(_one(store, "SELECT avg(subtotal) FROM orders"))
    assert mean_subtotal == pytest.approx(P.GG_P * P.GG_GAMMA / (P.GG_Q - 1), rel=0.12)
    nu = np.array([d["demo_truth"]["nu"] for d in buyers])
    assert nu.mean() == pytest.approx(P.GG_Q / P.GG_GAMMA, rel=0.05)


def test_holiday_peak_and_evening_hours(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    peak, rest = _q(
        store,
        "SELECT count(*) FILTER (WHERE month(ordered_at) = 12 AND day(ordered_at) <= 20) / 40, "
        "count(*) FILTER (WHERE month(ordered_at) BETWEEN 2 AND 10) / 546 FROM orders",
    )[0]
    assert peak > 1.2 * rest
    by_hour = dict(_q(store, "SELECT hour(timestamp), count(*) FROM events GROUP BY 1"))
    assert by_hour[1] > 3 * by_hour[9]  # 8 pm vs 4 am in New York


def test_spend_per_new_buyer_is_the_true_cac(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    truth = {(n, s): v for n, s, v in _q(store, "SELECT name, scope, value FROM generator_truth")}
    spend = dict(_q(store, "SELECT channel, sum(cost) FROM marketing_spend GROUP BY 1"))
    new = dict(
        _q(
            store,
            "SELECT channel, count(*) FROM orders o WHERE ordered_at = (SELECT min(ordered_at) "
            "FROM orders p WHERE p.customer_id = o.customer_id) GROUP BY 1",
        )
    )
    for ch in P.CHANNELS:
        assert truth[("buyers", ch.name)] == new[ch.name]
        assert truth[("spend", ch.name)] == pytest.approx(float(spend.get(ch.name, 0)))
        if ch.pricing:
            assert float(spend[ch.name]) / new[ch.name] == pytest.approx(ch.cac, rel=0.15)
        else:
            assert ch.name not in spend
    days = _one(store, "SELECT count(DISTINCT date) FROM marketing_spend")
    assert days == 730


def test_identity_truth_is_recorded(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    people = _truth(store)
    owner: dict[str, str] = {}
    for doc in people:
        for device in doc["demo_devices"]:
            assert device not in owner
            owner[device] = doc["demo_person"]
    assert len({d["demo_person"] for d in people}) == len(people)
    pairs = _q(store, "SELECT DISTINCT anonymous_id, user_id FROM events WHERE user_id NOT NULL")
    person_of = dict(_q(store, "SELECT customer_id, traits->>'demo_person' FROM customers"))
    assert all(owner[anon] == person_of[user] for anon, user in pairs)
    phones = {d["demo_phone"] for d in people if "demo_phone" in d}
    sms = {i for (i,) in _q(store, "SELECT identifier FROM consents WHERE channel = 'sms'")}
    assert sms == phones and len(phones) > 0


def test_prospects_consents_and_suppressions(demo: tuple[Store, DemoSummary]) -> None:
    store, s = demo
    prospects_subscribed = _one(
        store,
        "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE "
        "o.customer_id = c.customer_id) AND EXISTS (SELECT 1 FROM consents k WHERE "
        "k.identifier = c.email AND k.status = 'subscribed')",
    )
    assert prospects_subscribed == s.prospects
    mismatched = _one(
        store,
        "SELECT count(*) FROM customers c WHERE accepts_marketing <> coalesce((SELECT "
        "arg_max(status, \"at\") = 'subscribed' FROM consents k WHERE k.identifier = c.email), "
        "false)",
    )
    assert mismatched == 0
    reasons = dict(_q(store, "SELECT reason, count(*) FROM suppressions GROUP BY 1"))
    assert set(reasons) == {"bounced", "complained"}
    assert sum(reasons.values()) < 0.03 * store.count("customers")


def test_truth_table_has_every_parameter(demo: tuple[Store, DemoSummary]) -> None:
    store, _ = demo
    rows = {(n, s): v for n, s, v in _q(store, "SELECT name, scope, value FROM generator_truth")}
    for ch in P.CHANNELS:
        for name in ("r", "alpha", "a", "b", "acquisition_share", "cac", "buyers", "spend"):
            assert (name, ch.name) in rows, (name, ch.name)
        assert rows[("r", ch.name)] == ch.r
    assert rows[("cac.search_generic", "paid_search")] == 52.0
    for name, value in (("p", P.GG_P), ("q", P.GG_Q), ("gamma", P.GG_GAMMA)):
        assert rows[(name, "global")] == value
    assert rows[("cart_abandonment", "global")] == P.CART_ABANDONMENT
    assert rows[("customers", "global")] == N and rows[("seed", "global")] == SEED


def test_refuses_a_store_with_other_data_unless_replace(tmp_path: Path) -> None:
    with _open(tmp_path / "shop.duckdb") as st:
        st.insert("imports", pa.table({"import_id": ["x"]}))
        st.insert("orders", pa.table({"order_id": ["real-1"], "currency": ["USD"]}))
        with pytest.raises(StoreError, match="not a demo store") as info:
            generate_demo(st, customers=50)
        assert "--replace" in str(info.value.hint) and "--store" in str(info.value.hint)
        assert st.count("orders") == 1  # nothing touched
        summary = generate_demo(st, customers=50, replace=True)
        assert st.count("orders") == summary.orders
        assert st.count("imports") == 0


def test_a_previous_demo_is_replaced_without_asking(tmp_path: Path) -> None:
    with _open(tmp_path / "demo.duckdb") as st:
        generate_demo(st, customers=60, seed=2)
        again = generate_demo(st, customers=40, seed=3)
        assert st.count("orders") == again.orders
        assert st.count("customers") == 40 + again.prospects
        assert _one(st, "SELECT value FROM generator_truth WHERE name = 'seed'") == 3


def test_orders_without_truth_are_not_a_demo(tmp_path: Path) -> None:
    with _open(tmp_path / "shop.duckdb") as st:
        st.insert("orders", pa.table({"order_id": ["real-1"], "currency": ["USD"]}))
        with pytest.raises(StoreError, match=r"orders \(1 rows\)"):
            generate_demo(st, customers=50)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"customers": 0}, "customers"), ({"days": 7}, "days")]
)
def test_bad_parameters(tmp_path: Path, kwargs: dict[str, int], name: str) -> None:
    with _open(tmp_path / "d.duckdb") as st, pytest.raises(ConfigError, match=name):
        generate_demo(st, **kwargs)  # type: ignore[arg-type]


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    with _open(tmp_path / "d.duckdb") as st:
        generate_demo(st, customers=30, progress=lambda t, d, n: calls.append((t, d, n)))
    assert calls[0][1] == 0 and calls[-1][1:] == (30, 30)
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and len(set(done)) > 3  # it moves within the single batch
    assert {t for t, _, _ in calls} == {"Demo: customers"}


def test_date_traits_are_drawn_as_documented(demo: tuple[Store, DemoSummary]) -> None:
    """A birthday for about a quarter of the people (aged 18-75 on the last day), store credit
    for about 8% of the buyers only, expiring within 90 days of the last day; the shares in
    the truth (docs/demo.md, "People, devices and visits")."""
    store, summary = demo
    c = store.table("customers").to_pandas()
    traits = [json.loads(t) for t in c.traits]
    last = np.datetime64("2025-12-30")  # 2024-01-01 + 730 - 1 days
    born = np.array([t["birthday"] for t in traits if "birthday" in t], dtype="datetime64[D]")
    assert abs(len(born) / len(c) - P.BIRTHDAY_SHARE) < 0.03
    age = (last - born).astype(int) / 365.25
    assert age.min() >= 18 - 0.01 and age.max() <= 75 + 0.01
    credit = [(t, "demo_truth" in t) for t in traits if "credit_expires_at" in t]
    assert all(buyer for _, buyer in credit)  # buyers only: their truth is recorded
    assert abs(len(credit) / summary.customers - P.CREDIT_SHARE) < 0.02
    due = np.array([t["credit_expires_at"] for t, _ in credit], dtype="datetime64[D]")
    assert np.abs((due - last).astype(int)).max() <= P.CREDIT_WINDOW_DAYS
    got = dict(_q(store, "SELECT name, value FROM generator_truth WHERE scope = 'global'"))
    assert got["birthday_share"] == P.BIRTHDAY_SHARE and got["credit_share"] == P.CREDIT_SHARE

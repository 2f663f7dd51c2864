"""Incremental equals full (issue 12, item 4): a demo store grown over appended days, each
day brought up to date incrementally in one store and rebuilt in full in another; after each
day the derived tables of the two are the same, row for row."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tenure.analytics import incremental as inc
from tenure.analytics.status import customer_status
from tenure.config import load_settings
from tenure.demo.generate import generate_demo
from tenure.identity import resolve_identities
from tenure.identity.privacy import delete_person
from tenure.models.beta_geo import BetaGeo
from tenure.models.gamma_gamma import GammaGamma
from tenure.predictions.predict import Fit, score_with_fit
from tenure.predictions.rescore import (
    FITS,
    last_fit,
    refit_due,
    save_fit,
    update_predictions,
)
from tenure.store import Store
from tenure.store.schema import TABLES

MEMORY = "duckdb://:memory:"
START, DAYS = date(2024, 1, 1), 90
#: canonical tables copied from the demo, and the column dating each row
DATED = {"customers": "created_at", "orders": "ordered_at", "events": "timestamp"}
COMPARED = (
    "customer_facts",
    "purchase_gaps",
    "customer_rfm",
    "customer_status",
    "stage_history",
    "customer_predictions",
)


@dataclass
class Ctx:
    as_of: date
    since: datetime | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def demo() -> dict[str, pa.Table]:
    """The rows of a small demo store, by table (without their load time)."""
    with Store(MEMORY) as s:
        generate_demo(s, customers=60, days=DAYS, seed=5)
        names = ("customers", "orders", "order_items", "events", "products", "store_meta")
        out = {n: s.table(n).to_pyarrow() for n in names}
    return {
        n: t.drop_columns(["imported_at"]) if "imported_at" in t.column_names else t
        for n, t in out.items()
    }


@dataclass(frozen=True)
class Schedule:
    """How the demo's rows arrive: the as-of day of each run, and rows moved a run later
    (late) or earlier (dated after the run's day); an update, a merge and a deletion on
    some run."""

    cuts: tuple[int, ...]
    seed: int
    late: float
    early: float
    update_at: int | None
    merge_at: int | None
    delete_at: int | None


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    n = draw(st.integers(2, 4))
    cuts = sorted(draw(st.sets(st.integers(20, DAYS - 2), min_size=n - 1, max_size=n - 1)))
    runs = len(cuts) + 1
    maybe_run = st.one_of(st.none(), st.integers(1, runs - 1))
    return Schedule(
        cuts=(*cuts, DAYS - 1),
        seed=draw(st.integers(0, 2**16)),
        late=draw(st.sampled_from([0.0, 0.1, 0.3])),
        early=draw(st.sampled_from([0.0, 0.05])),
        update_at=draw(maybe_run),
        merge_at=draw(maybe_run),
        delete_at=draw(maybe_run),
    )


def _arrival(table: pa.Table, column: str, days: list[date], s: Schedule, rng: random.Random):
    """The run each row arrives in: the first whose day covers it, moved by late/early."""
    when = table.column(column).to_pylist()
    out = []
    for t in when:
        run = next((i for i, d in enumerate(days) if t is None or t.date() <= d), len(days) - 1)
        roll = rng.random()
        if roll < s.late:
            run = min(run + 1, len(days) - 1)
        elif roll < s.late + s.early:
            run = max(run - 1, 0)
        out.append(run)
    return out


def _plan(demo: dict[str, pa.Table], s: Schedule) -> tuple[list[date], dict[str, list[int]]]:
    days = [START + timedelta(days=c) for c in s.cuts]
    rng = random.Random(s.seed)
    runs = {n: _arrival(demo[n], c, days, s, rng) for n, c in DATED.items()}
    order_run = dict(
        zip(demo["orders"].column("order_id").to_pylist(), runs["orders"], strict=True)
    )
    # an order's lines come with it, or (late) a run after it
    runs["order_items"] = [
        min(order_run[o] + (rng.random() < s.late), len(days) - 1)
        for o in demo["order_items"].column("order_id").to_pylist()
    ]
    return days, runs


def _append(store: Store, demo: dict[str, pa.Table], runs: dict[str, list[int]], i: int) -> None:
    for name, arrival in runs.items():
        mask = pa.array([r == i for r in arrival])
        store.insert(name, demo[name].filter(mask))


def _update_an_order(store: Store, rng: random.Random) -> None:
    """An ``--update`` of one stored order: moved to another customer, total changed; the
    previous version goes to row_history (as the importer's update path does)."""
    orders = store.table("orders").to_pyarrow()
    customers = sorted(set(orders.column("customer_id").to_pylist()) - {None})
    if orders.num_rows < 2 or len(customers) < 2:
        return
    k = rng.randrange(orders.num_rows)
    row = orders.slice(k, 1).to_pylist()[0]
    old = dict(row)
    row["customer_id"] = rng.choice([c for c in customers if c != row["customer_id"]])
    row["total"] = row["total"] * 2 if row["total"] is not None else None
    row.pop("imported_at")
    kept = orders.filter(pc.not_equal(orders.column("order_id"), row["order_id"]))
    store.truncate("orders")
    store.insert("orders", kept)
    store.insert("orders", pa.Table.from_pylist([row]))
    history = {k: (str(v) if v is not None else None) for k, v in old.items()}
    store.insert(
        "row_history",
        pa.table(
            {
                "entity": ["orders"],
                "record_key": [json.dumps({"order_id": row["order_id"]})],
                "row": [json.dumps(history, separators=(",", ":"))],
                "replaced_at": pa.array([_now()], pa.timestamp("us")),
                "import_id": ["test-update"],
            }
        ),
    )


def _merge_a_visitor(store: Store, rng: random.Random, day: date) -> None:
    """An identify event tying an anonymous visitor's device to a customer: the two merge."""
    e = store.table("events")
    anon = e.group_by("anonymous_id").agg(users=e.user_id.count()).filter(lambda t: t.users == 0)
    devices = sorted(anon.anonymous_id.to_pyarrow().to_pylist())
    users = sorted(set(store.table("customers").customer_id.to_pyarrow().to_pylist()))
    if not devices or not users:
        return
    at = datetime(day.year, day.month, day.day, 12)
    event = {
        "message_id": f"merge-{rng.random()}",
        "type": "identify",
        "anonymous_id": rng.choice(devices),
        "user_id": rng.choice(users),
        "timestamp": at,
        "received_at": at,
        "source": "test",
    }
    store.insert("events", pa.Table.from_pylist([event]))


def _delete_a_buyer(store: Store, rng: random.Random) -> None:
    o = store.table("orders")
    ids = sorted(set(o.customer_id.to_pyarrow().to_pylist()) - {None})
    if ids:
        delete_person(store, "customer_id:" + rng.choice(ids))


def _frame(store: Store, name: str) -> pd.DataFrame:
    return _sorted(store.read(name).to_pandas())


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """Columns and rows in one order, types as wide on every engine."""
    for column in df.columns:  # engines differ in the width of a type, not its values
        if pd.api.types.is_datetime64_any_dtype(df[column]):
            df[column] = df[column].astype("datetime64[ns]")
        elif pd.api.types.is_integer_dtype(df[column]):  # Spark's row_number is an int32
            df[column] = df[column].astype("int64")
    df = df[sorted(df.columns)]
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def assert_same(a: Store, b: Store, names: tuple[str, ...] = COMPARED) -> None:
    """The tables of ``a`` and ``b`` hold the same rows: exact but floats (to 1e-9)."""
    for name in names:
        left, right = _frame(a, name), _frame(b, name)
        pd.testing.assert_frame_equal(
            left, right, check_exact=False, rtol=1e-9, atol=1e-9, obj=name
        )


def _open(**settings: Any) -> Store:
    return Store(MEMORY, settings=load_settings(store_url=MEMORY, **settings))


def seeded_fit(day: date) -> Fit:
    """BG/NBD and Gamma-Gamma fitted on 3,000 simulated buyers (the demo store of the test
    is too small to fit them), with a VIP threshold."""
    rng = np.random.default_rng(7)
    n = 3000
    age = rng.uniform(30.0, 200.0, n)
    rate = rng.gamma(0.8, 1 / 25.0, n)
    drop = rng.beta(1.0, 4.0, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = rng.exponential(1 / rate[i])
        while t < age[i]:
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < drop[i]:
                break
            t += rng.exponential(1 / rate[i])
    repeat = x > 0
    spend = rng.gamma(4.0, 10.0, int(repeat.sum()))
    purchase = BetaGeo().fit(x, np.round(t_x), np.round(age))
    gg = GammaGamma().fit(x[repeat], spend)
    return Fit(day, "BetaGeo", purchase, gg, 60.0, 12, 1.1 ** (1 / 12) - 1)


Step = Callable[[Store, Any], dict[str, int]]
FULL: tuple[Step, ...] = (inc.build_facts, inc.build_rfm, inc.build_status, inc.record_history)
INCREMENTAL: tuple[Step, ...] = (
    inc.update_facts,
    inc.build_rfm,
    inc.build_status,
    inc.record_history,
)


def _copy(source: Store, target: Store) -> None:
    """Every canonical table of ``source`` into ``target`` (rows and load times); the stage
    history of persons deleted in ``source`` deleted in ``target`` too (as a privacy
    deletion does)."""
    for name in TABLES:
        target.truncate(name)
        target.insert(name, source.table(name).to_pyarrow())
    if target.exists("stage_history"):
        gone = source.table("privacy_audit").person_id.to_pyarrow().to_pylist()
        h = target.read("stage_history")
        kept = h.filter(~h.person_id.isin(gone)).to_pyarrow() if gone else None
        if kept is not None:
            target.replace("stage_history", ibis.memtable(kept))


def grow(
    demo: dict[str, pa.Table],
    s: Schedule,
    check: Callable[[Store, Store], None],
    store: Store | None = None,
) -> None:
    """Grow ``store`` (default: a new DuckDB store) by the schedule ``s``, brought up to date
    incrementally after each run; a DuckDB store holding the same canonical rows is rebuilt
    in full; ``check`` compares the two after each run."""
    days, runs = _plan(demo, s)
    rng = random.Random(s.seed)
    with _open(refit_days=10_000, refit_growth=1e6) as own, _open() as full:
        store = store if store is not None else own
        _empty(store)
        store.insert("products", demo["products"])
        store.set_meta("reporting_currency", "USD", by="test")
        since: datetime | None = None
        for i, day in enumerate(days):
            _append(store, demo, runs, i)
            if s.merge_at == i:
                _merge_a_visitor(store, rng, day)
            if s.update_at == i:
                _update_an_order(store, rng)
            resolve_identities(store)
            if s.delete_at == i:
                _delete_a_buyer(store, rng)
            started = _now()
            for step in INCREMENTAL if since is not None else FULL:
                step(store, Ctx(day, since))
            if since is None:  # too few buyers to fit a model: a fit made elsewhere
                save_fit(store, seeded_fit(day))
            update_predictions(store, Ctx(day, since))
            since = started
            _copy(store, full)
            for step in FULL:
                step(full, Ctx(day))
            _score_like(store, full, day)
            check(store, full)


def _empty(store: Store) -> None:
    """No canonical row, no derived table (a Spark store is shared by the session)."""
    for name in TABLES:
        store.truncate(name)
    for name in (*COMPARED, inc.SEEN, FITS):
        store.drop(name)


def _score_like(store: Store, full: Store, day: date) -> None:
    """``full``'s predictions scored with ``store``'s stored fit (the same fit)."""
    found = last_fit(store)
    assert found is not None
    full.replace(
        "customer_predictions", score_with_fit(full, full.read("customer_facts"), day, found[0])
    )


def _same_and_status_as_orders(a: Store, b: Store) -> None:
    assert_same(a, b)
    day = b.read("customer_facts").as_of.max().execute()
    day = day.date() if hasattr(day, "date") else day
    by_orders = _sorted(customer_status(b, as_of=day).to_pandas())
    stored = _frame(b, "customer_status")
    pd.testing.assert_frame_equal(stored, by_orders, check_exact=False, rtol=1e-9, atol=1e-9)


#: late rows, early rows, an update, a merge and a deletion, in two runs
ONE = Schedule((40, DAYS - 1), 3, 0.3, 0.05, update_at=1, merge_at=1, delete_at=1)


def test_incremental_equals_full(demo: dict[str, pa.Table]) -> None:
    """After a full run and an incremental one (late and early rows, an updated order moved
    to another customer, a merge, a privacy deletion), incremental = full for facts, gaps,
    RFM, statuses, stage history and predictions (the same fit); the statuses from the
    facts equal those from the orders."""
    grow(demo, ONE, _same_and_status_as_orders)


@pytest.mark.slow
@settings(
    max_examples=5,
    deadline=None,
    # each example grows two stores over several runs: shrinking would take many minutes
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(s=schedules())
def test_incremental_equals_full_on_any_schedule(demo: dict[str, pa.Table], s: Schedule) -> None:
    """The same over append schedules: 2-4 runs, rows late or early, the update, merge and
    deletion on any run or none."""
    grow(demo, s, _same_and_status_as_orders)


@pytest.mark.spark
@pytest.mark.slow
def test_incremental_equals_full_on_spark(
    demo: dict[str, pa.Table], spark_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incremental run on PySpark gives the rows of a full rebuild (on DuckDB)."""
    # the refit rule of grow()'s own store: the stored fit is re-scored, never refitted
    rule = {"refit_days": 10_000, "refit_growth": 1e6}
    monkeypatch.setattr(spark_store, "settings", spark_store.settings.model_copy(update=rule))
    schedule = Schedule((30, 60, DAYS - 1), 11, 0.2, 0.05, update_at=1, merge_at=2, delete_at=2)
    grow(demo, schedule, assert_same, store=spark_store)


def test_a_quiet_day_touches_nobody(demo: dict[str, pa.Table]) -> None:
    """A run with nothing new and the same day computes nobody again."""
    s = Schedule((DAYS - 1,), 1, 0.0, 0.0, None, None, None)
    days, runs = _plan(demo, s)
    with _open() as store:
        store.insert("products", demo["products"])
        _append(store, demo, runs, 0)
        resolve_identities(store)
        inc.build_facts(store, Ctx(days[0]))
        ctx = Ctx(days[0], _now())
        rows = inc.update_facts(store, ctx)
        assert ctx.outputs["touched_persons"] == 0
        assert rows["customer_facts"] == store.read("customer_facts").count().execute() > 0


def test_refit_rule(demo: dict[str, pa.Table]) -> None:
    """Re-score until the fit is refit_days old or buyers/orders grew by refit_growth."""
    s = Schedule((DAYS - 1,), 1, 0.0, 0.0, None, None, None)
    days, runs = _plan(demo, s)
    day = days[0]
    with _open(refit_days=30, refit_growth=0.10) as store:
        store.insert("products", demo["products"])
        _append(store, demo, runs, 0)
        resolve_identities(store)
        inc.build_facts(store, Ctx(day))
        assert refit_due(store, day) == "no stored fit"
        save_fit(store, seeded_fit(day))
        assert refit_due(store, day) is None
        assert refit_due(store, day + timedelta(days=29)) is None
        assert refit_due(store, day + timedelta(days=30)) == (
            f"the fit of {day.isoformat()} is 30 days old (refit_days 30)"
        )
        assert "days old" in (refit_due(store, day - timedelta(days=1)) or "")
        # a tenth more orders: the fit is refitted
        f = store.read("customer_facts")
        orders = int(f.orders.sum().execute())
        grown = f.mutate(
            orders=ibis.ifelse(f.person_id == f.person_id.max(), f.orders + orders, f.orders)
        )
        store.replace("customer_facts", grown.cache())
        assert refit_due(store, day) == (
            f"orders grew from {orders:,} to {2 * orders:,} (refit_growth 0.1)"
        )


def test_the_daily_run_is_incremental_and_equals_a_full_rebuild(demo_path: Path) -> None:
    """Through :func:`tenure.pipeline.run`: a run after new data and another day runs the
    facts incrementally (and the steps after them), with the rows a full rebuild gives."""
    from tenure.analytics.facts import customer_facts
    from tenure.analytics.rfm import rfm
    from tenure.pipeline import run
    from tests.pipeline.conftest import END, open_store

    steps = ["customer_facts", "customer_rfm", "customer_status", "stage_history"]
    with open_store(demo_path) as store:
        first = run(store, steps=steps, as_of=END - timedelta(days=7))
        assert {s.step: s.mode for s in first.steps} == dict.fromkeys(steps, "full")
        order = store.table("orders").limit(1).to_pyarrow().to_pylist()[0]
        order.update(order_id="NEW-1", ordered_at=datetime(2025, 2, 1, 10), imported_at=None)
        store.insert("orders", pa.Table.from_pylist([order]).drop_columns(["imported_at"]))
        second = run(store, steps=steps, as_of=END)
        assert {s.step: s.mode for s in second.steps} == dict.fromkeys(steps, "incremental")
        facts = second.get("customer_facts")
        assert facts is not None
        assert facts.rows["customer_facts"] == store.read("customer_facts").count().execute()
        full = {
            "customer_facts": customer_facts(store, as_of=END),
            "customer_status": customer_status(store, as_of=END),
        }
        full["customer_rfm"] = rfm(store, as_of=END, facts=full["customer_facts"])
        for name, expr in full.items():
            expected = _sorted(expr.to_pandas())
            pd.testing.assert_frame_equal(
                _frame(store, name), expected, check_exact=False, rtol=1e-9, atol=1e-9, obj=name
            )

"""The flow backtest on a hand-built store with a frozen history (docs/flows.md, "Backtest"):
its entries, steps, messages and outcomes equal what the test computes independently from the
raw events and orders, and the store's own flow tables are untouched."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.backtest import BacktestResult, backtest_flow, only_ways_in
from tenure.engage.charts import backtest_figure
from tenure.engage.flow_spec import load_flows, parse_flow, shipped_dir
from tenure.engage.flows import run_tick, set_paused
from tenure.errors import ConfigError
from tests.engage.flowkit import all_pending, build, event, order, python_holdout, python_share

CART = load_flows([shipped_dir() / "abandoned_cart.yaml"])[0]
START = datetime(2026, 3, 1)
END = datetime(2026, 3, 7)
H = timedelta(hours=1)
D = timedelta(days=1)


def history() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """400 persons (seed 11), each with one to three checkouts from two days before the
    window to its end; after some checkouts an order within the hour (no entry), after
    others an order within two weeks (an entry, then a conversion or not)."""
    rng = random.Random(11)
    events: list[dict[str, object]] = []
    orders: list[dict[str, object]] = []
    for i in range(400):
        person = f"q{i:03d}"
        at = START - 2 * D + timedelta(minutes=rng.randrange(0, 8 * 24 * 60))
        for k in range(rng.choice((1, 1, 2, 3))):
            events.append(event(f"e{i}-{k}", person, "Checkout Started", at))
            luck = rng.random()
            if luck < 0.25:
                orders.append(
                    order(f"o{i}-{k}", person, at + timedelta(minutes=rng.randrange(5, 55)))
                )
            elif luck < 0.6:
                gap = timedelta(minutes=rng.randrange(2 * 60, 14 * 24 * 60))
                orders.append(order(f"o{i}-{k}", person, at + gap, total=10.0 + i % 7))
            at += timedelta(hours=rng.randrange(2, 8 * 24))
    return events, orders


def expected_entries(
    events: list[dict[str, object]], orders: list[dict[str, object]]
) -> pd.DataFrame:
    """Independently: each checkout whose hour ends in (START, END] with no order in that hour
    enters, unless the person entered less than 7 days before (the flow's re-entry rule;
    its stays last under 4 days, so the open-stay rule adds nothing)."""
    e = pd.DataFrame(events)
    e["person"] = e.anonymous_id.str.removeprefix("a-")
    o = pd.DataFrame(orders)
    o["person"] = o.customer_id.str.removeprefix("c-")
    rows = []
    for person, group in e.sort_values("timestamp").groupby("person"):
        bought = o[o.person == person].ordered_at
        last = None
        for at in group.timestamp:
            ready = at + H
            if not (START < ready <= END):
                continue
            if ((bought >= at) & (bought <= ready)).any():
                continue
            if last is not None and last > ready - 7 * D:
                continue
            rows.append({"person": person, "entered_at": ready})
            last = ready
    return pd.DataFrame(rows)


def expected_outcome(
    entries: pd.DataFrame, orders: list[dict[str, object]]
) -> dict[bool, dict[str, float]]:
    """Independently: per group (held out or not), persons, converted persons, orders and
    revenue within 7 days after each person's first entry."""
    o = pd.DataFrame(orders)
    o["person"] = o.customer_id.str.removeprefix("c-")
    first = entries.groupby("person").entered_at.min()
    out: dict[bool, dict[str, float]] = {
        h: {"persons": 0, "converted": 0, "orders": 0, "revenue": 0.0} for h in (False, True)
    }
    for person, at in first.items():
        held = python_share(str(person), CART.name) < CART.holdout
        mine = o[(o.person == person) & (o.ordered_at > at) & (o.ordered_at <= at + 7 * D)]
        g = out[held]
        g["persons"] += 1
        g["converted"] += int(len(mine) > 0)
        g["orders"] += len(mine)
        g["revenue"] += float(mine.total.sum())
    return out


@pytest.fixture
def cart_store(flow_store: Store) -> Store:
    events, orders = history()
    build(flow_store, events, orders)
    return flow_store


def run(store: Store, **kw: object) -> BacktestResult:
    return backtest_flow(
        store,
        CART,
        START,
        END,
        decide=all_pending,
        holdout=python_holdout,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BacktestResult]:
    """The backtest with a tick a day, once for the module."""
    path = tmp_path_factory.mktemp("backtest") / "cart.duckdb"
    with Store(f"duckdb://{path}") as store:
        build(store, *history())
        yield run(store)


def test_entries_steps_and_outcome_reconcile_with_the_history(daily: BacktestResult) -> None:
    events, orders = history()
    want = expected_entries(events, orders)
    result = daily
    assert result.ticks == 6
    assert result.entered == len(want) > 100
    assert result.persons == want.person.nunique()
    held = {p for p in want.person if python_share(p, CART.name) < CART.holdout}
    assert result.holdout == len(held) > 0
    steps = result.steps.set_index("step")
    # everyone entering runs the first send at once (nobody can have ordered since entry)
    assert steps.loc["email_cart", "stays"] == len(want)
    assert steps.loc["email_cart", "persons"] == want.person.nunique()
    assert steps.loc["wait_1d", "stays"] == len(want)
    # a stay runs each later step or waits at it or left on an order before it
    for a, b in (("free_delivery", "wait_2d"), ("wait_2d", "still_no_order")):
        assert (
            steps.loc[a, "stays"]
            == steps.loc[b, "stays"] + steps.loc[b, "waiting"] + steps.loc[b, "exited"]
        )
    ran = steps.loc["free_delivery"]
    assert ran.stays + ran.waiting + ran.exited == len(want)
    # every send is a message, each on its day
    sends = steps.loc[["email_cart", "free_delivery", "last_call"], "stays"].sum()
    assert result.daily.total.sum() == sends
    assert result.daily.holdout.sum() + result.daily.pending.sum() == sends
    assert result.capped == 0 and result.daily.capped.sum() == 0
    got = result.outcome.set_index("group")
    exp = expected_outcome(want, orders)
    for group, held_out in (("targeted", False), ("holdout", True)):
        for key in ("persons", "converted", "orders"):
            assert got.loc[group, key] == exp[held_out][key], (group, key)
        assert got.loc[group, "revenue"] == pytest.approx(exp[held_out]["revenue"])
        conv = exp[held_out]["converted"] / exp[held_out]["persons"]
        assert got.loc[group, "conversion"] == pytest.approx(conv)
    diff = got.loc["targeted", "conversion"] - got.loc["holdout", "conversion"]
    assert got.loc["difference", "conversion"] == pytest.approx(diff)


def test_the_store_is_untouched(cart_store: Store) -> None:
    run_tick(cart_store, [CART], START + 2 * D, decide=all_pending, holdout=python_holdout)
    before = {t: cart_store.table(t).to_pandas() for t in ("messages", "flow_state", "flow_ticks")}
    tables = set(cart_store.tables())
    assert len(before["messages"]) > 0
    run(cart_store, step=6 * D)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(cart_store.table(name).to_pandas(), frame)
    assert set(cart_store.tables()) == tables  # no scratch or shadow left behind


def test_a_paused_flow_replays_and_late_ticks_decide_the_same(
    cart_store: Store, daily: BacktestResult
) -> None:
    set_paused(cart_store, CART, True)
    # two ticks instead of six: the same decisions (the stand-in policy ignores the tick's
    # time; the real one sends a late decision at the tick, docs/flows.md "The step")
    late = run(cart_store, step=3 * D)
    assert late.ticks == 2
    assert late.entered == daily.entered > 0
    pd.testing.assert_frame_equal(late.steps, daily.steps)
    pd.testing.assert_frame_equal(late.daily, daily.daily)
    pd.testing.assert_frame_equal(late.outcome, daily.outcome)


def test_no_holdout_means_no_comparison(cart_store: Store) -> None:
    result = run(cart_store, holdout_share=0.0, step=6 * D)
    got = result.outcome.set_index("group")
    assert result.holdout == 0 and got.loc["holdout", "persons"] == 0
    assert pd.isna(got.loc["holdout", "conversion"])  # unknown, never 0
    assert pd.isna(got.loc["difference", "conversion"])
    assert got.loc["targeted", "persons"] == result.persons


def test_the_one_way_into_each_step() -> None:
    ways = only_ways_in(CART)
    assert ways["wait_1d"] == "email_cart"
    assert ways["still_no_order"] == "wait_2d"
    assert ways["cart_code"] == "still_no_order"
    assert "done" not in ways  # from the branch and from the last call
    assert "email_cart" not in ways


@pytest.mark.parametrize(
    ("kw", "said"),
    [
        ({"end": START}, "is not after its start"),
        ({"window_days": 0}, "at least 1 day"),
        ({"holdout_share": 1.5}, "in [0, 1)"),
        ({"step": timedelta(0)}, "must be positive"),
    ],
)
def test_bad_arguments_are_refused(flow_store: Store, kw: dict[str, object], said: str) -> None:
    args: dict[str, object] = {"end": END, **kw}
    end = args.pop("end")
    with pytest.raises(ConfigError, match=said.replace("[", r"\[").replace(")", r"\)")):
        backtest_flow(flow_store, CART, START, end, decide=all_pending, **args)  # type: ignore[arg-type]


def test_a_read_only_store_replays(cart_store: Store) -> None:
    path = cart_store.file
    cart_store.close()
    with Store(f"duckdb://{path}", read_only=True) as store:
        result = run(store, step=6 * D)
        assert result.entered > 0 and store.count("messages") == 0


def test_the_chart_draws_the_tables(daily: BacktestResult) -> None:
    fig = backtest_figure(daily)
    days, steps, outcome = fig.axes
    assert sum(p.get_height() for p in days.patches) == daily.daily.total.sum()
    assert [p.get_width() for p in steps.patches] == daily.steps.persons.tolist()[::-1]
    rates = daily.outcome.set_index("group").conversion
    heights = [p.get_height() for p in outcome.patches]
    assert heights == pytest.approx([100 * rates["targeted"], 100 * rates["holdout"]])


def test_a_skipped_trigger_is_noted(cart_store: Store) -> None:
    flow = parse_flow(
        "name: seg\ntrigger: {segment: vip}\nsteps:\n  - {id: a, exit: true}\n", "seg.yaml"
    )
    result = backtest_flow(cart_store, flow, START, END, step=6 * D, decide=all_pending)
    assert result.entered == 0
    assert result.notes and "segment_membership" in result.notes[0]

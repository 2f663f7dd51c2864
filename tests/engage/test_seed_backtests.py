"""Every shipped flow's 90-day backtest on the demo store as `tenure demo` builds it (800
customers, its default two years from 2024-01-01, seed 7) after `tenure run` reconciles with
the raw tables: its entries, and the stays that reach a later step (after the waits, less
those who ordered since entering), equal what tests/engage/seedkit.py computes in pandas,
never through the engine.

The demo carries the history the triggers replay (docs/demo.md, "History"): the statuses
backfilled weekly over the last quarter, the journey stages and every segment recorded every
three weeks, and the customers' ``birthday`` and ``credit_expires_at`` traits; `tenure run`
adds the last day. Two years, not the one of the tests' shared demo: with ``lapsed_days``
365 nobody lapses within the first year, so ``win_back`` would enter nobody."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.backtest import BacktestResult, backtest_flow
from tenure.engage.flow_spec import Flow, load_flows, shipped_dir
from tenure.engage.flows import tick_clock
from tests.cli.cli_examples import build_demo
from tests.engage import seedkit as kit
from tests.engage.flowkit import all_pending, python_holdout

pytestmark = pytest.mark.slow
QUARTER = timedelta(days=90)
DAY = timedelta(days=1)
#: The span of the store: `tenure demo`'s default.
DAYS = 730
#: The engine's own tables, which a backtest leaves as they are.
LIVE = ("messages", "flow_state", "flow_ticks")
#: Their row counts in the store of :func:`seeded` (after its `tenure run`'s tick).
LIVE_ROWS: dict[str, int] = {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo store of the module's docstring, as built and run: nothing added."""
    url = build_demo(f"duckdb://{tmp_path_factory.mktemp('seed') / 'demo.duckdb'}", days=DAYS)
    with Store(url) as store:
        LIVE_ROWS.update({name: store.count(name) for name in LIVE})
        yield store


def _flow(name: str) -> Flow:
    return load_flows([shipped_dir() / f"{name}.yaml"])[0]


def _run(
    store: Store, name: str, start: datetime, end: datetime, step: timedelta
) -> BacktestResult:
    return backtest_flow(
        store, _flow(name), start, end, step=step, decide=all_pending, holdout=python_holdout
    )


def _window(store: Store) -> tuple[datetime, datetime]:
    end = tick_clock(store)
    return end - QUARTER, end


def _check(store: Store, result: BacktestResult, want: pd.DataFrame, steps: dict[str, int]) -> None:
    """The backtest's entries, persons and the stays of ``steps`` are those computed; the
    store's own flow tables untouched."""
    assert result.entered == len(want) > 0, result.flow
    assert result.persons == want.person.nunique(), result.flow
    ran = result.steps.set_index("step").stays.to_dict()
    assert {s: ran[s] for s in steps} == steps, result.flow
    assert result.notes == []
    assert {name: store.count(name) for name in LIVE} == LIVE_ROWS


def _later(store: Store, want: pd.DataFrame, delay: timedelta, end: datetime) -> int:
    """The stays still without an order ``delay`` after entering, by ``end``."""
    return len(kit.still_without_order(want, kit.purchases(store), want.when + delay, end))


# --- event triggers ------------------------------------------------------------------------


def test_abandoned_cart(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.event_instances(seeded, "Checkout Started", timedelta(hours=1))
    want = kit.entries(found, start, end, timedelta(days=7))
    result = _run(seeded, "abandoned_cart", start, end, QUARTER)
    last = _later(seeded, want, 3 * DAY, end)
    _check(seeded, result, want, {"email_cart": len(want), "last_call": last, "cart_code": last})
    assert len(want) > 50


def test_welcome_series(seeded: Store) -> None:
    start, end = _window(seeded)
    want = kit.entries(kit.event_instances(seeded, "Newsletter Subscribed"), start, end, "never")
    result = _run(seeded, "welcome_series", start, end, QUARTER)
    morning = kit.next_local(want.when + 2 * DAY, want.person, time(10), seeded)
    buys = kit.purchases(seeded)
    second = kit.still_without_order(want, buys, morning, end)
    third = kit.still_without_order(want, buys, morning + 5 * DAY, end)
    _check(
        seeded,
        result,
        want,
        {"welcome": len(want), "best_sellers": len(second), "offer": len(third)},
    )


def test_cart_cross_sell(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.event_instances(seeded, "Product Added")
    want = kit.entries(found, start, end, timedelta(days=14))
    result = _run(seeded, "cart_cross_sell", start, end, QUARTER)
    _check(seeded, result, want, {"bought_together": len(want)})
    assert (want.groupby("person").size() > 1).any()  # re-entries after 14 days


def test_post_purchase(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.event_instances(seeded, "Order Completed")
    want = kit.entries(found, start, end, timedelta(days=30))
    result = _run(seeded, "post_purchase", start, end, QUARTER)
    steps = {
        "thanks": len(want),
        "how_to": int((want.when + 7 * DAY <= end).sum()),
        "add_ons": int((want.when + 21 * DAY <= end).sum()),
    }
    _check(seeded, result, want, steps)


# --- segment triggers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "segment", "reentry", "first", "later", "delay"),
    [
        ("browse_abandonment", "browse_abandoners", timedelta(days=7), "evening", "viewed", 4),
        ("subscriber_activation", "new_subscribers", "never", "wait_3d", "credit", 7 * 24),
        ("discount_escalation", "one_time_buyers", timedelta(days=90), "content", "ten", 7 * 24),
        (
            "cross_category",
            "cross_category_candidates",
            timedelta(days=60),
            "other_category",
            None,
            0,
        ),
        ("vip", "vip", timedelta(days=180), "tier", "welcome_vip", 0),
        ("detractor_recovery", "detractors", timedelta(days=90), "service", "apology", 0),
    ],
)
def test_segment_flows(
    seeded: Store,
    flow: str,
    segment: str,
    reentry: str | timedelta,
    first: str,
    later: str | None,
    delay: int,
) -> None:
    start, end = _window(seeded)
    want = kit.entries(kit.segment_instances(seeded, segment), start, end, reentry)
    result = _run(seeded, flow, start, end, QUARTER)
    steps = {first: len(want)}
    if later is not None:
        exits = _flow(flow).exit_when
        steps[later] = (
            _later(seeded, want, timedelta(hours=delay), end)
            if exits
            else int((want.when + timedelta(hours=delay) <= end).sum())
        )
    _check(seeded, result, want, steps)


# --- status and stage triggers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "table", "column", "value", "reentry", "first", "later", "delay"),
    [
        (
            "at_risk_reactivation",
            "stage_history",
            "status",
            "at_risk",
            90,
            "news",
            "free_delivery",
            5,
        ),
        ("win_back", "stage_history", "status", "lapsed", 180, "whats_new", "win_back_code", 7),
        (
            "referral_invitation",
            "journey_history",
            "stage",
            "advocate",
            180,
            "wait_1d",
            "invite",
            1,
        ),
    ],
)
def test_history_flows(
    seeded: Store,
    flow: str,
    table: str,
    column: str,
    value: str,
    reentry: int,
    first: str,
    later: str,
    delay: int,
) -> None:
    start, end = _window(seeded)
    found = kit.history_instances(seeded, table, column, value)
    want = kit.entries(found, start, end, timedelta(days=reentry))
    result = _run(seeded, flow, start, end, QUARTER)
    if _flow(flow).exit_when:
        n = _later(seeded, want, timedelta(days=delay), end)
    else:
        n = int((want.when + timedelta(days=delay) <= end).sum())
    _check(seeded, result, want, {first: len(want), later: n})


def test_ask_opinion(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.history_instances(seeded, "journey_history", "stage", "develop")
    want = kit.entries(found, start, end, "never")
    result = _run(seeded, "ask_opinion", start, end, QUARTER)
    ask = kit.next_local(want.when + 14 * DAY, want.person, time(15), seeded)
    _check(seeded, result, want, {"wait_14d": len(want), "ask": int((ask <= end).sum())})


# --- date triggers -------------------------------------------------------------------------


def test_credit_expiry_reminder(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.date_instances(seeded, "credit_expires_at", -7 * DAY)
    want = kit.entries(found, start, end, "always")
    result = _run(seeded, "credit_expiry_reminder", start, end, QUARTER)
    at = kit.next_local(want.when, want.person, time(10), seeded)
    _check(seeded, result, want, {"morning": len(want), "reminder": int((at <= end).sum())})


def test_birthday(seeded: Store) -> None:
    start, end = _window(seeded)
    found = kit.date_instances(seeded, "birthday", timedelta(0), years=range(2023, 2026))
    want = kit.entries(found, start, end, "always")
    result = _run(seeded, "birthday", start, end, QUARTER)
    at = kit.next_local(want.when, want.person, time(9), seeded)
    _check(seeded, result, want, {"gift": len(want), "greeting": int((at <= end).sum())})


# --- schedules -----------------------------------------------------------------------------


def _days(start: datetime, end: datetime) -> list[date]:
    first = start.date() - DAY
    return [first + k * DAY for k in range((end.date() - first).days + 2)]


def test_newsletter(seeded: Store) -> None:
    start, end = _window(seeded)
    mondays = [datetime.combine(d, time(10)) for d in _days(start, end) if d.weekday() == 0]
    found = kit.schedule_instances(seeded, mondays, "one_time_buyers")
    want = kit.entries(found, start, end, "always")
    # a 90-day step is cut to 63 days: a tick enters a person at most 10 times (ROUNDS),
    # and readers in the segment all quarter get more issues (up to 13)
    result = _run(seeded, "newsletter", start, end, QUARTER)
    _check(seeded, result, want, {"issue": len(want)})
    assert result.ticks == 2 and (want.groupby("person").size() > 10).any()


def test_loyalty_offer(seeded: Store) -> None:
    start, end = _window(seeded)
    firsts = [datetime.combine(d, time(9)) for d in _days(start, end) if d.day == 1]
    want = kit.entries(kit.schedule_instances(seeded, firsts, "vip"), start, end, "always")
    result = _run(seeded, "loyalty_offer", start, end, QUARTER)
    _check(seeded, result, want, {"vip_perk": len(want), "early_access": len(want)})


def test_seasonal(seeded: Store) -> None:
    """The one-off campaign of 2026-11-27: the quarter before it, to everyone known (the
    demo's customers and identified e-mails)."""
    end = datetime(2026, 11, 28)
    start = end - QUARTER
    by = kit.identity_maps(seeded)
    c = seeded.table("customers").to_pandas()
    known = set(c.customer_id.map(by.get("customer_id", {})).fillna(c.customer_id))
    known |= set(by.get("email", {}).values())
    found = kit.schedule_instances(
        seeded, [datetime(2026, 11, 27, 9)], None, pd.Series(sorted(known))
    )
    want = kit.entries(found, start, end, "always")
    result = _run(seeded, "seasonal", start, end, QUARTER)
    _check(seeded, result, want, {"campaign": len(want)})


def test_every_shipped_flow_is_reconciled() -> None:
    here = Path(__file__).read_text()
    for path in shipped_dir().glob("*.yaml"):
        assert f'"{path.stem}"' in here, path.stem

"""The demo's parts on their own: seasonal clock, baskets, exact money, identifiers."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import Buyers, draw_purchases
from tenure.demo.catalog import basket, make_catalog
from tenure.demo.clock import clock, holiday_factor

CLOCK = clock(date(2024, 1, 1), 730)
CATALOG = make_catalog(np.random.default_rng(0))


def test_operational_time_spans_the_period_and_inverts() -> None:
    assert CLOCK.cumulative[0] == 0 and CLOCK.cumulative[-1] == pytest.approx(730)
    assert np.all(np.diff(CLOCK.cumulative) > 0)
    t = np.linspace(0, 730, 1001)
    assert CLOCK.to_calendar(CLOCK.to_operational(t)) == pytest.approx(t, abs=1e-9)


def test_black_friday_is_the_day_after_the_fourth_thursday_of_november() -> None:
    days = [date(2024, 11, d) for d in range(27, 31)] + [date(2025, 11, 28)]
    bf = P.BLACK_FRIDAY_TO_CYBER_MONDAY
    assert list(holiday_factor(days)) == [1.0, 1.0, bf, bf, bf]
    assert holiday_factor([date(2024, 12, 3)])[0] == P.CYBER_MONDAY_TO_DEC_20
    assert holiday_factor([date(2024, 12, 25)])[0] == P.CHRISTMAS


def test_calendar_draws_follow_the_seasonal_intensity() -> None:
    rng = np.random.default_rng(1)
    day = CLOCK.uniform(rng, np.zeros(400_000), np.full(400_000, 730.0))
    counts = np.bincount(day.astype(int), minlength=730)
    black_friday_2024 = (date(2024, 11, 29) - date(2024, 1, 1)).days
    ratio = counts[black_friday_2024] / counts.mean()
    assert ratio == pytest.approx(CLOCK.day_factor[black_friday_2024], rel=0.1)


def _buyers(n: int, lam: float, p: float, start: float) -> Buyers:
    zeros = np.zeros(n)
    return Buyers(
        touch=np.zeros(n, np.int64),
        acquired=np.full(n, CLOCK.to_calendar(np.array([start]))[0]),
        op_start=np.full(n, start),
        lam=np.full(n, lam),
        p=np.full(n, p),
        nu=np.full(n, 0.1),
        alive=zeros.astype(bool),
        repeats=zeros.astype(np.int64),
    )


def test_purchases_follow_the_buy_till_you_die_process() -> None:
    """Fixed lambda and p: repeats ~ min(Poisson(lambda T), Geometric(p)), times after the
    first order, within the period, ordered per buyer."""
    n, lam, p, start = 50_000, 0.02, 0.2, 100.0
    b = _buyers(n, lam, p, start)
    pur = draw_purchases(np.random.default_rng(2), b, CLOCK)
    rng = np.random.default_rng(3)
    simulated = np.minimum(rng.poisson(lam * (730 - start), n), rng.geometric(p, n))
    assert b.repeats.mean() == pytest.approx(simulated.mean(), rel=0.03)
    assert np.bincount(pur.buyer).tolist() == (b.repeats + 1).tolist()
    assert np.all(pur.day >= b.acquired[pur.buyer]) and np.all(pur.day < 730)
    same = pur.buyer[1:] == pur.buyer[:-1]
    assert np.all(pur.day[1:][same] >= pur.day[:-1][same])
    # alive at the end: no drop-out among the Poisson(lam T) potential repeats
    assert b.alive.mean() == pytest.approx(np.exp(-lam * (730 - start) * p), abs=0.01)
    mean = pur.subtotal_cents.mean() / 100
    assert mean == pytest.approx(P.GG_P / 0.1, rel=0.02)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(100, 250_000), min_size=1, max_size=50), st.integers(0, 2**32 - 1))
def test_basket_lines_add_up_exactly_to_any_subtotal(targets: list[int], seed: int) -> None:
    target = np.array(targets, dtype=np.int64)
    ln = basket(np.random.default_rng(seed), CATALOG, target)
    sums = np.zeros(len(target), np.int64)
    np.add.at(sums, ln.order, ln.quantity * ln.unit_cents)
    assert sums.tolist() == target.tolist()
    assert np.all(ln.unit_cents > 0) and np.all(ln.quantity >= 1)
    assert set(ln.order.tolist()) == set(range(len(target)))
    lines = np.bincount(ln.order)
    assert np.all(ln.line >= 1) and np.all(ln.line <= lines[ln.order])


def test_money_is_exact_from_cents() -> None:
    cents = np.array([0, 1, -5, 123456789, -99])
    assert A.money(cents).to_pylist() == [
        Decimal("0.0000"),
        Decimal("0.0100"),
        Decimal("-0.0500"),
        Decimal("1234567.8900"),
        Decimal("-0.9900"),
    ]
    assert A.amount_text(cents).to_pylist() == ["0.00", "0.01", "-0.05", "1234567.89", "-0.99"]


def test_identifiers_are_seeded_unique_and_well_formed() -> None:
    ids = A.uuids(np.random.default_rng(4), 10_000).to_pylist()
    assert len(set(ids)) == len(ids)
    uuid4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert all(uuid4.fullmatch(u) for u in ids)
    assert A.uuids(np.random.default_rng(4), 3).to_pylist() == ids[:3]
    assert A.codes("C", np.array([7, 1234567]), 7).to_pylist() == ["C0000007", "C1234567"]


def test_touch_probabilities_add_up() -> None:
    assert T.ACQUISITION_P.sum() == pytest.approx(1.0)
    assert T.REPEAT_P.sum() == pytest.approx(1.0)
    assert T.PROSPECT_P[P.CHANNEL_INDEX["email"] == T.CHANNEL_OF].sum() == 0
    assert sum(c.share for c in P.CHANNELS) == pytest.approx(1.0)
    for ch in P.CHANNELS:
        assert sum(c.share for c in ch.campaigns) == pytest.approx(1.0), ch.name

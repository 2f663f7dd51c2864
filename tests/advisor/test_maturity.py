"""The maturity advisor on small synthetic stores imported the real way: each stage of the
maturity table (docs/advisor.md) classified, the boundaries, the effort split to the cent,
the CLV:CAC warnings and what it says when data is missing."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tenure import Store
from tenure.advisor.maturity import maturity
from tenure.advisor.stage import STAGES, Signals, Thresholds, classify
from tenure.cli import app
from tenure.config import load_settings
from tenure.errors import ConfigError
from tests.advisor.storekit import build, daily_orders, order, spend_rows, weekly_orders

END = date(2024, 6, 30)


def _advice(url: str, **overrides: object):  # type: ignore[no-untyped-def]
    settings = load_settings(store_url=url, **overrides)
    with Store(url, settings=settings) as store:
        return maturity(store, as_of=END)


def _texts(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(a.text for a in result.advice)


# -- every stage, from no sales to a year of 10+ a day -------------------------------------


def test_no_sales_is_just_started_and_all_acquisition(tmp_path: Path) -> None:
    url = build(tmp_path, spend=spend_rows(END - timedelta(days=20), END, {"paid_search": 10}))
    r = _advice(url)
    assert (r.stage, r.stage_index, r.recommended_retention_share) == ("just started", 0, 0.0)
    d = r.to_dict()
    assert d["signals"]["age_days"] is None and d["signals"]["sales_per_day"] is None
    assert d["signals"]["direct_share"] is None
    assert "No sale yet" in _texts(r) and "0% on retention" in _texts(r)
    assert r.split.acquisition_spend == pytest.approx(210.0)  # 21 days, END included


def test_two_months_of_a_few_sales_a_week_is_gaining_traction(tmp_path: Path) -> None:
    rows = weekly_orders(END - timedelta(days=55), END, [1, 3, 5, 2], seed=1)
    r = _advice(build(tmp_path, rows))
    assert r.stage == "gaining traction" and r.recommended_retention_share == 0.15
    assert 1 <= (r.signals.sales_per_week or 0) <= 5
    assert r.signals.age_days == 55


def test_a_quarter_of_two_sales_a_day_is_consistent(tmp_path: Path) -> None:
    r = _advice(build(tmp_path, daily_orders(END - timedelta(days=75), END, 2, seed=2)))
    assert r.stage == "consistent" and r.recommended_retention_share == 0.30
    assert r.signals.sales_per_day == pytest.approx(2.0)
    assert r.next_stage == "established"
    assert [n.signal for n in r.next_stage_needs if not n.met] == ["age_days", "sales_per_day"]


def test_five_months_of_ten_a_day_is_established(tmp_path: Path) -> None:
    r = _advice(build(tmp_path, daily_orders(END - timedelta(days=150), END, 10, seed=3)))
    assert r.stage == "established" and r.recommended_retention_share == 0.50
    assert r.signals.sales_per_day == pytest.approx(10.0)


def test_a_year_of_twelve_a_day_mostly_direct_is_well_established(tmp_path: Path) -> None:
    rows = daily_orders(END - timedelta(days=364), END, 12, seed=4, direct_share=0.7)
    r = _advice(build(tmp_path, rows))
    assert r.stage == "well established" and r.recommended_retention_share == 0.60
    assert r.signals.direct_basis == "orders"
    assert r.signals.direct_share == pytest.approx(0.7, abs=0.05)
    assert r.next_stage is None and r.next_stage_needs == []


def test_a_year_of_twelve_a_day_mostly_paid_stays_established(tmp_path: Path) -> None:
    rows = daily_orders(END - timedelta(days=364), END, 12, seed=5, direct_share=0.2)
    r = _advice(build(tmp_path, rows))
    assert r.stage == "established"
    assert "50% of orders direct (now 2" in _texts(r)


# -- boundaries ------------------------------------------------------------------------------


def _boundary_rows(first_day_offset: int, sales: int) -> list[dict]:
    first = END - timedelta(days=60 - first_day_offset)
    return [order(0, first)] + [order(i, END - timedelta(days=i - 1)) for i in range(1, sales + 1)]


@pytest.mark.parametrize(
    ("younger_by", "sales", "stage"),
    [(0, 28, "consistent"), (0, 27, "gaining traction"), (1, 28, "gaining traction")],
)
def test_the_consistent_boundary_on_a_real_store(
    tmp_path: Path, younger_by: int, sales: int, stage: str
) -> None:
    """60 days old with exactly 28 sales in the last 28 days (1 a day) is consistent; one
    sale fewer, or one day younger, is not."""
    r = _advice(build(tmp_path, _boundary_rows(younger_by, sales)))
    assert r.stage == stage


T = Thresholds()
signals_st = st.builds(
    Signals,
    purchases=st.integers(0, 10_000),
    age_days=st.one_of(st.none(), st.integers(0, 1000)),
    sales_per_day=st.one_of(st.none(), st.floats(0, 50)),
    direct_share=st.one_of(st.none(), st.floats(0, 1)),
)


@settings(max_examples=300, deadline=None)
@given(signals_st, st.integers(0, 200), st.floats(0, 5), st.floats(0, 0.5))
def test_more_of_any_signal_never_lowers_the_stage(
    s: Signals, more_days: int, more_pace: float, more_direct: float
) -> None:
    stage = classify(s, T)
    bigger = Signals(
        s.purchases + 1,
        None if s.age_days is None else s.age_days + more_days,
        None if s.sales_per_day is None else s.sales_per_day + more_pace,
        None if s.direct_share is None else min(1.0, s.direct_share + more_direct),
    )
    assert classify(bigger, T) >= stage
    assert (stage == 0) == (s.purchases == 0)
    if s.direct_share is None:
        assert stage <= 3  # unknown is not met: never well established unseen


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1000), st.floats(0, 50), st.floats(0, 1))
def test_the_ladder_matches_the_table(age: int, pace: float, direct: float) -> None:
    stage = classify(Signals(1, age, pace, direct), T)
    expected = 1
    if age >= 60 and pace >= 1:
        expected = 2
        if age >= 120 and pace >= 8:
            expected = 3
            if age >= 330 and pace >= 10 and direct >= 0.5:
                expected = 4
    assert STAGES[stage] == STAGES[expected]


def test_thresholds_are_settings_and_must_grow() -> None:
    t = Thresholds.from_settings(load_settings(maturity_consistent_days=30))
    assert t.consistent_days == 30 and classify(Signals(30, 30, 1.0, 0.0), t) == 2
    with pytest.raises(ConfigError, match="must grow"):
        Thresholds.from_settings(load_settings(maturity_established_days=10))
    with pytest.raises(ConfigError, match="five shares"):
        load_settings(maturity_retention_shares=[0.1, 0.2])


# -- the actual split ------------------------------------------------------------------------


def _message(key: str, channel: str, sent: datetime | None, state: str = "sent") -> dict:
    return {
        "message_key": key,
        "flow": "winback",
        "step": "s1",
        "person_id": "C000001",
        "trigger_id": key,
        "channel": channel,
        "payload": "{}",
        "state": state,
        "decided_at": sent or datetime(2024, 6, 1),
        "sent_at": sent,
    }


def _split_store(tmp_path: Path, *, webhook: bool) -> str:
    in_window = datetime(2024, 6, 20, 9)
    orders = [
        order(1, END - timedelta(days=100)),
        order(2, END - timedelta(days=5), coupon="save10", discount=10.0),  # a flow's code
        order(3, END - timedelta(days=4), coupon="SPRING", discount=7.0),  # not a flow's
        order(4, END - timedelta(days=40), coupon="SAVE10", discount=10.0),  # before window
    ]
    spend = [
        {
            "date": "2024-06-10",
            "channel": "paid_search",
            "campaign": "a",
            "cost": "100",
            "currency": "USD",
        },
        {
            "date": "2024-06-30",
            "channel": "paid_social",
            "campaign": "b",
            "cost": "50",
            "currency": "USD",
        },
        {
            "date": "2024-05-01",
            "channel": "paid_social",
            "campaign": "b",
            "cost": "999",
            "currency": "USD",
        },  # before the window
    ]
    url = build(tmp_path, orders, spend)
    messages = [_message(f"e{i}", "email", in_window) for i in range(3)]
    messages += [_message(f"s{i}", "sms", in_window) for i in range(2)]
    messages += [
        _message("old", "email", datetime(2024, 5, 1)),  # before the window
        _message("p", "email", None, state="pending"),  # not sent
        _message("h", "email", None, state="holdout"),
    ]
    if webhook:
        messages.append(_message("w", "webhook", in_window))
    with Store(url) as store:
        store.insert("messages", pa.Table.from_pylist(messages))
        code = {
            "code": "SAVE10",
            "flow": "winback",
            "step": "s1",
            "person_id": "C000002",
            "message_key": "e0",
            "issued_at": in_window,
            "percent": 10.0,
            "expires": None,
        }
        store.insert("discount_codes", pa.Table.from_pylist([code]))
    return url


def test_the_split_on_a_hand_made_store(tmp_path: Path) -> None:
    costs = {"email": 0.5, "sms": 1.0}
    r = _advice(_split_store(tmp_path, webhook=False), message_costs=costs)
    s = r.split
    assert (s.start, s.end) == (date(2024, 6, 3), END)
    assert s.acquisition_spend == pytest.approx(150.0)
    assert [(m.channel, m.sent, m.cost) for m in s.messages] == [("email", 3, 1.5), ("sms", 2, 2.0)]
    assert (s.discount_orders, s.discount_cost_known) == (1, pytest.approx(10.0))
    assert s.retention_cost == pytest.approx(13.5)
    assert s.retention_share == pytest.approx(13.5 / 163.5)
    assert s.unknown == [] and s.retention_share_at_least is None
    text = _texts(r)
    assert "8% of the last 28 days' effort went to retention: 13.50 USD" in text
    assert "150.00 USD of acquisition spend" in text


def test_a_channel_without_a_cost_makes_the_split_a_lower_bound(tmp_path: Path) -> None:
    r = _advice(_split_store(tmp_path, webhook=True), message_costs={"email": 0.5, "sms": 1.0})
    s = r.split
    assert s.retention_cost is None and s.retention_share is None
    assert s.retention_share_at_least == pytest.approx(13.5 / 163.5)
    assert s.unknown == ["retention: the cost of 1 webhook message(s)"]
    assert r.to_dict()["split"]["messages"][-1] == {
        "channel": "webhook",
        "sent": 1,
        "cost_per_message": None,
        "cost": None,
    }
    assert "The cost of a webhook message is not set" in _texts(r)


# -- CLV:CAC health --------------------------------------------------------------------------


def _health_store(tmp_path: Path, first: date, cac: float) -> str:
    """20 customers a month from ``first``, each one order of 100 (margin 30 at the default
    margin): paid_search's CLV is 30; its spend makes the CAC ``cac``; direct has no spend."""
    rows, n, day = [], 0, first
    while day <= END:
        for i in range(20):
            rows.append(order(n, day, channel="paid_search" if i < 10 else "direct", total=100))
            n += 1
        day += timedelta(days=30)
    spend, n_paid = [], sum(1 for r in rows if r["channel"] == "paid_search")
    spend.append(
        {
            "date": first.isoformat(),
            "channel": "paid_search",
            "campaign": "",
            "cost": f"{cac * n_paid}",
            "currency": "USD",
        }
    )
    return build(tmp_path, rows, spend)


def test_one_to_one_after_six_months_is_an_alarm(tmp_path: Path) -> None:
    r = _advice(_health_store(tmp_path, END - timedelta(days=300), cac=30.0))
    paid = next(h for h in r.health.channels if h.channel == "paid_search")
    assert r.health.horizon_days == 182  # too young for 365: said so
    assert paid.clv == pytest.approx(30.0) and paid.cac == pytest.approx(30.0)
    assert paid.clv_cac == pytest.approx(1.0) and paid.level == "alarm"
    alarms = [a for a in r.advice if a.level == "alarm"]
    assert len(alarms) == 1 and alarms[0].text.startswith("Alarm: paid_search: CLV:CAC 1.0:1")
    assert "Only one channel has spend (paid_search)" in _texts(r)
    direct = next(h for h in r.health.channels if h.channel == "direct")
    assert direct.level == "unknown" and direct.spend is None and direct.clv_cac is None


def test_one_to_one_in_a_young_store_is_not_an_alarm(tmp_path: Path) -> None:
    young = _advice(_health_store(tmp_path, END - timedelta(days=100), cac=30.0))
    assert all(a.level != "alarm" for a in young.advice)
    # too young for any CLV horizon: unknown, said so
    assert young.health.overall.clv_cac is None
    assert "CLV, and so CLV:CAC, is unknown" in _texts(young)


@pytest.mark.parametrize(("cac", "ratio", "level"), [(6.0, 5.0, "healthy"), (15.0, 2.0, "watch")])
def test_five_to_one_is_healthy_and_two_to_one_a_watch(
    tmp_path: Path, cac: float, ratio: float, level: str
) -> None:
    r = _advice(_health_store(tmp_path, END - timedelta(days=300), cac=cac))
    paid = next(h for h in r.health.channels if h.channel == "paid_search")
    assert paid.clv_cac == pytest.approx(ratio) and paid.level == level


# -- missing data ----------------------------------------------------------------------------


def test_no_spend_data_says_what_is_missing(tmp_path: Path) -> None:
    r = _advice(build(tmp_path, daily_orders(END - timedelta(days=75), END, 2, seed=6)))
    assert r.split.acquisition_spend is None and r.split.retention_share is None
    assert r.health.overall.spend is None and r.health.overall.clv_cac is None
    assert "No marketing spend imported" in _texts(r)
    assert r.to_dict()["split"]["acquisition_spend"] is None


def test_two_weeks_of_history_says_so(tmp_path: Path) -> None:
    rows = daily_orders(END - timedelta(days=13), END, 3, seed=7)
    r = _advice(build(tmp_path, rows))
    assert r.stage == "gaining traction"
    assert r.signals.days_observed == 14 and r.signals.sales_per_day == pytest.approx(3.0)
    assert "Only 14 day(s) of sales history" in _texts(r)


def test_spend_that_stopped_before_the_window_is_unknown_not_zero(tmp_path: Path) -> None:
    rows = daily_orders(END - timedelta(days=75), END, 2, seed=8)
    old = spend_rows(END - timedelta(days=70), END - timedelta(days=40), {"paid_search": 5})
    r = _advice(build(tmp_path, rows, old))
    assert r.split.acquisition_spend is None
    assert "No spend row since 2024-06-03 (the latest is on 2024-05-21)" in _texts(r)


def test_direct_share_from_visits_when_orders_carry_no_touch(tmp_path: Path) -> None:
    rows = daily_orders(END - timedelta(days=364), END, 12, seed=9)
    for row in rows:
        row["channel"] = ""
    events = []
    for i in range(10):  # ten visitors on one day of the window, three of them from an ad
        ctx = {"campaign": {"source": "google", "medium": "cpc"}} if i < 3 else {}
        events.append(
            {
                "type": "page",
                "messageId": f"m{i}",
                "anonymousId": f"a{i}",
                "timestamp": "2024-06-20T10:00:00Z",
                "context": ctx,
            }
        )
    r = _advice(build(tmp_path, rows, events=events))
    assert r.signals.direct_basis == "visits" and r.signals.direct_share == pytest.approx(0.7)
    assert r.stage == "well established"


# -- the command -----------------------------------------------------------------------------


def test_cli_json_is_the_library(tmp_path: Path) -> None:
    url = _split_store(tmp_path, webhook=True)
    expected = _advice(url).to_dict()
    out = CliRunner().invoke(app, ["advise", "--store", url, "--as-of", "2024-06-30", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == expected


def test_cli_table_shows_unknown_not_zero(tmp_path: Path) -> None:
    url = build(tmp_path, daily_orders(END - timedelta(days=75), END, 2, seed=10))
    out = CliRunner().invoke(app, ["advise", "--store", url, "--as-of", "2024-06-30"])
    assert out.exit_code == 0, out.output
    assert "consistent" in out.stdout and "No marketing spend imported" in out.stdout
    line = next(x for x in out.stdout.splitlines() if "acquisition spend (USD" in x)
    assert line.split("│")[-2].strip() == "unknown"


def test_cli_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    url = build(tmp_path)
    out = CliRunner().invoke(app, ["advise", "--store", url, "--as-of", "30/06/2024"])
    assert out.exit_code != 0 and "Traceback" not in out.output
    assert "--as-of" in out.output

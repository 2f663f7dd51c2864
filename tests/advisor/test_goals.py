"""Goals: the grammar, the baseline and target arithmetic on a store of known numbers, the
forecast on a series of known trend and weekly season, storage, the pipeline step and the
CLI (docs/advisor.md, "Goals and their forecast")."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tenure import Store
from tenure.advisor.forecast import simulate
from tenure.advisor.goals import (
    add_goal,
    goal_history,
    goal_progress,
    list_goals,
    parse_goal,
    period_end,
    record_progress,
    remove_goal,
)
from tenure.cli import app
from tenure.errors import ConfigError, ForecastError, NotFoundError

START = date(2024, 1, 1)
DAYS = 182  # 2024-01-01 .. 2024-06-30


def _cdnow_file(path: Path, days: int = DAYS) -> Path:
    """CDNOW-format orders with known numbers: customer 1 buys 10.00 every day; customer 2
    buys 30.00 every Monday; customer 3 buys once, 50.00, on the last day."""
    lines = [" customer_id  date number_of_cds  dollar_value"]
    for i in range(days):
        day = START + timedelta(days=i)
        lines.append(f" 00001 {day:%Y%m%d}  1   10.00")
        if day.weekday() == 0:
            lines.append(f" 00002 {day:%Y%m%d}  1   30.00")
    last = START + timedelta(days=days - 1)
    lines.append(f" 00003 {last:%Y%m%d}  1   50.00")
    path.write_text("\n".join(lines) + "\n")
    return path


def _store(tmp_path: Path, days: int = DAYS) -> Store:
    from tenure.ingest import import_file

    store = Store(f"duckdb://{tmp_path / 'goals.duckdb'}")
    import_file(store, "orders", [_cdnow_file(tmp_path / "orders.txt", days)], preset="cdnow")
    end = START + timedelta(days=days - 1)
    store.set_meta("as_of", end.isoformat(), by="tests")
    return store


# --------------------------------------------------------------------------- grammar
def test_the_grammar_reads_the_documented_examples() -> None:
    g = parse_goal("revenue +7% in 3 months")
    assert (g.metric, g.target.kind, g.target.amount, g.span) == (
        "revenue",
        "pct",
        7.0,
        (3, "months"),
    )
    g = parse_goal("orders +10% by 2027-03-31")
    assert (g.metric, g.deadline) == ("orders", date(2027, 3, 31))
    g = parse_goal("aov 55 by 2027-06-30")
    assert (g.metric, g.target.kind, g.target.amount) == ("aov", "value", 55.0)
    g = parse_goal("repeat_rate +2pt in 6 weeks")
    assert (g.metric, g.target.kind, g.span) == ("repeat_rate", "pt", (6, "weeks"))
    assert parse_goal("New customers -5% in the next 2 quarters").metric == "new_customers"
    assert parse_goal("sales +500 in 30 days").target.kind == "delta"


@pytest.mark.parametrize(
    "text",
    ["revenue up a lot", "revenue +7%", "happiness +7% in 3 months", "revenue +2pt in 1 month"],
)
def test_text_that_does_not_parse_says_what_to_write(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_goal(text)
    assert err.value.hint


@settings(max_examples=40, deadline=None)
@given(
    metric=st.sampled_from(["revenue", "orders", "aov", "new_customers", "margin"]),
    pct=st.integers(-50, 200),
    n=st.integers(1, 24),
    unit=st.sampled_from(["days", "weeks", "months", "quarters", "years"]),
)
def test_the_grammar_round_trips(metric: str, pct: int, n: int, unit: str) -> None:
    text = f"{metric} {pct:+d}% in {n} {unit}"
    g = parse_goal(text)
    assert (g.metric, g.target.amount, g.span) == (metric, float(pct), (n, unit))
    assert g.target.apply(200.0) == pytest.approx(200.0 * (1 + pct / 100))


def test_periods_end_on_the_last_day() -> None:
    assert period_end(date(2024, 1, 31), 1, "month") == date(2024, 2, 28)
    assert period_end(date(2024, 1, 1), 3, "months") == date(2024, 3, 31)
    assert period_end(date(2024, 1, 1), 2, "weeks") == date(2024, 1, 14)
    assert period_end(date(2024, 1, 1), 1, "year") == date(2024, 12, 31)


# --------------------------------------------------------------------------- arithmetic
def test_baseline_and_target_on_known_numbers(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        goal = add_goal(store, "revenue +10% in 30 days")
        # as of 2024-06-30: the goal runs 07-01 .. 07-30, the baseline 06-01 .. 06-30 is
        # 30 days of 10.00, 4 Mondays of 30.00 (06-03, 10, 17, 24) and the 50.00 of 06-30
        assert (goal.start, goal.deadline) == (date(2024, 7, 1), date(2024, 7, 30))
        assert (goal.baseline_start, goal.baseline_end) == (date(2024, 6, 1), date(2024, 6, 30))
        assert goal.baseline_value == pytest.approx(300.0 + 4 * 30.0 + 50.0)
        assert goal.target_value == pytest.approx(goal.baseline_value * 1.1)
        orders = add_goal(
            store,
            metric="orders",
            target="+5",
            deadline="2024-07-30",
            baseline_start="2024-06-01",
            baseline_end="2024-06-30",
        )
        assert orders.baseline_value == 30 + 4 + 1  # daily, Mondays 06-03..06-24, the last day
        assert orders.target_value == 40
        aov = add_goal(store, "aov 10 by 2024-07-30")  # baseline 470 / 35 = 13.43: a decrease
        assert aov.baseline_value == pytest.approx(470 / 35)
        assert aov.target_value == 10 and not aov.increase


def test_progress_to_date_counts_the_goal_period_only(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        goal = add_goal(store, "revenue +10% by 2024-07-31", start="2024-06-01")
        p = goal_progress(store, goal)
        mondays = sum(1 for i in range(30) if date(2024, 6, 1 + i).weekday() == 0)
        assert p.value_to_date == pytest.approx(300.0 + 30.0 * mondays + 50.0)
        assert (p.days_elapsed, p.days_total) == (30, 61)
        assert p.forecast is not None and p.low is not None and p.high is not None
        assert p.low <= p.forecast <= p.high and 0.0 <= p.p_meet <= 1.0  # type: ignore[operator]
        data = json.loads(json.dumps(p.to_dict()))
        assert data["fan"][-1]["day"] == "2024-07-31" and set(data["fan"][-1]) >= {"q0.1", "q0.9"}


# --------------------------------------------------------------------------- forecast
@pytest.mark.slow  # 20 fits: ~6 s on a quiet machine, 15 s on a busy one
def test_the_interval_covers_a_known_trend_and_weekly_season() -> None:
    """y = 100 e^(0.002 t) x 1.2 on weekends x e^noise (sd 0.05), growth and season in
    proportion as the model (on log(1 + y)) has them, 20 draws of 140 days: the 80% interval
    of the next 28 days' sum holds the true expected sum in about 80% of them (at least 13
    of 20: below that has probability < 5% for a true 80% interval), the median is within
    3% of it on average, and the simulated weekends stay higher than the weekdays."""
    t = np.arange(140 + 28)
    weekend = np.where(t % 7 >= 5, 1.2, 1.0)
    mean = 100 * np.exp(0.002 * t) * weekend
    truth = mean[140:].sum()
    days = pd.Index([START + timedelta(days=int(i)) for i in t[:140]])
    covered, errors = 0, []
    for seed in range(20):
        y = mean * np.exp(np.random.default_rng(seed).normal(0, 0.05, len(t)))
        paths = simulate(pd.Series(y[:140], index=days), 28, simulations=500, random_state=seed)
        low, median, high = np.quantile(paths.values.sum(axis=1), [0.1, 0.5, 0.9])
        covered += int(low <= truth <= high)
        errors.append(abs(median - truth) / truth)
    assert covered >= 13
    assert np.mean(errors) < 0.03
    ahead = np.median(paths.values, axis=0)
    weekend_ahead = (140 + np.arange(28)) % 7 >= 5
    assert ahead[weekend_ahead].mean() > 1.1 * ahead[~weekend_ahead].mean()


def test_short_history_says_what_is_missing(tmp_path: Path) -> None:
    series = pd.Series([1.0] * 20, index=[START + timedelta(days=i) for i in range(20)])
    with pytest.raises(ForecastError, match="at least 8 weeks of history"):
        simulate(series, 10)
    with _store(tmp_path, days=20) as store:
        p = goal_progress(store, add_goal(store, "revenue +7% in 1 month"))
        assert p.forecast is None and p.p_meet is None and p.on_track is None
        assert "needs at least 8 weeks of history" in (p.note or "")
        assert p.to_dict()["fan"] == []


def test_a_horizon_longer_than_the_history_is_refused() -> None:
    series = pd.Series(np.arange(60.0), index=[START + timedelta(days=i) for i in range(60)])
    with pytest.raises(ForecastError, match="at least as many days of history"):
        simulate(series, 91)


# --------------------------------------------------------------------------- storage
@pytest.mark.slow  # two pipeline runs: ~10-20 s
def test_goals_round_trip_and_progress_is_recorded_per_run(tmp_path: Path) -> None:
    from tenure.pipeline import run

    with _store(tmp_path) as store:
        a = add_goal(store, "revenue +7% in 3 months")
        b = add_goal(store, "orders +5% in 30 days", channel="nowhere")
        assert [g.goal_id for g in list_goals(store)] == [1, 2]
        assert list_goals(store)[0] == a and list_goals(store)[1].scope == b.scope
        first = run(store, steps=["goals"])
        second = run(store, steps=["goals"])
        assert first.ok and second.ok
        history = goal_history(store, a.goal_id)
        assert len(history) == 2 and history["forecast"].notna().all()
        nowhere = goal_history(store, b.goal_id)
        assert len(nowhere) == 2 and nowhere["forecast"].isna().all()  # no order: a note
        assert record_progress(store, date(2024, 6, 30)) == 2
        remove_goal(store, a.goal_id)
        assert [g.goal_id for g in list_goals(store)] == [2]
        assert goal_history(store, a.goal_id).empty
        with pytest.raises(NotFoundError):
            remove_goal(store, a.goal_id)


# --------------------------------------------------------------------------- CLI
def test_cli_add_list_show_remove(tmp_path: Path) -> None:
    _store(tmp_path).close()
    url = ["--store", str(tmp_path / "goals.duckdb")]
    runner = CliRunner()
    added = runner.invoke(app, ["goals", "add", "revenue +10% in 30 days", *url, "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["deadline"] == "2024-07-30"
    listed = runner.invoke(app, ["goals", "list", *url, "--json"])
    assert [g["goal_id"] for g in json.loads(listed.stdout)] == [1]
    shown = runner.invoke(app, ["goals", "show", "1", *url, "--json"])
    data = json.loads(shown.stdout)
    assert data["goal"]["goal_id"] == 1 and data["interval"] == 0.8 and data["forecast"] > 0
    # 182 days, a 30-day goal as of the last: weekly origins from day 151 back to day 60
    assert data["calibration"]["forecasts"] == 14 and data["calibration"]["factor"] > 0
    table = runner.invoke(app, ["goals", "show", "1", *url])
    assert "80% interval" in table.stdout and "P(meet)" in table.stdout
    assert "from 14 past forecasts" in table.stdout
    flags = runner.invoke(
        app,
        ["goals", "add", "--metric", "orders", "--target", "+5%", "--deadline", "2024-08-31", *url],
    )
    assert flags.exit_code == 0 and "Goal 2 added" in flags.stdout
    removed = runner.invoke(app, ["goals", "remove", "1", *url])
    assert removed.exit_code == 0 and "Goal 1 removed" in removed.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["add", "revenue up a lot"], 2, "Cannot read the goal"),
        (["add", "--metric", "revenue"], 2, "needs its text"),
        (["add", "revenue +7% by 2024-13-01"], 2, "must be a date"),
        (["show", "7"], 1, "No goal with id 7"),
        (["add", "revenue +7% in 1 month", "--channel", "a", "--segment", "b"], 2, "not both"),
    ],
)
def test_cli_errors_are_messages_not_tracebacks(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    _store(tmp_path).close()
    result = CliRunner().invoke(app, ["goals", *args, "--store", str(tmp_path / "goals.duckdb")])
    assert result.exit_code == code, result.output
    assert words in result.output and "Traceback" not in result.output

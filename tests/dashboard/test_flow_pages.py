"""The Flows page's backtests and flow states, a flow's page and a segment's page, built on a
copy of the tests' demo store: before any backtest each flow says how to run one; after one,
the page shows exactly the recorded figures; a flow's page repeats the Flows page's numbers
for that flow, its messages are the store's; a segment's page is `tenure segments members`;
an unknown flow or segment is a NotFoundError; a paused flow shows paused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tenure import Store
from tenure.dashboard.model import Page, Table, Value, Window
from tenure.dashboard.pages import build_page, default_window
from tenure.dashboard.pages import flow as flow_page
from tenure.dashboard.pages import segment as segment_page
from tenure.dashboard.pages.backtests import NO_BACKTEST, backtest_row, command
from tenure.dashboard.pages.common import PROFILE_LINK, SEGMENT_LINK, cell
from tenure.engage.backtest import backtest_flow
from tenure.engage.flow_spec import flow_paths, load_flows, pick
from tenure.engage.flows import set_paused
from tenure.engage.segments import SegmentNotFoundError, segment_members

FLOW = "abandoned_cart"
SEGMENT = "at_risk"


@pytest.fixture(scope="module")
def demo(ran_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    copy = tmp_path_factory.mktemp("flowpages") / "demo.duckdb"
    shutil.copy(ran_demo_url.removeprefix("duckdb://"), copy)
    with Store(f"duckdb://{copy}") as store:
        yield store


@pytest.fixture(scope="module")
def window(demo: Store) -> Window:
    return default_window(demo)


def table(page: Page, key: str) -> Table:
    return next(t for s in page.sections for t in s.tables if t.key == key)


def rows(t: Table) -> list[dict[str, Value]]:
    keys = [c.key for c in t.columns]
    return [dict(zip(keys, r, strict=True)) for r in t.rows]


def notes(page: Page, section: str) -> tuple[str, ...]:
    return next(s.notes for s in page.sections if s.key == section)


def test_flows_page_before_and_after_a_backtest(demo: Store, window: Window) -> None:
    flows = load_flows(flow_paths(Path(demo.settings.flows_dir)))
    before = build_page("flows", demo, demo.settings, window)
    states = {r["flow"]: r["state"] for r in rows(table(before, "states"))}
    assert states == {f.name: "running" for f in flows}
    assert rows(table(before, "backtests")) == []
    todo = {r["flow"]: r["command"] for r in rows(table(before, "not_backtested"))}
    assert (
        todo[FLOW]
        == command(FLOW, window)
        == (f"tenure flows backtest {FLOW} --from {window.start} --to {window.end}")
    )
    assert set(todo) == set(states) and NO_BACKTEST in notes(before, "backtests")

    end = datetime.combine(window.end, datetime.min.time())
    result = backtest_flow(
        demo, pick(flows, FLOW), end - timedelta(days=14), end, step=timedelta(days=7)
    )
    assert result.recorded and result.entered > 0
    after = build_page("flows", demo, demo.settings, window)
    shown = rows(table(after, "backtests"))
    currency = after.currency
    cols = {c.key: c.unit for c in table(after, "backtests").columns}
    expected = {k: cell(v, cols[k], currency) for k, v in backtest_row(result).items()}
    assert shown == [expected]
    assert shown[0]["entered"] == result.entered and shown[0]["last_day"] == (
        (end - timedelta(days=1)).date().isoformat()
    )
    assert FLOW not in {r["flow"] for r in rows(table(after, "not_backtested"))}
    charts = {c.key: c for s in after.sections for c in s.charts}
    daily = charts[f"backtest_{FLOW}"]
    total = sum(v or 0 for s in daily.series for v in s.values if isinstance(v, int))
    assert total == int(result.daily["total"].sum())
    flow = flow_page.build(demo, demo.settings, window, FLOW)
    assert rows(table(flow, "backtest")) == [expected]
    assert rows(table(flow, "backtest_outcome"))[0]["group"] == "targeted"


def test_a_flow_page_repeats_the_flows_page(demo: Store, window: Window) -> None:
    flows = build_page("flows", demo, demo.settings, window)
    ran = rows(table(flows, "flows"))
    assert ran, "the demo's flows ran"
    name = str(ran[0]["flow"])
    page = flow_page.build(demo, demo.settings, window, name)
    assert rows(table(page, "results")) == [ran[0]]
    about = rows(table(page, "about"))
    assert [(r["flow"], r["state"]) for r in about] == [(name, "running")]
    m = demo.table("messages")
    mine = m.filter(m.flow == name).to_pandas()
    by_state = {r["state"]: r["messages"] for r in rows(table(page, "message_states"))}
    assert by_state == mine["state"].value_counts().to_dict()
    recent = table(page, "recent")
    assert recent.link == PROFILE_LINK and len(recent.rows) == min(len(mine), flow_page.RECENT)
    steps = {r["step"] for r in rows(table(page, "definition"))}
    defined = pick(load_flows(flow_paths(Path(demo.settings.flows_dir))), name)
    assert steps == {s.id for s in defined.steps}


def test_a_flow_page_without_a_backtest_says_how_to_run_one(demo: Store, window: Window) -> None:
    page = flow_page.build(demo, demo.settings, window, "birthday")
    backtest = next(s for s in page.sections if s.key == "backtest")
    assert backtest.notes == (NO_BACKTEST,)
    assert rows(table(page, "not_backtested")) == [
        {"flow": "birthday", "command": command("birthday", window)}
    ]
    assert not backtest.charts and not backtest.metrics


def test_a_paused_flow_shows_paused(demo: Store, window: Window) -> None:
    flows = load_flows(flow_paths(Path(demo.settings.flows_dir)))
    set_paused(demo, pick(flows, "vip"), True)
    try:
        states = {
            r["flow"]: r["state"]
            for r in rows(table(build_page("flows", demo, demo.settings, window), "states"))
        }
        assert states["vip"] == "paused" and states[FLOW] == "running"
        page = flow_page.build(demo, demo.settings, window, "vip")
        assert rows(table(page, "about"))[0]["state"] == "paused"
    finally:
        set_paused(demo, pick(flows, "vip"), False)


def test_unknown_flows_and_segments_are_not_found(demo: Store, window: Window) -> None:
    with pytest.raises(flow_page.UnknownFlowError, match="No flow named 'nope'"):
        flow_page.build(demo, demo.settings, window, "nope")
    with pytest.raises(SegmentNotFoundError, match="No segment named 'nope'"):
        segment_page.build(demo, demo.settings, window, "nope")


def test_a_segment_page_is_its_members(demo: Store, window: Window) -> None:
    customers = build_page("customers", demo, demo.settings, window)
    listed = table(customers, "segments")
    assert listed.link == SEGMENT_LINK and any(r[0] == SEGMENT for r in listed.rows)
    page = segment_page.build(demo, demo.settings, window, SEGMENT)
    metrics = {m.key: m for s in page.sections for m in s.metrics}
    end = min(window.end, default_window(demo).end)
    members = segment_members(
        demo, SEGMENT, now=datetime.combine(end, datetime.max.time()), limit=None
    )
    assert metrics["size"].value == len(members) > 0
    assert rows(table(page, "about")) == [
        {"segment": SEGMENT, "kind": "shipped", "condition": "status eq at_risk"}
    ]
    shown = table(page, "members")
    assert shown.link == PROFILE_LINK
    assert [r[0] for r in shown.rows] == members["person_id"].head(segment_page.MEMBERS).tolist()
    sizes = rows(table(page, "sizes"))
    runs = demo.read("segment_runs").to_pandas()
    mine = runs[runs.segment == SEGMENT]
    assert [r["members"] for r in sizes][-1] == int(
        mine.sort_values("refreshed_at")["members"].iloc[-1]
    )

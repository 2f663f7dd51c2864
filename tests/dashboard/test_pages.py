"""The page builders on the tests' demo store (800 customers, one year, after `tenure run`):
every page builds and is JSON, the overview's cards are `tenure kpis --json`'s rows and the
channels page is `tenure channels --json`, every definition is an anchor of docs/metrics.md,
and a deleted person's profile reveals nothing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.base import store_end
from tenure.cli import app
from tenure.dashboard.model import Metric, Page, Table, Value, Window
from tenure.dashboard.pages import PAGES, UnknownPageError, build_page, default_window
from tenure.dashboard.pages import profile as profile_page
from tenure.dashboard.pages.customers import UnknownCellError, rfm_members
from tenure.dashboard.pages.overview import period_grain
from tenure.identity.privacy import delete_person

METRICS_MD = Path(__file__).parents[2] / "docs" / "metrics.md"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(ran_demo_url: str) -> Iterator[Store]:
    with Store(ran_demo_url) as store:
        yield store


@pytest.fixture(scope="module")
def window(demo: Store) -> Window:
    return default_window(demo)


@pytest.fixture(scope="module")
def pages(demo: Store, window: Window) -> dict[str, Page]:
    built = {key: build_page(key, demo, demo.settings, window) for key in PAGES}
    built["profile"] = profile_page.build(demo, demo.settings, window, "C0000224")
    return built


def cli_json(url: str, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--store", url.removeprefix("duckdb://"), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def number(v: Value) -> float:
    """A known numeric cell."""
    assert isinstance(v, int | float), v
    return v


def metrics(page: Page) -> dict[str, Metric]:
    return {m.key: m for s in page.sections for m in s.metrics}


def table(page: Page, key: str) -> Table:
    return next(t for s in page.sections for t in s.tables if t.key == key)


def test_every_page_builds_as_json(pages: dict[str, Page]) -> None:
    assert list(PAGES) == [
        "overview",
        "customers",
        "cohorts",
        "channels",
        "predictions",
        "flows",
        "advisor",
        "health",
    ]
    for key, page in pages.items():
        assert page.key == key
        assert page.currency == "USD"
        text = json.dumps(page.to_json(), allow_nan=False)
        assert json.loads(text)["sections"]
        for section in page.sections:
            for t in section.tables:
                assert all(len(row) == len(t.columns) for row in t.rows), (key, t.key)
            for chart in section.charts:
                assert all(len(s.values) == len(chart.x) for s in chart.series), (key, chart.key)


def test_the_default_window_is_the_as_of_month(demo: Store, window: Window) -> None:
    end = store_end(demo)
    assert window == Window(end.replace(day=1), end, window.compare_start, window.compare_end)
    assert window.compare_end.month != end.month and window.compare_start.day == 1
    assert period_grain(window) == "month"


def test_overview_cards_are_the_kpis_rows(
    ran_demo_url: str, pages: dict[str, Page], window: Window
) -> None:
    rows = cli_json(ran_demo_url, "kpis", "--grain", "month")
    now, before = rows[-1], rows[-2]
    cards = metrics(pages["overview"])
    assert cards["period"].value == now["period"]
    for key in ("revenue", "orders", "aov", "repeat_purchase_rate", "retention_rate"):
        assert cards[key].value == now[key], key
        assert cards[key].previous == before[key], key
    for key in ("churn_rate", "new_customers", "cac", "clv"):
        assert cards[key].value == now[key], key
    # the demo's first year: no churn to measure, so CLV and CLV:CAC are unknown, not 0
    assert cards["clv"].value is None and cards["clv_cac"].value is None
    assert any("CLV unknown" in n for s in pages["overview"].sections for n in s.notes)
    trend = next(c for s in pages["overview"].sections for c in s.charts if c.key == "revenue")
    assert trend.series[0].values == tuple(r["revenue"] for r in rows[-12:])


def test_channels_are_the_channels_command(ran_demo_url: str, pages: dict[str, Page]) -> None:
    rows = cli_json(ran_demo_url, "channels")
    t = table(pages["channels"], "channels")
    keys = [c.key for c in t.columns]
    shown = {row[0]: dict(zip(keys, row, strict=True)) for row in t.rows}
    assert set(shown) == {r["channel"] for r in rows}
    for r in rows:
        for key in ("new_customers", "spend", "cac", "clv", "clv_cac", "health", "payback_months"):
            assert shown[r["channel"]][key] == r[key], (r["channel"], key)
    campaigns = table(pages["channels"], "campaigns")
    ck = [c.key for c in campaigns.columns]
    per = [dict(zip(ck, row, strict=True)) for row in campaigns.rows]
    for r in rows:  # the campaigns of a channel add up to it
        mine = [c for c in per if c["channel"] == r["channel"]]
        assert sum(number(c["new_customers"]) for c in mine) == r["new_customers"]
        if r["spend"] is not None:
            spent = sum(number(c["spend"] or 0) for c in mine)
            assert spent == pytest.approx(r["spend"], abs=0.011)


def test_customers_page_counts(ran_demo_url: str, pages: dict[str, Page]) -> None:
    page = pages["customers"]
    rfm = table(page, "rfm")
    assert len(rfm.rows) == 25
    buyers = sum(number(r[4]) for r in rfm.rows)
    statuses = cli_json(ran_demo_url, "status")
    buyers_by_status = sum(s["persons"] for s in statuses if s["status"] != "prospect")
    assert buyers == buyers_by_status
    segments = cli_json(ran_demo_url, "rfm")
    by_segment: dict[str, float] = {}
    for row in rfm.rows:
        by_segment[str(row[3])] = by_segment.get(str(row[3]), 0) + number(row[4])
    assert by_segment == {s["segment"]: s["customers"] for s in segments if s["customers"]}
    tiers = table(page, "tiers")
    assert sum(number(r[1]) for r in tiers.rows) == buyers


def test_every_definition_is_an_anchor_of_metrics_md(pages: dict[str, Page]) -> None:
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', METRICS_MD.read_text()))
    used = set()
    for page in pages.values():
        for section in page.sections:
            used |= {m.definition for m in section.metrics if m.definition}
            used |= {c.definition for t in section.tables for c in t.columns if c.definition}
    assert used, "no page names a definition"
    assert used <= anchors, sorted(used - anchors)


def test_money_is_rounded_to_cents(pages: dict[str, Page]) -> None:
    for page in pages.values():
        for section in page.sections:
            for m in section.metrics:
                if m.unit == "money" and isinstance(m.value, float):
                    assert round(m.value, 2) == m.value, (page.key, m.key)


def test_an_unknown_page_is_a_clear_error(demo: Store, window: Window) -> None:
    with pytest.raises(UnknownPageError, match="No dashboard page named 'nope'"):
        build_page("nope", demo, demo.settings, window)


def test_the_profile_shows_the_person(pages: dict[str, Page]) -> None:
    page = pages["profile"]
    assert metrics(page)["customer_id"].value == "C0000224"
    assert ("customer_id", "C0000224") in table(page, "identities").rows
    assert len(table(page, "orders").rows) == metrics(page)["orders"].value


def test_a_deleted_person_reveals_nothing(
    ran_demo_url: str, tmp_path: Path, window: Window
) -> None:
    copy = tmp_path / "demo.duckdb"
    shutil.copy(ran_demo_url.removeprefix("duckdb://"), copy)
    with Store(f"duckdb://{copy}") as store:
        delete_person(store, "C0000224")
        for asked in ("C0000224", "ivy.green224@example.com", "C0000225x"):
            with pytest.raises(profile_page.ProfileNotFoundError) as caught:
                profile_page.build(store, store.settings, window, asked)
            assert asked not in str(caught.value)
            assert "C0000" not in str(caught.value)


def test_the_grain_of_a_window() -> None:
    def grain(start: date, end: date) -> str | None:
        return period_grain(Window(start, end, start, end))

    assert grain(date(2024, 12, 1), date(2024, 12, 30)) == "month"  # cut by as_of
    assert grain(date(2024, 10, 1), date(2024, 12, 31)) == "quarter"
    assert grain(date(2024, 12, 23), date(2024, 12, 29)) == "week"  # Monday to Sunday
    assert grain(date(2024, 12, 5), date(2024, 12, 5)) == "day"
    assert grain(date(2024, 12, 2), date(2024, 12, 31)) is None  # 30 trailing days


def test_a_window_that_is_no_calendar_period_shows_its_end_month(
    demo: Store, pages: dict[str, Page], window: Window
) -> None:
    odd = Window(window.end - timedelta(days=20), window.end, window.compare_start, window.end)
    page = build_page("overview", demo, demo.settings, odd)
    assert metrics(page)["revenue"].value == metrics(pages["overview"])["revenue"].value
    assert any("calendar month" in n for s in page.sections for n in s.notes)


def test_an_rfm_cell_links_to_its_members(
    demo: Store, pages: dict[str, Page], window: Window
) -> None:
    grid = table(pages["customers"], "rfm")
    assert grid.link is not None
    cell = next(r for r in grid.rows if r[0] == "r5fm4")
    page = rfm_members(demo, demo.settings, window, "r5fm4")
    assert metrics(page)["customers"].value == cell[4]
    members = table(page, "members")
    assert len(members.rows) == cell[4]
    assert {r[3] for r in members.rows} == {cell[3]}  # the cell's segment
    with pytest.raises(UnknownCellError, match="No RFM cell named 'r6fm1'"):
        rfm_members(demo, demo.settings, window, "r6fm1")

"""The dashboard's pages kept in the store by the pipeline's ``dashboard`` step, on a copy of
the tests' demo store (after ``tenure run``): each is the page a live build gives; an import
makes those it read stale (never served) and the next run keeps them anew; ``tenure report``
and a restarted server read them instead of building; builds reading the current derived
tables as stored give the same numbers; a deleted person leaves no kept page."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenure.dashboard import pages as dash_pages
from tenure.dashboard import report
from tenure.dashboard.draw import Frame, environment, render_page
from tenure.dashboard.i18n import Translator
from tenure.dashboard.kept import TABLE, kept_page
from tenure.dashboard.model import Page, Window
from tenure.dashboard.pages import PAGES, build_page, default_window
from tenure.dashboard.stored import reading_stored
from tenure.identity.privacy import delete_person
from tenure.ingest import import_events, import_orders
from tenure.pipeline import run
from tenure.pipeline.dashboard import current_tables
from tenure.pipeline.dashboard import report as pipeline_report
from tenure.pipeline.steps import PAGE_TABLES
from tenure.service.app import create_app
from tenure.service.dashboard import stale_ok
from tenure.store import Store
from tests.service.adminkit import GOOD, admin_settings, late_order

#: Pages the run leaves kept and true. The health page lists the pipeline's step runs, so
#: the dashboard step's own run record (written after it) makes its kept copy stale.
HELD = [key for key in PAGES if key != "health"]


@pytest.fixture()
def kept(ran_demo_url: str, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "kept.duckdb"
    shutil.copy(ran_demo_url.removeprefix("duckdb://"), path)
    url = f"duckdb://{path}"
    with Store(url, settings=admin_settings(url)) as store:
        yield store


def _same(a: object, b: object) -> bool:
    """Equal JSON documents, floats to 1e-9 (the engine's parallel sums may differ in the
    last bits from one build to the next)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def assert_same(page: Page | None, other: Page, key: str) -> None:
    assert page is not None, key
    assert _same(_numbers(page), _numbers(other)), key


def _numbers(page: Page) -> dict[str, Any]:
    """The page's JSON twin but when it was computed, from which live tables, stale."""
    doc = page.to_json()
    return {k: v for k, v in doc.items() if k not in ("built_at", "live", "stale")}


def _held(store: Store, window: Window) -> dict[str, Page | None]:
    return {key: kept_page(store, store.settings, key, window) for key in PAGES}


def _no_build(monkeypatch: pytest.MonkeyPatch, allowed: tuple[str, ...] = ()) -> list[str]:
    """Make every page builder but ``allowed`` fail; returns the keys built."""
    built: list[str] = []

    def refuse(key: str) -> object:
        real = PAGES[key]

        def builder(*args: object) -> Page:
            built.append(key)
            assert key in allowed, f"the page {key} was built"
            return real(*args)  # type: ignore[arg-type]

        return builder

    monkeypatch.setattr(dash_pages, "PAGES", {key: refuse(key) for key in PAGES})
    return built


@pytest.mark.slow
def test_the_run_keeps_every_page_as_a_live_build_gives_it(kept: Store) -> None:
    window = default_window(kept)
    held = _held(kept, window)
    assert held["health"] is None
    for key in HELD:
        assert_same(held[key], build_page(key, kept, kept.settings, window), key)


@pytest.mark.slow
def test_reading_the_current_derived_tables_gives_the_same_pages(kept: Store) -> None:
    window = default_window(kept)
    stored = current_tables(kept, window.end)
    assert set(stored.tables) == set(PAGE_TABLES)
    for key in ("customers", "channels", "cohorts", "predictions", "health"):
        with reading_stored(stored):
            fast = build_page(key, kept, kept.settings, window)
        assert_same(fast, build_page(key, kept, kept.settings, window), key)


@pytest.mark.slow
def test_an_import_makes_the_pages_stale_and_the_next_run_keeps_them(
    kept: Store, tmp_path: Path
) -> None:
    window = default_window(kept)
    before = report.build("overview", kept, kept.settings, window)
    import_orders(kept, [late_order(kept, tmp_path)])
    held = _held(kept, window)
    assert held["overview"] is None and held["customers"] is None
    assert current_tables(kept, window.end).tables == frozenset()  # new data: all stale
    now = report.build("overview", kept, kept.settings, window)
    assert_same(now, build_page("overview", kept, kept.settings, window), "overview")
    assert now != before

    result = run(kept)
    step = result.get("dashboard")
    assert step is not None and step.outcome == "ok"
    assert "overview" in step.output.built
    again = _held(kept, window)
    for key in HELD:
        assert_same(again[key], build_page(key, kept, kept.settings, window), key)
    nothing = run(kept).get("dashboard")  # no new data: the pages still true are left alone
    assert nothing is not None and {"customers", "cohorts"} <= set(nothing.output.current)


def test_the_report_reads_the_kept_pages(
    kept: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _no_build(monkeypatch, allowed=("health",))
    with Store(kept.url, settings=kept.settings) as fresh:  # nothing in memory
        out = pipeline_report(fresh, fresh.settings, default_window(fresh), tmp_path / "r.html")
    assert built == ["health"]
    html = out.read_text()
    assert all(f'data-page="{key}"' in html for key in PAGES)


def test_a_restarted_server_serves_the_kept_pages_without_building(
    kept: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = default_window(kept)
    expected = {key: page.to_json() for key, page in _held(kept, window).items() if page}
    built = _no_build(monkeypatch, allowed=("health",))
    fresh = Store(kept.url, settings=kept.settings)
    with fresh, TestClient(create_app(fresh.settings, store=fresh, warm=True)) as client:
        worker = client.app.state.tenure.parts["worker"]  # type: ignore[attr-defined]
        worker.warm_thread.join(120)
        assert worker.warmed == ["/api/kpis", "/api/cohorts", *report.page_keys()]
        drawn = _drawn(monkeypatch)
        for key in HELD:
            answer = client.get(f"/dash/{key}.json", headers=GOOD)
            assert answer.status_code == 200 and answer.json() == expected[key]
            assert client.get(f"/dash/{key}", headers=GOOD).status_code == 200
        assert drawn == []  # the warm-up drew every page's sections already
    assert built == ["health"]


def _drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The templates of pages' sections drawn from now on."""
    env = environment()
    real = env.get_template
    drawn: list[str] = []

    def counted(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sections.html":
            drawn.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(env, "get_template", counted)
    return drawn


def test_the_data_versions_are_kept_in_the_store(kept: Store, tmp_path: Path) -> None:
    before = kept.data_versions(["orders", "events"])
    assert before is not None and before["orders"] > 0
    import_orders(kept, [late_order(kept, tmp_path)])
    with Store(kept.url, settings=kept.settings) as other:
        after = other.data_versions(["orders", "events"])
    assert after is not None and after["orders"] > before["orders"]
    assert after["events"] == before["events"]


def test_a_deleted_person_leaves_no_kept_page(kept: Store) -> None:
    t = kept.read(TABLE)
    person = next(
        p
        for p in kept.read("customer_facts").person_id.to_pyarrow().to_pylist()
        if t.filter(t.body.contains(p)).count().execute()
    )
    delete_person(kept, person)
    t = kept.read(TABLE)
    assert t.filter(t.body.contains(person)).count().execute() == 0


def test_events_alone_leave_a_kept_page_served_and_the_run_keeps_it_anew(
    kept: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = default_window(kept)
    page = kept_page(kept, kept.settings, "customers", window, live_ok=True)
    assert page is not None and page.live == ("events",) and page.built_at is not None
    day = window.end.isoformat()
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "page", "messageId": "kept-live-1", "anonymousId": "v-kept-1", '
        f'"timestamp": "{day}T08:00:00Z"}}\n'
    )
    import_events(kept, [events])
    assert kept_page(kept, kept.settings, "customers", window) is None  # the pipeline's rule
    served = kept_page(kept, kept.settings, "customers", window, live_ok=True)
    assert served is not None and served.built_at == page.built_at
    assert_same(served, page, "customers")
    built = _no_build(monkeypatch, allowed=("health",))
    with Store(kept.url, settings=kept.settings) as fresh:  # nothing in memory
        assert report.build("customers", fresh, fresh.settings, window).built_at == page.built_at
    assert built == []
    import_orders(kept, [late_order(kept, tmp_path)])
    assert kept_page(kept, kept.settings, "customers", window, live_ok=True) is None


def test_a_server_whose_worker_runs_the_pipeline_serves_a_stale_page_marked_so(
    kept: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an import, a server whose worker runs the pipeline serves the kept pages marked
    stale instead of building them on request (the worker's next run keeps them anew); the
    health page (one run behind at once) is built; without the worker, pages are built."""
    window = default_window(kept)
    before = kept_page(kept, kept.settings, "overview", window)
    assert before is not None and not before.stale
    import_orders(kept, [late_order(kept, tmp_path)])
    assert kept_page(kept, kept.settings, "overview", window, live_ok=True) is None
    assert kept_page(kept, kept.settings, "health", window, stale_ok=True) is None
    built = _no_build(monkeypatch, allowed=("health",))
    page = report.build("overview", kept, kept.settings, window, stale_ok=True)
    assert (
        page.stale
        and page.built_at
        == kept_page(kept, kept.settings, "overview", window, stale_ok=True).built_at
    )  # type: ignore[union-attr]
    assert_same(page, before, "overview")
    assert page.to_json()["stale"] is True
    html = render_page(page, Translator("en", page.currency), Frame())
    assert "the next pipeline run brings this page up to date" in html
    assert built == []
    with pytest.raises(AssertionError, match="the page overview was built"):
        report.build("overview", kept, kept.settings, window)  # no worker: built on request
    assert stale_ok(kept.settings.model_copy(update={"worker_pipeline_every": 0})) is False
    assert stale_ok(kept.settings.model_copy(update={"worker_pipeline_every": 60})) is True

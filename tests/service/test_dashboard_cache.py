"""The dashboard's pages through the store's result cache: a page asked twice is built once,
an imported order builds it again with the new numbers, and the server's warm-up
(``dashboard_warm``) builds every page of the default period before anyone asks, after the
admin API's default answers (always computed at start)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tenure.analytics.base import store_end
from tenure.dashboard import report
from tenure.dashboard.pages import build_page
from tenure.errors import NotFoundError
from tenure.identity.privacy import delete_person
from tenure.ingest import import_events, import_orders
from tenure.service.app import create_app
from tenure.service.worker import ServiceWorker
from tenure.store import Store
from tenure.store.cache import cache_stats
from tests.service.adminkit import GOOD, admin_settings, copy_demo, late_order


@pytest.fixture()
def served(demo_url: str, tmp_path: Path) -> Iterator[Store]:
    url = copy_demo(demo_url, tmp_path, predictions=False)
    with Store(url, settings=admin_settings(url)) as store:
        yield store


def _overview(client: TestClient) -> dict[str, object]:
    answer = client.get("/dash/overview.json", headers=GOOD)
    assert answer.status_code == 200, answer.text
    doc: dict[str, object] = answer.json()
    return doc


def _numbers(doc: dict[str, object]) -> dict[str, object]:
    """A JSON twin but when it was computed and from which live tables (stale or not)."""
    return {k: v for k, v in doc.items() if k not in ("built_at", "live", "stale")}


def _card(doc: dict[str, object], key: str) -> object:
    for section in doc["sections"]:  # type: ignore[attr-defined]
        for metric in section["metrics"]:
            if metric["key"] == key:
                return metric["value"]
    raise AssertionError(f"no card {key}")


def test_a_page_is_built_once_until_an_order_is_imported(served: Store, tmp_path: Path) -> None:
    with TestClient(create_app(served.settings, store=served)) as client:
        first = _overview(client)
        before = cache_stats(served)
        assert _overview(client) == first
        after = cache_stats(served)
        assert after.hits > before.hits and after.misses == before.misses

        import_orders(served, [late_order(served, tmp_path)])
        changed = _overview(client)
        assert cache_stats(served).misses == after.misses + 1
        window = report.default_window(served)
        fresh = build_page("overview", served, served.settings, window).to_json()
        assert _numbers(changed) == _numbers(fresh)
        assert _card(changed, "orders") == _card(first, "orders") + 1  # type: ignore[operator]


def test_the_server_builds_every_page_at_start(served: Store) -> None:
    with TestClient(create_app(served.settings, store=served, warm=True)) as client:
        worker = client.app.state.tenure.parts["worker"]  # type: ignore[attr-defined]
        assert isinstance(worker, ServiceWorker) and worker.warm_thread is not None
        worker.warm_thread.join(300)
        assert worker.warmed == ["/api/kpis", "/api/cohorts", *report.page_keys()]
        assert client.get("/health").json()["worker"]["warmed"] == worker.warmed
        misses = cache_stats(served).misses
        for key in report.page_keys():
            assert client.get(f"/dash/{key}.json", headers=GOOD).status_code == 200
        assert client.get("/api/kpis", headers=GOOD).status_code == 200
        assert client.get("/api/cohorts", headers=GOOD).status_code == 200
        assert cache_stats(served).misses == misses  # every page and answer was ready


def test_without_dashboard_warm_the_server_computes_only_the_api_answers(served: Store) -> None:
    settings = served.settings.model_copy(update={"dashboard_warm": False})
    with TestClient(create_app(settings, store=served, warm=True)) as client:
        worker = client.app.state.tenure.parts["worker"]  # type: ignore[attr-defined]
        assert isinstance(worker, ServiceWorker) and worker.warm_thread is not None
        worker.warm_thread.join(300)
        assert worker.warmed == ["/api/kpis", "/api/cohorts"]
        misses = cache_stats(served).misses
        first = client.get("/api/kpis", headers=GOOD)
        assert first.status_code == 200 and first.json()["total"] > 0
        assert cache_stats(served).misses == misses  # the first request found it ready
        assert client.get("/dash/overview.json", headers=GOOD).status_code == 200
        assert cache_stats(served).misses > misses  # the page was not built at start


def test_a_profile_is_built_once_until_a_table_it_read_is_written(served: Store) -> None:
    window = report.default_window(served)
    first = report.profile(served, served.settings, window, "C0000001")
    before = cache_stats(served)
    assert report.profile(served, served.settings, window, "C0000001") is first
    assert cache_stats(served).hits == before.hits + 1
    delete_person(served, "customer_id:C0000001")
    with pytest.raises(NotFoundError):
        report.profile(served, served.settings, window, "C0000001")


def _event_file(store: Store, folder: Path) -> Path:
    """One page view on the store's as-of day, by a new visitor (what the collector's loader
    stores between two pipeline runs)."""
    day = store_end(store).isoformat()
    path = folder / "one_event.jsonl"
    event = {
        "type": "page",
        "name": "Home",
        "messageId": "live-1",
        "anonymousId": "visitor-live-1",
        "timestamp": f"{day}T09:00:00Z",
    }
    path.write_text(json.dumps(event) + "\n")
    return path


def test_events_between_runs_leave_the_pages_as_computed_and_say_so(
    served: Store, tmp_path: Path
) -> None:
    with TestClient(create_app(served.settings, store=served)) as client:
        health = client.get("/dash/health.json", headers=GOOD).json()
        customers = client.get("/dash/customers.json", headers=GOOD).json()
        assert health["live"] == ["events", "imports"] and customers["live"] == ["events"]
        assert health["built_at"] is not None
        before = cache_stats(served)
        import_events(served, [_event_file(served, tmp_path)])  # the collector's batch

        again = client.get("/dash/health.json", headers=GOOD).json()
        assert again == health  # as computed: not built again
        assert client.get("/dash/customers.json", headers=GOOD).json() == customers
        assert cache_stats(served).misses == before.misses
        html = client.get("/dash/health", headers=GOOD).text
        assert "Computed " in html and "counted at the next pipeline run" in html
        fr = client.get("/dash/health?lang=fr", headers=GOOD).text
        assert "Calculé le " in fr

        window = report.default_window(served)
        live = build_page("health", served, served.settings, window).to_json()
        assert _card(live, "events") == _card(health, "events") + 1  # type: ignore[operator]

        import_orders(served, [late_order(served, tmp_path)])  # any other table: stale
        fresh = client.get("/dash/health.json", headers=GOOD).json()
        assert fresh["built_at"] >= health["built_at"]
        assert _card(fresh, "events") == _card(live, "events")
        assert cache_stats(served).misses > before.misses


def test_a_computation_inside_a_page_still_counts_the_live_tables(served: Store) -> None:
    """The page leaves out its reads of the live tables; what it asks of the result cache
    inside (an analytic others ask for too) keeps them, so it stays exact for the others."""
    with served.versions.recording() as page, served.versions.unrecorded(["events"]) as live:
        with served.versions.recording() as inner:
            served.read("events")
        served.read("orders")
    assert page == {"orders"} and inner == {"events"} and live == {"events"}


def test_a_page_held_in_memory_is_answered_while_the_store_is_busy(served: Store) -> None:
    """The collector's loader holds the store while it imports a batch; a page of the
    default period held in memory is answered meanwhile, without waiting for it."""
    with TestClient(create_app(served.settings, store=served)) as client:
        first = client.get("/dash/overview.json", headers=GOOD).json()
        state = client.app.state.tenure  # type: ignore[attr-defined]
        taken, release = threading.Event(), threading.Event()

        def busy() -> None:
            with state.lock:
                taken.set()
                release.wait(10)

        holder = threading.Thread(target=busy)
        holder.start()
        try:
            assert taken.wait(10)
            started = time.perf_counter()
            answer = client.get("/dash/overview.json", headers=GOOD)
            seconds = time.perf_counter() - started
        finally:
            release.set()
            holder.join()
        assert answer.status_code == 200 and answer.json() == first
        assert seconds < 5

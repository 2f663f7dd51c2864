"""The admin API's kept results (tenure.store.cache) over a copy of the tests' demo store: a
repeated KPI request is answered from memory, an imported order changes the next answer
(computed again, equal to the library's), the worker's pipeline unit refreshes the kept
results; and the profile route reads one person's rows, answering as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tenure.analytics.periods import kpis
from tenure.identity.profile import person_events, person_orders, profile
from tenure.ingest import import_orders
from tenure.service.app import create_app
from tenure.service.pages import plain, records
from tenure.service.worker import ServiceWorker
from tenure.store import Store
from tenure.store.cache import cache_stats
from tests.service.adminkit import GOOD, admin_settings, copy_demo, late_order


@pytest.fixture()
def served(demo_url: str, tmp_path: Path) -> Iterator[Store]:
    url = copy_demo(demo_url, tmp_path, predictions=False)
    with Store(url, settings=admin_settings(url)) as store:
        yield store


@pytest.fixture()
def client(served: Store) -> Iterator[TestClient]:
    with TestClient(create_app(served.settings, store=served)) as c:
        yield c


def _kpis(client: TestClient) -> list[dict[str, object]]:
    answer = client.get("/api/kpis", params={"grain": "quarter"}, headers=GOOD)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_a_repeated_kpi_request_is_kept_until_an_order_is_imported(
    client: TestClient, served: Store, tmp_path: Path
) -> None:
    first = _kpis(client)
    before = cache_stats(served)
    assert _kpis(client) == first
    after = cache_stats(served)
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)

    import_orders(served, [late_order(served, tmp_path, "1000.00")])
    changed = _kpis(client)
    assert cache_stats(served).misses == after.misses + 1
    assert changed == records(kpis(served, grain="quarter"))
    last, was = changed[-1], first[-1]
    assert last["orders"] == was["orders"] + 1  # type: ignore[operator]
    assert float(last["revenue"]) > float(was["revenue"])  # type: ignore[arg-type]


def test_the_worker_refreshes_the_kept_results_after_a_pipeline_run(
    client: TestClient, served: Store, tmp_path: Path
) -> None:
    _kpis(client)
    import_orders(served, [late_order(served, tmp_path, "250.00")])
    worker = ServiceWorker(client.app.state.tenure)  # type: ignore[attr-defined]
    assert worker.run_unit("pipeline")
    assert worker.units["pipeline"].last_summary["cache_refreshed"] >= 1
    misses = cache_stats(served).misses
    assert _kpis(client) == records(kpis(served, grain="quarter"))
    assert cache_stats(served).misses == misses  # served from the refreshed result


def test_the_profile_reads_the_same_rows_as_a_filter_on_every_row(served: Store) -> None:
    doc = profile(served, "C0000001", timeline=5)
    ids = doc["identities"]
    customers, emails = ids.get("customer_id", []), ids.get("email", [])
    o = served.table("orders")
    every = o.filter(o.customer_id.isin(customers) | o.email.lower().isin(emails))
    mine = person_orders(served, customers, emails)
    assert sorted(mine.column("order_id").to_pylist()) == sorted(
        every.order_id.to_pyarrow().to_pylist()
    )
    assert [r["order_id"] for r in doc["orders"]] == every.order_by(
        every.ordered_at
    ).order_id.to_pyarrow().to_pylist()
    e = served.table("events")
    anon = ids.get("anonymous_id", [])
    scanned = e.filter(e.anonymous_id.isin(anon) | e.user_id.isin(customers))
    assert person_events(served, anon, customers).num_rows == scanned.count().execute()
    latest = scanned.order_by(scanned.timestamp.desc()).limit(5).to_pyarrow().to_pylist()
    assert [r["timestamp"] for r in doc["timeline"]] == [str(r["timestamp"]) for r in latest]
    assert len(doc["orders"]) > 0 and len(doc["timeline"]) == 5


def test_the_profile_route_equals_the_library(client: TestClient, served: Store) -> None:
    answer = client.get("/api/profiles/C0000001", params={"timeline": 3}, headers=GOOD)
    assert answer.status_code == 200, answer.text
    assert answer.json() == plain(profile(served, "C0000001", timeline=3))

"""The admin API (issue 18, item 2) over a real DuckDB file, the tests' demo store:

* the auth matrix on every admin route of the OpenAPI spec (a new route cannot skip it);
* each route's figures equal its library function's (paired, as the CLI's tests do);
* pagination (total, next, limits) and the one error body on 400, 404, 405, 422-as-400, 500;
* a canary e-mail, phone and write key never reach the logs at INFO or above.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenure.analytics.cohorts import cohort_matrix
from tenure.analytics.customers import list_customers, search_customers
from tenure.analytics.periods import kpis
from tenure.analytics.rfm import rfm_customers, rfm_segments
from tenure.analytics.status import status_counts, status_customers
from tenure.deliver.measure import flow_stats
from tenure.engage.backtest_runs import last_backtest
from tenure.engage.flows import flow_overview, paused_flows
from tenure.engage.segments import list_segments, segment_members
from tenure.identity.privacy import export_person
from tenure.identity.profile import profile
from tenure.predictions.results import top_customers
from tenure.recommend import recommend_cart, recommend_for, top_pairs
from tenure.service import admin_people
from tenure.service.admin_flows import flows_of
from tenure.service.app import create_app
from tenure.service.pages import plain, records
from tenure.store import Store
from tests.service.adminkit import ADMIN, GOOD, WRITE_KEY, admin_settings, copy_demo

SHAPE = {"status", "code", "message", "hint", "field"}
#: A value for each path parameter of the admin routes, so every route can be called.
PATH_VALUES = {"identifier": "C0000001", "name": "vip"}


@pytest.fixture(scope="module")
def served(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = copy_demo(demo_url, tmp_path_factory.mktemp("admin"))
    with Store(url, settings=admin_settings(url)) as store:
        yield store


@pytest.fixture(scope="module")
def client(served: Store) -> Iterator[TestClient]:
    app = create_app(served.settings, store=served)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    answer = client.get(path, params=params, headers=GOOD)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_of(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["ok"] is False and set(body["error"]) == SHAPE
    assert body["error"]["status"] == status
    error: dict[str, Any] = body["error"]
    return error


def admin_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, concrete path) of the spec under /api, path parameters filled in."""
    spec = client.get("/openapi.json").json()
    out = []
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        out += [(method.upper(), concrete) for method in methods]
    return out


# -- auth ----------------------------------------------------------------------------------


def test_every_admin_route_needs_an_admin_token(client: TestClient) -> None:
    operations = admin_operations(client)
    assert len(operations) >= 20
    basic = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    for method, path in operations:
        assert error_of(client.request(method, path), 401)["code"] == "unauthorized", path
        for header in (f"Bearer {WRITE_KEY}", basic, "Bearer not-a-token"):
            answer = client.request(method, path, headers={"Authorization": header})
            assert error_of(answer, 403)["code"] == "forbidden", (path, header)


def test_a_good_token_passes_on_every_read_route(client: TestClient) -> None:
    for method, path in admin_operations(client):
        if method != "GET":
            continue  # writes: tested one by one below
        params = {"q": "gus"} if path.endswith("/search") else {}
        params |= {"items": "P0001"} if path.endswith("/cart") else {}
        answer = client.get(path, params=params, headers=GOOD)
        assert answer.status_code == 200, (path, answer.text)


# -- paired with the library ---------------------------------------------------------------


def test_profiles_equal_the_library(client: TestClient, served: Store) -> None:
    assert get(client, "/api/profiles/C0000001") == plain(profile(served, "C0000001", timeline=20))
    assert get(client, "/api/profiles/gus.clark1@example.com/export") == plain(
        export_person(served, "gus.clark1@example.com")
    )
    found = get(client, "/api/profiles/search", q="gus", limit=1000)
    assert found["items"] == records(search_customers(served, "gus", limit=None))
    listed = get(client, "/api/profiles", status="vip", sort="orders", limit=1000)
    frame = list_customers(served, status="vip", sort="orders", limit=None)
    assert listed["items"] == records(frame) and listed["total"] == len(frame)


def test_analytics_equal_the_library(client: TestClient, served: Store) -> None:
    assert get(client, "/api/kpis", grain="quarter")["items"] == records(
        kpis(served, grain="quarter")
    )
    assert get(client, "/api/rfm")["items"] == records(rfm_segments(served))
    assert get(client, "/api/statuses")["items"] == records(status_counts(served))
    matrix = get(client, "/api/cohorts", metric="revenue", period="quarter")
    assert matrix["items"] == records(cohort_matrix(served, metric="revenue", period="quarter"))
    top = get(client, "/api/predictions", limit=5)
    assert top["items"] == records(top_customers(served, 5))


def test_customer_tables_equal_the_library(client: TestClient, served: Store) -> None:
    rfm = get(client, "/api/rfm/customers", limit=20, offset=10)
    frame = rfm_customers(served, stored=True)
    assert rfm["items"] == records(frame.iloc[10:30]) and rfm["total"] == len(frame)
    statuses = get(client, "/api/statuses/customers", limit=20)
    assert statuses["items"] == records(status_customers(served, stored=True).iloc[:20])
    cart = get(client, "/api/recommendations/cart", items="P0001", top=3)
    assert cart["products"] == records(recommend_cart(served, ["P0001"], top=3))
    flows = get(client, "/api/flows", limit=1000)["items"]
    assert flows == records(flow_overview(served, flows_of(served)))


def test_money_is_rounded_as_the_cli_prints_it(client: TestClient) -> None:
    for row in get(client, "/api/kpis")["items"]:
        assert row["revenue"] is None or round(row["revenue"], 2) == row["revenue"]


def test_segments_equal_the_library(client: TestClient, served: Store) -> None:
    sizes = {r["segment"]: r["size"] for r in get(client, "/api/segments")["items"]}
    assert sizes == dict(zip(*[list_segments(served)[c] for c in ("segment", "size")], strict=True))
    members = get(client, "/api/segments/vip/members", limit=1000)
    assert members["items"] == records(segment_members(served, "vip"))
    preview = get(client, "/api/segments/vip/preview", sample=3)
    assert preview["size"] == members["total"] and len(preview["sample"]) == 3


def test_recommendations_and_flows_equal_the_library(client: TestClient, served: Store) -> None:
    mine = get(client, "/api/recommendations/person/C0000001", top=5)
    assert mine["products"] == records(recommend_for(served, "C0000001", top=5))
    pairs = get(client, "/api/recommendations/pairs", limit=10)
    assert pairs["items"] == records(top_pairs(served, top=10))
    assert get(client, "/api/flows/vip/stats") == plain(flow_stats(served, "vip").to_dict())


def test_messages_filter_by_flow_state_and_person(client: TestClient, served: Store) -> None:
    t = served.table("messages")
    every = get(client, "/api/messages", limit=1000)
    assert every["total"] == t.count().execute()
    newsletter = get(client, "/api/messages", flow="newsletter", state="suppressed")
    expected = t.filter((t.flow == "newsletter") & (t.state == "suppressed")).count().execute()
    assert newsletter["total"] == expected
    assert {(m["flow"], m["state"]) for m in newsletter["items"]} == {("newsletter", "suppressed")}
    someone = every["items"][0]["person_id"]
    theirs = get(client, "/api/messages", person=f"person_id:{someone}", limit=1000)
    assert theirs["total"] == t.filter(t.person_id == someone).count().execute()


def test_pause_and_resume_a_flow(client: TestClient, served: Store) -> None:
    answer = client.post("/api/flows/vip/pause", headers=GOOD)
    assert answer.json() == {"flow": "vip", "paused": True}
    assert "vip" in paused_flows(served)
    listed = {f["flow"]: f["paused"] for f in get(client, "/api/flows", limit=1000)["items"]}
    assert listed["vip"] is True
    client.post("/api/flows/vip/resume", headers=GOOD)
    assert "vip" not in paused_flows(served)
    assert error_of(client.post("/api/flows/nope/pause", headers=GOOD), 404)["field"] == "name"


def test_backtest_replays_a_month(client: TestClient, served: Store) -> None:
    ask = {"from": "2024-12-01", "to": "2024-12-14", "step_hours": 48}
    result = client.post("/api/flows/vip/backtest", json=ask, headers=GOOD).json()
    assert result["flow"] == "vip" and result["ticks"] == 7 and result["recorded"] is True
    kept = last_backtest(served, "vip")  # the flow's last backtest, as the dashboard shows it
    assert kept is not None and kept.by == "api" and kept.ticks == 7
    assert kept.entered == result["entered"]
    late = {"from": "2024-12-14", "to": "2024-12-01"}
    assert error_of(client.post("/api/flows/vip/backtest", json=late, headers=GOOD), 400)


# -- pagination ----------------------------------------------------------------------------


def test_pages_have_total_next_and_limits(client: TestClient) -> None:
    first = get(client, "/api/profiles", limit=7)
    assert len(first["items"]) == 7 and first["offset"] == 0 and first["limit"] == 7
    assert first["total"] > 7 and "offset=7" in first["next"]
    second = client.get(first["next"], headers=GOOD).json()
    assert second["offset"] == 7
    whole = get(client, "/api/profiles", limit=14)["items"]
    assert first["items"] + second["items"] == whole
    last = get(client, "/api/profiles", limit=7, offset=first["total"] - 3)
    assert len(last["items"]) == 3 and last["next"] is None
    assert get(client, "/api/profiles")["limit"] == 50
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        answer = client.get("/api/profiles", params=bad, headers=GOOD)
        assert error_of(answer, 400)["field"] == next(iter(bad))


# -- errors --------------------------------------------------------------------------------


def test_every_error_has_the_one_body(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert error_of(client.get("/api/profiles/nobody-at-all", headers=GOOD), 404)["hint"]
    assert error_of(client.get("/api/segments/nope/members", headers=GOOD), 404)
    assert error_of(client.get("/api/kpis", params={"grain": "fortnight"}, headers=GOOD), 400)
    assert error_of(client.get("/api/kpis", params={"as_of": "soon"}, headers=GOOD), 400)
    assert error_of(client.put("/api/profiles", headers=GOOD), 405)
    assert error_of(client.post("/api/flows/vip/backtest", json={}, headers=GOOD), 400)

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(admin_people, "profile", crash)
    error = error_of(client.get("/api/profiles/C0000001", headers=GOOD), 500)
    assert "secret" not in str(error) and error["code"] == "internal"


def test_delete_a_profile(demo_url: str, tmp_path: Path) -> None:
    url = copy_demo(demo_url, tmp_path, predictions=False)
    with Store(url, settings=admin_settings(url)) as store:
        app = create_app(store.settings, store=store)
        with TestClient(app) as c:
            done = c.delete("/api/profiles/C0000002", headers=GOOD).json()
            assert done["rows_deleted"] and done["audit_id"]
            assert c.get("/api/profiles/C0000002", headers=GOOD).status_code == 404


# -- nothing personal in the logs ----------------------------------------------------------

CANARY_MAIL = "canary.bird.4242@example.org"
CANARY_PHONE = "+1 415 555 0199"
#: The server's loggers (the test's own HTTP client, httpx, logs each URL it asks for: it is
#: not the server, its records are left out).
LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "fastapi", "starlette", "tenure")


def test_no_canary_reaches_the_logs(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logging.INFO)
        if caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom for {CANARY_MAIL}")

    try:
        client.get(f"/api/profiles/{CANARY_MAIL}", headers=GOOD)
        client.get("/api/profiles/search", params={"q": CANARY_PHONE}, headers=GOOD)
        client.get("/api/messages", params={"person": CANARY_MAIL}, headers=GOOD)
        client.get("/api/kpis", headers={"Authorization": f"Bearer {WRITE_KEY}"})
        client.get("/v1/onsite", params={"userId": CANARY_MAIL}, auth=(WRITE_KEY, ""))
        monkeypatch.setattr(admin_people, "profile", crash)
        client.get(f"/api/profiles/{CANARY_MAIL}", headers=GOOD)
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(caplog.handler)
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join(r.getMessage() for r in server if r.levelno >= logging.INFO)
    assert logged, "the 500 is logged"
    for canary in (CANARY_MAIL, CANARY_PHONE, WRITE_KEY, ADMIN, "4155550199"):
        assert canary not in logged

"""The dashboard's flow and segment pages and the pause/resume buttons over a copy of the
tests' demo store (real page builders, a real DuckDB file): a flow's and a segment's page as
HTML, JSON twin and CSV; an unknown name a 404 in the one error body; the Flows page's
backtests after a backtest run through the admin API; pausing and resuming from the page
(CSRF refused without the session's token, the state changed by the library function of
`tenure flows pause`, the page shown again with the new state)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenure.dashboard.pages.backtests import NO_BACKTEST
from tenure.engage.flows import paused_flows
from tenure.service.app import create_app
from tenure.store import Store
from tests.service.adminkit import ADMIN, GOOD, admin_settings, copy_demo

SHAPE = {"status", "code", "message", "hint", "field"}
FLOW = "abandoned_cart"


@pytest.fixture(scope="module")
def served(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("dashflows")
    url = copy_demo(demo_url, folder, predictions=False)
    settings = admin_settings(url).model_copy(update={"collector_dir": folder / "wal"})
    with Store(url, settings=settings) as store:
        yield store


@pytest.fixture(scope="module")
def client(served: Store) -> Iterator[TestClient]:
    with TestClient(create_app(served.settings, store=served), raise_server_exceptions=False) as c:
        form = c.get("/dash/login")
        token = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert token
        data = {"csrf": token.group(1), "password": ADMIN, "next": "/dash/flows"}
        assert c.post("/dash/login", data=data, follow_redirects=False).status_code == 303
        yield c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found
    return found.group(1)


def table(twin: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for s in twin["sections"] for t in s["tables"] if t["key"] == key)


def section(twin: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in twin["sections"] if s["key"] == key)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def as_csv(rows: list[list[Any]]) -> list[list[str]]:
    return [["" if v is None else str(v) for v in row] for row in rows]


def test_a_flow_page_as_html_json_and_csv(client: TestClient, served: Store) -> None:
    twin = client.get(f"/dash/flows/{FLOW}.json").json()
    assert twin["key"] == "flow"
    about = table(twin, "about")
    keys = [c["key"] for c in about["columns"]]
    shown = dict(zip(keys, about["rows"][0], strict=True))
    assert shown["flow"] == FLOW and shown["state"] == "running"
    states = table(twin, "message_states")
    m = served.table("messages")
    counts = m.filter(m.flow == FLOW).state.value_counts().to_pandas()
    assert {r[0]: r[1] for r in states["rows"]} == dict(
        zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True)
    )
    html = client.get(f"/dash/flows/{FLOW}?lang=fr").text
    assert 'data-page="flow"' in html and '<html lang="fr">' in html
    assert f'action="/dash/flows/{FLOW}/pause"' in html and "Mettre en pause" in html
    assert f'href="/dash/flows/{FLOW}/message_states.csv"' in html
    assert 'aria-current="page">Scénarios</a>' in html  # under the Flows page in the menu
    answer = client.get(f"/dash/flows/{FLOW}/message_states.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert csv_rows(answer.text) == [["state", "messages"], *as_csv(states["rows"])]
    recent = table(twin, "recent")
    assert recent["link"] == "/dash/profile/{0}" and recent["rows"]
    assert f'href="/dash/profile/{recent["rows"][0][0]}"' in html


def test_a_segment_page_as_html_json_and_csv(client: TestClient) -> None:
    customers = client.get("/dash/customers").text
    assert '<a href="/dash/segments/at_risk">' in customers  # the segment cells are links
    twin = client.get("/dash/segments/at_risk.json").json()
    assert twin["key"] == "segment"
    cards = {m["key"]: m["value"] for m in section(twin, "definition")["metrics"]}
    members = table(twin, "members")
    assert cards["size"] >= len(members["rows"]) > 0
    html = client.get("/dash/segments/at_risk").text
    assert 'aria-current="page">Customers</a>' in html
    assert f'<a href="/dash/profile/{members["rows"][0][0]}">' in html
    assert 'href="/dash/segments/at_risk/members.csv"' in html
    answer = client.get("/dash/segments/at_risk/members.csv")
    got = csv_rows(answer.text)
    assert got[0] == [c["key"] for c in members["columns"]]
    assert got[1:] == as_csv(members["rows"])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/dash/flows/nope", "No flow named 'nope'."),
        ("/dash/flows/nope.json", "No flow named 'nope'."),
        ("/dash/flows/nope/recent.csv", "No flow named 'nope'."),
        ("/dash/segments/nope.json", "No segment named 'nope'."),
        ("/dash/segments/nope", "No segment named 'nope'."),
        ("/dash/widgets/x.json", "No dashboard page named 'widgets'."),
        ("/dash/segments/at_risk/nothing.csv", "The page 'segment' has no table 'nothing'."),
    ],
)
def test_an_unknown_name_is_a_404(client: TestClient, path: str, message: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == SHAPE and error["message"] == message


def test_the_flows_page_shows_the_last_backtest(client: TestClient) -> None:
    before = client.get("/dash/flows.json").json()
    assert NO_BACKTEST in section(before, "backtests")["notes"]
    assert table(before, "backtests")["rows"] == []
    ask = {"from": "2024-12-01", "to": "2024-12-14", "step_hours": 168}
    ran = client.post(f"/api/flows/{FLOW}/backtest", json=ask, headers=GOOD).json()
    assert ran["recorded"] is True
    after = client.get("/dash/flows.json").json()  # the kept page was built again
    backtests = table(after, "backtests")
    keys = [c["key"] for c in backtests["columns"]]
    row = dict(zip(keys, backtests["rows"][0], strict=True))
    assert row["flow"] == FLOW and row["first_day"] == "2024-12-01"
    assert row["last_day"] == "2024-12-14" and row["tick_hours"] == 168.0
    assert (row["entered"], row["persons"], row["holdout"]) == (
        ran["entered"],
        ran["persons"],
        ran["holdout"],
    )
    outcome = {o["group"]: o for o in ran["outcome"]}
    assert row["targeted_conversion"] == outcome["targeted"]["conversion"]
    missing = {r[0] for r in table(after, "not_backtested")["rows"]}
    assert FLOW not in missing and "vip" in missing
    flow = client.get(f"/dash/flows/{FLOW}.json").json()
    assert table(flow, "backtest")["rows"] == [backtests["rows"][0]]


def test_pause_and_resume_need_the_csrf_token(client: TestClient, served: Store) -> None:
    for data in ({}, {"csrf": "forged"}):
        answer = client.post(f"/dash/flows/{FLOW}/pause", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert set(answer.json()["error"]) == SHAPE
    assert FLOW not in paused_flows(served)
    anonymous = TestClient(client.app)
    answer = anonymous.post(f"/dash/flows/{FLOW}/pause", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dash/login")
    assert FLOW not in paused_flows(served)


def test_pause_then_resume_from_the_flows_page(client: TestClient, served: Store) -> None:
    page = client.get("/dash/flows?start=2024-12-01&end=2024-12-31").text
    token = csrf(page)
    assert f'action="/dash/flows/{FLOW}/pause"' in page
    back = "/dash/flows?start=2024-12-01&end=2024-12-31"
    answer = client.post(
        f"/dash/flows/{FLOW}/pause", data={"csrf": token, "next": back}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{back}&done=paused%3A{FLOW}"
    assert FLOW in paused_flows(served)
    c = served.table("flow_controls")
    assert c.filter(c.flow == FLOW).by.to_pyarrow().to_pylist() == ["dashboard:admin"]
    shown = client.get(answer.headers["location"]).text
    assert f"{FLOW} is paused" in shown and f'action="/dash/flows/{FLOW}/resume"' in shown
    twin = client.get("/dash/flows.json").json()
    states = {r[0]: r[1] for r in table(twin, "states")["rows"]}
    assert states[FLOW] == "paused" and states["vip"] == "running"
    assert "done=" not in shown.split('class="languages"')[1].split("</ul>")[0]

    answer = client.post(f"/dash/flows/{FLOW}/resume", data={"csrf": token})
    assert answer.status_code == 200  # followed: the flow's page
    assert f'action="/dash/flows/{FLOW}/pause"' in answer.text and "runs again" in answer.text
    assert str(answer.url).endswith(f"/dash/flows/{FLOW}?done=resumed%3A{FLOW}")
    assert FLOW not in paused_flows(served)
    for path, status in (("/dash/flows/nope/pause", 404), (f"/dash/flows/{FLOW}/explode", 404)):
        assert client.post(path, data={"csrf": token}).status_code == status
    away = client.post(
        f"/dash/flows/{FLOW}/pause",
        data={"csrf": token, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert away.headers["location"].startswith("/dash/?done=")
    client.post(f"/dash/flows/{FLOW}/resume", data={"csrf": token})


def test_a_token_by_header_may_pause_without_a_form_token(client: TestClient) -> None:
    fresh = TestClient(client.app)
    answer = fresh.post(f"/dash/flows/{FLOW}/pause", headers=GOOD, follow_redirects=False)
    assert answer.status_code == 303
    fresh.post(f"/dash/flows/{FLOW}/resume", headers=GOOD, follow_redirects=False)

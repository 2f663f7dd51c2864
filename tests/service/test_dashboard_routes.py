"""The dashboard's routes over a real DuckDB file (issue 19, items 2, 3 and 6): login by admin
token and by a scrypt-hashed user, the session cookie's flags, CSRF on every POST (missing
or wrong: 403), the JSON twin equal to ``Page.to_json()``, CSV of a table, the language
chosen by ``?lang=``, Accept-Language and the setting, the period's query parameters, and
the one error body. The pages here are built by hand (tests/dashboard/sample.py): the
routes are tested apart from the page builders."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenure.config import load_settings
from tenure.dashboard import report
from tenure.dashboard.model import Page, Window
from tenure.errors import NotFoundError
from tenure.service.app import create_app
from tenure.service.dash_auth import LOGIN_COOKIE, SESSION_COOKIE, hash_password
from tests.dashboard.sample import sample_page

ADMIN = "adm-dash-token"
SHAPE = {"status", "code", "message", "hint", "field"}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Window]]:
    """The page source replaced by the sample pages; the calls it got."""
    calls: list[tuple[str, Window]] = []

    def build(
        key: str, store: Any, settings: Any, window: Window, stored: Any = None, **_: Any
    ) -> Page:
        if key not in ("overview", "channels"):
            raise NotFoundError(f"No dashboard page named {key!r}.")
        calls.append((key, window))
        return replace(sample_page(key), window=window)

    def profile(store: Any, settings: Any, window: Window, identifier: str) -> Page:
        raise NotFoundError(f"No person {identifier!r}; did you mean someone@example.com?")

    monkeypatch.setattr(report, "build", build)
    monkeypatch.setattr(report, "page_keys", lambda: ["overview", "channels"])
    monkeypatch.setattr(report, "profile", profile)
    return calls


def _client(tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    chosen = load_settings(
        store_url=f"duckdb://{tmp_path / 's.duckdb'}",
        admin_tokens=[ADMIN],
        as_of=date(2025, 6, 30),
        worker_pipeline_every=0,
        worker_flows_every=0,
        worker_dispatch_every=0,
        collector_dir=tmp_path / "wal",
        **settings,
    )
    with TestClient(create_app(chosen), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(tmp_path: Path, built: list[Any]) -> Iterator[TestClient]:
    yield from _client(tmp_path)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def login(client: TestClient, user: str = "", password: str = ADMIN) -> TestClient:
    form = client.get("/dash/login")
    assert form.status_code == 200
    answer = client.post(
        "/dash/login",
        data={"csrf": _csrf(form.text), "user": user, "password": password, "next": "/dash/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/dash/"
    return client


def test_every_page_needs_a_login(client: TestClient) -> None:
    page = client.get("/dash/overview?lang=fr", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/dash/login?next=%2Fdash%2Foverview%3Flang%3Dfr"
    for path in ("/dash/overview.json", "/dash/overview/channels.csv"):
        answer = client.get(path)
        assert answer.status_code == 401
        assert set(answer.json()["error"]) == SHAPE
    assert client.get("/dash/profile", follow_redirects=False).status_code == 303


def test_login_with_an_admin_token_sets_a_strict_http_only_cookie(client: TestClient) -> None:
    form = client.get("/dash/login")
    assert LOGIN_COOKIE in form.cookies
    answer = client.post(
        "/dash/login",
        data={"csrf": _csrf(form.text), "password": ADMIN, "next": "/dash/overview"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dash/overview"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dash" in cookie
    assert client.get("/dash/overview").status_code == 200


def test_a_wrong_token_or_password_is_refused(client: TestClient) -> None:
    form = client.get("/dash/login")
    for user, password in (("", "nope"), ("ana", ADMIN), ("", "")):
        answer = client.post(
            "/dash/login", data={"csrf": _csrf(form.text), "user": user, "password": password}
        )
        assert answer.status_code == 401
        assert "The user, password or token is not right." in answer.text
    assert client.get("/dash/overview.json").status_code == 401


def test_the_login_form_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/dash/login")
    for data in ({"password": ADMIN}, {"password": ADMIN, "csrf": "forged"}):
        answer = client.post("/dash/login", data=data)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "forbidden"


def test_a_dashboard_user_logs_in_with_a_hashed_password(tmp_path: Path, built: Any) -> None:
    users = {"ana": hash_password("correct horse")}
    for c in _client(tmp_path, dashboard_users=users):
        login(c, "ana", "correct horse")
        assert c.get("/dash/overview.json").status_code == 200
        c.cookies.clear()
        form = c.get("/dash/login")
        wrong = {"csrf": _csrf(form.text), "user": "ana", "password": "wrong horse"}
        assert c.post("/dash/login", data=wrong).status_code == 401


def test_the_next_page_after_login_stays_in_the_dashboard(client: TestClient) -> None:
    form = client.get("/dash/login")
    data = {"csrf": _csrf(form.text), "password": ADMIN, "next": "//evil.example/x"}
    answer = client.post("/dash/login", data=data, follow_redirects=False)
    assert answer.headers["location"] == "/dash/"


def test_post_actions_need_the_session_csrf_token(client: TestClient) -> None:
    login(client)
    html = client.get("/dash/overview").text
    token = _csrf(html)
    for path in ("/dash/logout", "/dash/profile/C0000001/delete", "/dash/profile/C0000001/export"):
        for data in ({}, {"csrf": "wrong", "confirm": "yes"}):
            answer = client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
            assert set(answer.json()["error"]) == SHAPE
    out = client.post("/dash/logout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/dash/login"
    assert client.get("/dash/overview.json").status_code == 401


def test_the_json_twin_is_the_page_and_the_html_carries_its_numbers(
    client: TestClient, built: list[tuple[str, Window]]
) -> None:
    login(client)
    twin = client.get("/dash/overview.json").json()
    key, window = built[-1]
    assert key == "overview"
    assert window == Window.month(date(2025, 6, 30))
    assert twin == replace(sample_page(), window=window).to_json()
    html = client.get("/dash/").text
    for metric in twin["sections"][0]["metrics"]:
        value = "null" if metric["value"] is None else str(metric["value"])
        assert (
            f'data-metric="{metric["key"]}" data-unit="{metric["unit"]}" data-value="{value}"'
            in html
        )
    assert 'aria-current="page">Overview</a>' in html
    assert "unknown" in html  # the CAC card


def test_csv_of_a_table(client: TestClient) -> None:
    login(client)
    answer = client.get("/dash/overview/channels.csv?start=2025-01-01&end=2025-01-31")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == [
        ["channel", "new_customers", "cac", "first"],
        ["direct", "10", "", "2025-12-01"],
        ["email", "4", "12.25", ""],
    ]
    assert client.get("/dash/overview/nothing.csv").status_code == 404
    assert client.get("/dash/nothing.json").status_code == 404


def test_the_period_comes_from_the_query(
    client: TestClient, built: list[tuple[str, Window]]
) -> None:
    login(client)
    client.get("/dash/overview.json?start=2025-03-01&end=2025-03-10")
    assert built[-1][1] == Window(
        date(2025, 3, 1), date(2025, 3, 10), date(2025, 2, 19), date(2025, 2, 28)
    )
    q = "start=2025-03-01&end=2025-03-31&compare_start=2024-03-01&compare_end=2024-03-31"
    client.get(f"/dash/overview.json?{q}")
    assert built[-1][1] == Window(
        date(2025, 3, 1), date(2025, 3, 31), date(2024, 3, 1), date(2024, 3, 31)
    )
    bad = client.get("/dash/overview.json?start=2025-03-10&end=2025-03-01")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "start"
    assert client.get("/dash/overview.json?start=March").status_code == 400


def test_the_language_is_the_query_then_the_browser_then_the_setting(
    tmp_path: Path, built: Any
) -> None:
    for c in _client(tmp_path, dashboard_language="es"):
        login(c)
        assert '<html lang="es">' in c.get("/dash/overview").text
        french = c.get("/dash/overview", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
        assert '<html lang="fr">' in french.text and "inconnu" in french.text
        asked = c.get("/dash/overview?lang=en", headers={"Accept-Language": "fr"})
        assert '<html lang="en">' in asked.text
        assert '<html lang="es">' in c.get("/dash/overview", headers={"Accept-Language": "de"}).text


def test_an_unknown_person_answers_404_revealing_nothing(client: TestClient) -> None:
    login(client)
    for path in ("/dash/profile/ghost@example.com", "/dash/profile/ghost@example.com.json"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == "No person matches."
        assert "example.com" not in answer.text


def test_static_assets_are_served_from_the_package(client: TestClient) -> None:
    for path in ("/dash/static/charts.js", "/dash/static/echarts/echarts.min.js"):
        answer = client.get(path, follow_redirects=False)  # no login needed, no page route
        assert answer.status_code == 200, path
        assert "javascript" in answer.headers["content-type"], path
    assert "text/css" in client.get("/dash/static/dashboard.css").headers["content-type"]


def test_the_search_lists_the_people_found_with_a_link_to_each(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    from tenure.service import dashboard

    login(client)
    empty = client.get("/dash/profile?q=ana&lang=fr")
    assert empty.status_code == 200 and "Personne ne correspond à cette recherche." in empty.text
    found = pd.DataFrame(
        [["P-1", "C0000001", "ana@example.com", "Ana", "active", 3, 120.5, "2025-06-01"]],
        columns=[c.key for c in dashboard.SEARCH_COLUMNS],
    )
    monkeypatch.setattr(dashboard, "search_customers", lambda store, q, limit: found)
    html = client.get("/dash/profile?q=ana&lang=fr").text
    assert '<a href="/dash/profile/P-1">P-1</a>' in html
    assert "actif" in html and "120,50" in html and "Personnes trouvées" in html


def test_a_page_a_table_links_to(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def detail(path: str, store: Any, settings: Any, window: Window, item: str) -> Page:
        if path != "customers/rfm" or item != "r5fm4":
            raise NotFoundError("no such page")
        return replace(sample_page("rfm_members"), window=window)

    monkeypatch.setattr(report, "detail", detail)
    login(client)
    html = client.get("/dash/customers/rfm/r5fm4?lang=es&start=2025-03-01&end=2025-03-31").text
    assert 'aria-current="page">Overview</a>' not in html
    assert (
        'href="/dash/customers/rfm/r5fm4/channels.csv?start=2025-03-01&amp;end=2025-03-31"' in html
    )
    twin = client.get("/dash/customers/rfm/r5fm4.json").json()
    assert twin["key"] == "rfm_members"
    answer = client.get("/dash/customers/rfm/r5fm4/channels.csv")
    assert answer.status_code == 200 and answer.text.startswith("channel,new_customers")
    for path in ("/dash/customers/rfm/r9fm9", "/dash/segments/vip/x.json"):
        assert client.get(path).status_code == 404

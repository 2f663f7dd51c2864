"""The public routes beside the admin API, end to end over a real DuckDB file: the one-click
unsubscribe (RFC 8058) and its landing page, the tracked links' redirect (the click recorded
for the flow's measurement), and the on-site messages the site's snippet reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tenure.deliver.clicks import CLICKS, click_url, make_click_token, read_click_token
from tenure.deliver.unsubscribe import ONE_CLICK, Token, make_token, token_for
from tenure.identity.lookup import find_person
from tenure.service.app import create_app
from tenure.store import Store
from tests.service.adminkit import GOOD, PUBLIC, SECRET, WRITE_KEY, admin_settings, copy_demo

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NOW = datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def served(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = copy_demo(demo_url, tmp_path_factory.mktemp("public"), predictions=False)
    with Store(url, settings=admin_settings(url)) as store:
        yield store


@pytest.fixture(scope="module")
def client(served: Store) -> Iterator[TestClient]:
    with TestClient(create_app(served.settings, store=served)) as c:
        yield c


def person(store: Store, identifier: str) -> str:
    return find_person(store, identifier).person_id


def withdrawn(store: Store, email: str) -> tuple[int, int]:
    """The ``unsubscribed`` consents and the suppressions of ``email``."""
    c, s = store.table("consents"), store.table("suppressions")
    consents = c.filter((c.identifier == email) & (c.status == "unsubscribed")).count()
    return int(consents.execute()), int(s.filter(s.identifier == email).count().execute())


# -- unsubscribe ---------------------------------------------------------------------------


def test_one_click_unsubscribe_withdraws_the_consent(client: TestClient, served: Store) -> None:
    mail = "gus.clark1@example.com"
    token = token_for(served.settings, person(served, mail), "email", "newsletter", NOW)
    assert withdrawn(served, mail) == (0, 0)
    answer = client.post("/unsubscribe", params={"token": token}, content=ONE_CLICK, headers=FORM)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "ok": True,
        "channel": "email",
        "flow": "newsletter",
        "unsubscribed": 1,
        "already": 0,
    }
    assert withdrawn(served, mail) == (1, 1)
    again = client.post("/unsubscribe", params={"token": token}, content=ONE_CLICK, headers=FORM)
    assert again.json()["already"] == 1 and withdrawn(served, mail)[1] == 1


def test_a_multipart_one_click_body_is_understood(client: TestClient, served: Store) -> None:
    mail = "pia.young389@example.com"
    token = token_for(served.settings, person(served, mail), "email", "newsletter", NOW)
    answer = client.post(
        "/unsubscribe", params={"token": token}, files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert answer.status_code == 200, answer.text
    assert withdrawn(served, mail) == (1, 1)


def test_the_landing_page_confirms_with_a_post(client: TestClient, served: Store) -> None:
    mail = "ivy.green224@example.com"
    token = token_for(served.settings, person(served, mail), "email", "vip", NOW)
    page = client.get("/unsubscribe", params={"token": token})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<form method="post"' in page.text and 'name="List-Unsubscribe"' in page.text
    assert withdrawn(served, mail) == (0, 0), "opening the link changes nothing"
    # the button posts the form: List-Unsubscribe=One-Click
    done = client.post(
        "/unsubscribe",
        params={"token": token},
        data={"List-Unsubscribe": "One-Click"},
        headers={"Accept": "text/html"},
    )
    assert done.status_code == 200 and "Unsubscribed" in done.text
    assert withdrawn(served, mail)[0] == 1


def test_a_bad_or_expired_token_is_a_clear_400(client: TestClient, served: Store) -> None:
    pid = person(served, "C0000003")
    expired = make_token(SECRET, Token(pid, "email", "vip", NOW - timedelta(days=1)))
    forged = make_token("another secret", Token(pid, "email", "vip", NOW + timedelta(days=1)))
    for token, words in ((expired, "expired"), (forged, "signature"), ("junk", "malformed")):
        answer = client.post(
            "/unsubscribe", params={"token": token}, content=ONE_CLICK, headers=FORM
        )
        error = answer.json()["error"]
        assert answer.status_code == 400 and words in error["message"] and error["hint"]
        assert error["field"] == "token"
        page = client.get("/unsubscribe", params={"token": token}, headers={"Accept": "text/html"})
        assert page.status_code == 400 and "does not work" in page.text
    valid = token_for(served.settings, pid, "email", "vip", NOW)
    wrong_body = client.post("/unsubscribe", params={"token": valid}, content="yes please")
    assert wrong_body.status_code == 400 and wrong_body.json()["error"]["field"] == "body"
    assert client.post("/unsubscribe", content=ONE_CLICK).status_code == 400  # no token


# -- clicks --------------------------------------------------------------------------------


def test_a_click_is_recorded_and_redirected(client: TestClient, served: Store) -> None:
    m = served.table("messages")
    key, pid, flow, step = (
        m.filter(m.flow == "newsletter")
        .select("message_key", "person_id", "flow", "step")
        .limit(1)
        .to_pyarrow()
        .to_pylist()[0]
        .values()
    )
    target = "https://shop.example/coffee?utm_source=tenure"
    link = click_url(served.settings, key, target)
    assert link.startswith(f"{PUBLIC}/c/")
    answer = client.get(link.removeprefix(PUBLIC), follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == target
    clicks = served.table(CLICKS).to_pyarrow().to_pylist()
    assert [(c["message_key"], c["person_id"], c["flow"], c["step"], c["url"]) for c in clicks] == [
        (key, pid, flow, step, target)
    ]


def test_a_bad_click_token_is_refused(client: TestClient) -> None:
    token = make_click_token("another secret", "k", "https://shop.example/")
    answer = client.get(f"/c/{token}", follow_redirects=False)
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "token"
    assert client.get("/c/nothing", follow_redirects=False).status_code == 400
    with pytest.raises(Exception, match="http"):
        make_click_token(SECRET, "k", "javascript:alert(1)")
    assert read_click_token(SECRET, make_click_token(SECRET, "k", "https://a.example/x")) == (
        "k",
        "https://a.example/x",
    )


# -- on-site messages ----------------------------------------------------------------------


def test_onsite_messages_need_the_write_key(client: TestClient, served: Store) -> None:
    answer = client.get("/v1/onsite", params={"userId": "C0000001"}, auth=(WRITE_KEY, ""))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["person_id"] == person(served, "C0000001")
    assert [m["message_key"] for m in body["messages"]] == ["onsite-test-1"]
    assert body["messages"][0]["body"] == {"products": ["P0114"]}
    anon = served.table("identities")
    anonymous = (
        anon.filter((anon.person_id == body["person_id"]) & (anon.kind == "anonymous_id"))
        .value.to_pyarrow()
        .to_pylist()[0]
    )
    by_anon = client.get("/v1/onsite", params={"anonymousId": anonymous}, auth=(WRITE_KEY, ""))
    assert by_anon.json() == body
    nobody = client.get("/v1/onsite", params={"anonymousId": "nobody"}, auth=(WRITE_KEY, ""))
    assert nobody.json() == {"person_id": None, "messages": []}
    assert client.get("/v1/onsite", params={"userId": "C0000001"}).status_code == 401
    assert client.get("/v1/onsite", params={"userId": "C1"}, headers=GOOD).status_code == 401
    assert client.get("/v1/onsite", auth=(WRITE_KEY, "")).json()["error"]["field"] == "anonymousId"

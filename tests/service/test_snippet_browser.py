"""The snippet in a real browser (Debian's Chromium driven by Playwright): a visitor lands
from a campaign, browses, adds to cart and signs in.

* Against a capture app (the routes ``/v1/page|track|identify`` record the bodies): what the
  browser POSTs is Segment's format, with one anonymous id across the calls and the identify
  carrying it next to the user id.
* Against the real service (``create_app`` under uvicorn over a DuckDB file, the shop on
  another origin): the events are acknowledged, loaded into the store, and identity
  resolution stitches the anonymous browsing before the sign-in to the customer; then
  ``tenure.onsite`` reads the customer's on-site message (the write key as basic auth, a CORS
  preflight from the shop's origin).
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse

from tenure.deliver.channel import Outgoing
from tenure.deliver.channels.onsite import OnsiteChannel
from tenure.identity import attributed, find_person, resolve_identities
from tenure.service import snippet
from tests.service.collector_live import KEY, LiveServer, free_port, live, settings_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None,
        reason="Debian's Chromium is not installed (`apt-get install chromium`; .ci/run does)",
    ),
]

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LANDING = "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_content=hero"
CAMPAIGN = {"source": "newsletter", "medium": "email", "name": "spring", "content": "hero"}


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start apps on free local ports (uvicorn in threads); all stopped after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: FastAPI) -> str:
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def _collector(received: list[dict[str, Any]]) -> FastAPI:
    """/tenure.js (the real route) and the three capture routes, CORS open as the service's."""
    app = FastAPI()
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
    )
    app.include_router(snippet.router)

    @app.post("/v1/{kind}")
    async def capture(kind: str, request: Request) -> dict[str, bool]:
        body = await request.json()
        received.append({"route": kind, "content_type": request.headers["content-type"], **body})
        return {"success": True}

    return app


def _shop(collector: str, key: str = "wk_test") -> FastAPI:
    """The shop's pages on another origin, each embedding the snippet as docs/service.md says
    (the page call's Promise kept as ``window.sent``)."""
    app = FastAPI()
    page = (
        "<!doctype html><html><head><title>TITLE</title>"
        f'<script src="{collector}/tenure.js"></script>'
        f'<script>tenure.load("{key}", {{host: "{collector}"}});'
        " window.sent = tenure.page();</script>"
        "</head><body>TITLE</body></html>"
    )

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return page.replace("TITLE", "Home")

    @app.get("/product/{sku}", response_class=HTMLResponse)
    def product(sku: str) -> str:
        return page.replace("TITLE", f"Product {sku}")

    @app.get("/early", response_class=HTMLResponse)
    def early() -> str:  # tenure.onsite before tenure.load: it waits for the load
        return (
            f'<!doctype html><html><head><script src="{collector}/tenure.js"></script>'
            f'<script>window.early = tenure.onsite(); tenure.load("{key}", '
            f'{{host: "{collector}"}});</script></head><body>Early</body></html>'
        )

    return app


def _wait_for(received: list[dict[str, Any]], n: int) -> None:
    deadline = time.monotonic() + 60
    while len(received) < n:
        assert time.monotonic() < deadline, f"{len(received)} of {n} calls arrived: {received}"
        time.sleep(0.05)


def _browse(shop: str, received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Land from a campaign, open a product, add it to the cart, sign in, add another."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            context = browser.new_context()
            tab = context.new_page()
            tab.goto(shop + LANDING)
            _wait_for(received, 1)
            tab.goto(shop + "/product/p1")
            _wait_for(received, 2)
            added = "() => tenure.track('Product Added', {product_id: 'p1', price: 19.99})"
            assert tab.evaluate(added) is True
            who = "() => tenure.identify('user-42', {email: 'ada@example.com'})"
            assert tab.evaluate(who) is True
            assert tab.evaluate("() => tenure.track('Product Added', {product_id: 'p2'})")
            _wait_for(received, 5)
            cookies = context.cookies()
        finally:
            browser.close()
    return cookies


def test_the_snippet_sends_segment_calls_with_one_anonymous_id(serve: Any) -> None:
    received: list[dict[str, Any]] = []
    collector = serve(_collector(received))
    shop = serve(_shop(collector))
    cookies = _browse(shop, received)

    assert [r["route"] for r in received] == ["page", "page", "track", "identify", "track"]
    assert all(r["type"] == r["route"] for r in received)
    assert all(r["writeKey"] == "wk_test" for r in received)
    assert all(r["content_type"] == "application/json" for r in received)
    anonymous = {r["anonymousId"] for r in received}
    assert len(anonymous) == 1 and UUID.match(anonymous.pop())
    ids = [r["messageId"] for r in received]
    assert len(set(ids)) == len(ids) and all(UUID.match(i) for i in ids)
    assert all(r["timestamp"].endswith("Z") for r in received)

    landing, product, added, identify, after = received
    assert landing["context"]["campaign"] == CAMPAIGN
    assert product["context"]["campaign"] == CAMPAIGN  # kept for the visit
    assert product["properties"]["path"] == "/product/p1"
    assert product["properties"]["title"] == "Product p1"
    assert product["context"]["page"]["url"] == shop + "/product/p1"
    assert landing["context"]["library"]["name"] == "tenure.js"
    assert added["event"] == "Product Added"
    assert added["properties"] == {"product_id": "p1", "price": 19.99}
    assert "userId" not in added
    assert identify["userId"] == "user-42"
    assert identify["anonymousId"] == landing["anonymousId"]
    assert identify["traits"] == {"email": "ada@example.com"}
    assert after["userId"] == "user-42" and after["anonymousId"] == landing["anonymousId"]

    (aid,) = [c for c in cookies if c["name"] == "tenure_aid"]
    assert aid["value"] == landing["anonymousId"]
    assert aid["sameSite"] == "Lax" and aid["path"] == "/"
    days = (aid["expires"] - time.time()) / 86400
    assert 364 < days <= 365


# The real service ------------------------------------------------------------------------

#: The shop's calls as the store keeps them: (type, event, with a user id).
STORED = [
    ("page", None, False),
    ("page", None, False),
    ("track", "Product Added", False),
    ("identify", None, True),
    ("track", "Product Added", True),
]
ONSITE = "() => new Promise((resolve) => tenure.onsite(resolve))"


@pytest.fixture
def server(tmp_path: Any) -> Iterator[LiveServer]:
    """``tenure serve``'s app over a DuckDB file, the worker off (only the collector runs)."""
    settings = settings_for(
        tmp_path / "shop.duckdb",
        tmp_path / "wal",
        worker_pipeline_every=0,
        worker_flows_every=0,
        worker_dispatch_every=0,
    )
    with live(settings) as running:
        yield running


def _stored(server: LiveServer, n: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The store's ``events`` rows once the loader has moved ``n`` of them in."""
    deadline = time.monotonic() + timeout
    while True:
        with server.state.store() as store:
            events = store.table("events").order_by(["timestamp", "received_at"])
            rows = events.to_pyarrow().to_pylist()
        if len(rows) >= n:
            return rows
        assert time.monotonic() < deadline, f"{len(rows)} of {n} events reached the store"
        time.sleep(0.1)


def _browse_and_sign_in(tab: Any, shop: str) -> None:
    """Land, open a product, add it to the cart, sign in, add another: each call acknowledged
    (its Promise true) by the real collector."""
    tab.goto(shop + LANDING)
    assert tab.evaluate("() => window.sent") is True
    tab.goto(shop + "/product/p1")
    assert tab.evaluate("() => window.sent") is True
    assert tab.evaluate("() => tenure.track('Product Added', {product_id: 'p1', price: 19.99})")
    assert tab.evaluate("() => tenure.identify('user-42', {email: 'ada@example.com'})")
    assert tab.evaluate("() => tenure.track('Product Added', {product_id: 'p2'})")


def _keep_onsite_message(server: LiveServer, person_id: str) -> None:
    """An on-site message for the person, kept the way the on-site channel keeps it."""
    message = Outgoing(
        message_key="msg-1",
        flow="welcome_back",
        step="banner",
        person_id=person_id,
        channel="onsite",
        to=person_id,
        message_id="msg-1",
        subject="Welcome back, Ada",
        text="Your cart is waiting.",
        body={"cta": "/cart"},
    )
    with server.state.store() as store:
        OnsiteChannel(store).send(message)


def _preflight(url: str, origin: str) -> dict[str, str]:
    """The headers of a CORS preflight for a GET with ``Authorization`` from ``origin``."""
    import urllib.request

    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        return {k.lower(): v for k, v in answer.headers.items()}


def test_the_browser_stitches_and_reads_onsite_against_the_real_service(
    serve: Any, server: LiveServer
) -> None:
    from playwright.sync_api import sync_playwright

    shop = serve(_shop(server.url, KEY))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            tab = browser.new_context().new_page()
            _browse_and_sign_in(tab, shop)
            aid = tab.evaluate("() => tenure.anonymousId()")

            rows = _stored(server, len(STORED))
            assert [(r["type"], r["event"], r["user_id"] is not None) for r in rows] == STORED
            assert {r["anonymous_id"] for r in rows} == {aid}
            assert {r["user_id"] for r in rows} == {None, "user-42"}
            assert rows[0]["utm_source"] == "newsletter"

            with server.state.store() as store:
                resolve_identities(store)
                person = find_person(store, "user-42").person_id
                assert find_person(store, f"anonymous_id:{aid}").person_id == person
                ids = store.table("identities").to_pyarrow().to_pylist()
                owners = {(r["kind"], r["value"]): r["person_id"] for r in ids}
                assert owners[("customer_id", "user-42")] == person
                assert owners[("anonymous_id", aid)] == person
                events = attributed(store, "events").to_pyarrow().to_pylist()
            assert len(events) == len(STORED)
            assert {e["person_id"] for e in events} == {person}  # before identify too

            assert tab.evaluate(ONSITE) == []  # nothing kept for them yet
            _keep_onsite_message(server, person)
            (got,) = tab.evaluate(ONSITE)
            assert got["person_id"] == person and got["message_key"] == "msg-1"
            assert got["subject"] == "Welcome back, Ada"
            assert got["body"] == {"cta": "/cart"}

            stranger = browser.new_context().new_page()
            stranger.goto(shop + "/early")
            assert stranger.evaluate("() => window.early") == []  # an id nobody knows
            assert stranger.evaluate(ONSITE) == []
        finally:
            browser.close()

    allowed = _preflight(server.url + "/v1/onsite?userId=user-42", shop)
    assert allowed["access-control-allow-origin"] in ("*", shop)
    assert "authorization" in allowed["access-control-allow-headers"].lower()
    assert "GET" in allowed["access-control-allow-methods"]

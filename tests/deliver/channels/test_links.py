"""Tracked links (tenure.deliver.links): an e-mail's http(s) links become ``GET /c/<token>``
redirects once its template is rendered, each token naming its message and the exact target;
the unsubscribe link, ``mailto:`` and the other tags are untouched; and, end to end, following
a tracked link through the service records the click that ``flow_stats`` counts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from tenure import Store
from tenure.config import Settings
from tenure.deliver.channel import Outgoing
from tenure.deliver.clicks import read_click_token
from tenure.deliver.links import tracker, wrap_html, wrap_text
from tenure.deliver.measure import flow_stats
from tenure.deliver.render import TemplateRenderer, preview
from tenure.deliver.unsubscribe import secret_of
from tenure.service.app import create_app
from tests.deliver.channels.channelkit import NOW, message_row, seed, settings_for

PUBLIC = "https://crm.shop.example"
CART = "https://shop.example/cart?a=1&b=2"
TEXT = """Hello {{ person.first_name }},
Your cart: https://shop.example/cart?a=1&b=2.
(see https://shop.example/help) or write to mailto:help@shop.example
Unsubscribe: {{ unsubscribe_url }}
"""
HTML = """<!DOCTYPE html>
<html><head><link rel="stylesheet" href="https://shop.example/style.css"></head>
<body>
<p><a class="cart" href="{{ 'https://shop.example/cart?a=1&b=2' }}">Your cart</a></p>
<p><A title="href=https://evil.example" HREF=https://shop.example/bare>bare</A>
<a href='https://shop.example/q?x=1&amp;y=%20z#top'>quoted</a>
<a href="mailto:help@shop.example">Mail us</a> <a href="/relative">relative</a>
<a name="no-href">anchor</a></p>
<p>{{ person.first_name }}</p>
<a href="{{ unsubscribe_url }}">Unsubscribe</a>
</body></html>
"""


class Hrefs(HTMLParser):
    """Every href of the document, as a browser reads it (tag, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(tag, v or "") for k, v in attrs if k == "href"]


def hrefs(document: str) -> list[tuple[str, str]]:
    parser = Hrefs()
    parser.feed(document)
    return parser.found


def target(settings: Settings, link: str, key: str) -> str:
    """The target of a tracked link, once its token is checked to name message ``key``."""
    assert link.startswith(f"{PUBLIC}/c/"), link
    found_key, url = read_click_token(secret_of(settings), link.removeprefix(f"{PUBLIC}/c/"))
    assert found_key == key
    return url


def write_template(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / "shop.txt").write_text(TEXT)
    (folder / "shop.html").write_text(HTML)


def render(store: Store, settings: Settings, key: str = "k1", **row: str) -> Outgoing:
    (m,) = TemplateRenderer(store, settings, NOW).render([message_row(key, template="shop", **row)])
    assert isinstance(m, Outgoing), m
    return m


def test_every_http_link_of_the_html_part_is_tracked(store: Store, tmp_path: Path) -> None:
    write_template(tmp_path)
    settings = settings_for(tmp_path)
    m = render(store, settings)
    found = hrefs(m.html)
    tracked = [target(settings, v, "k1") for t, v in found if v.startswith(f"{PUBLIC}/c/")]
    assert tracked == [
        CART,  # autoescaped by Jinja2 to &amp;, followed as &
        "https://shop.example/bare",
        "https://shop.example/q?x=1&y=%20z#top",
    ]
    untouched = [(t, v) for t, v in found if not v.startswith(f"{PUBLIC}/c/")]
    assert [v for _, v in untouched[:4]] == [
        "https://shop.example/style.css",  # a <link>: not something a reader clicks
        "mailto:help@shop.example",
        "/relative",
        m.headers["List-Unsubscribe"].split(">")[0].removeprefix("<"),
    ]
    assert untouched[3][1].startswith(f"{PUBLIC}/unsubscribe?token=") and len(untouched) == 4
    # the rest of the document is as the template rendered it, escaped
    assert 'title="href=https://evil.example"' in m.html
    assert "<p>Ann &lt;script&gt;alert(1)&lt;/script&gt;</p>" in m.html
    assert '<link rel="stylesheet" href="https://shop.example/style.css">' in m.html


def test_every_http_url_of_the_text_part_is_tracked(store: Store, tmp_path: Path) -> None:
    write_template(tmp_path)
    settings = settings_for(tmp_path)
    lines = render(store, settings).text.splitlines()
    assert lines[0] == "Hello Ann <script>alert(1)</script>,"  # the text part is not HTML
    cart, rest = lines[1].removeprefix("Your cart: ").rsplit(".", 1)
    assert target(settings, cart, "k1") == CART and rest == ""
    help_link = lines[2].removeprefix("(see ").split(")")[0]
    assert target(settings, help_link, "k1") == "https://shop.example/help"
    assert lines[2].endswith(") or write to mailto:help@shop.example")
    assert lines[3].startswith(f"Unsubscribe: {PUBLIC}/unsubscribe?token=")


def test_links_are_kept_without_a_public_url_or_a_secret_and_outside_email(
    store: Store, tmp_path: Path
) -> None:
    write_template(tmp_path)
    for settings in (
        settings_for(tmp_path, unsubscribe_secret=None),
        settings_for(tmp_path, public_url=None),
    ):
        m = render(store, settings)
        assert "/c/" not in m.html and "/c/" not in m.text
        assert ("a", "https://shop.example/cart?a=1&b=2") in hrefs(m.html)
        assert 'href="https://shop.example/cart?a=1&amp;b=2"' in m.html
    sms = render(store, settings_for(tmp_path), channel="sms")
    assert "https://shop.example/cart?a=1&b=2." in sms.text


def test_wrapping_changes_only_the_href_values() -> None:
    document = (
        '<p>a &amp; b</p>\n<a  href = "https://x.example/?a=1&amp;b=2" id=z>x</a><br/>\n'
        "<area shape=rect href=https://x.example/map><a href=https://x.example/self />"
        "<script>var s = '<a href=\"https://x.example/script\">';</script>"
    )
    wrapped = wrap_html(document, lambda url: "T<" + url + ">")
    assert wrapped == (
        '<p>a &amp; b</p>\n<a  href = "T&lt;https://x.example/?a=1&amp;b=2&gt;" id=z>x</a><br/>\n'
        '<area shape=rect href="T&lt;https://x.example/map&gt;">'
        '<a href="T&lt;https://x.example/self&gt;" />'
        "<script>var s = '<a href=\"https://x.example/script\">';</script>"
    )
    assert wrap_html(document, lambda url: None) == document
    assert wrap_text("go to https://x.example/a_(b)), now", lambda u: f"[{u}]") == (
        "go to [https://x.example/a_(b)]), now"
    )


def test_the_tracker_skips_the_service_and_other_schemes(tmp_path: Path) -> None:
    track = tracker(settings_for(tmp_path), "k")
    assert track(f"{PUBLIC}/unsubscribe?token=t") is None
    assert track(f"{PUBLIC.upper()}/c/abc") is None
    for url in ("mailto:a@b.example", "javascript:alert(1)", "/relative", "https://"):
        assert track(url) is None
    assert (track("HTTPS://shop.example/") or "").startswith(f"{PUBLIC}/c/")


def test_the_preview_shows_the_tracked_links(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    m = preview(store, settings, "welcome_series", "offer", "ann@example.com", NOW)
    assert f"{PUBLIC}/unsubscribe?token=" in m.html  # the shipped templates link nothing else
    write_template(tmp_path)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "shop.yaml").write_text(
        "name: shop_flow\ntrigger: {event: Signed Up}\nsteps:\n"
        "  - id: mail\n    send: {channel: email, template: shop, subject: Hi}\n"
    )
    m = preview(store, settings, "shop_flow", "mail", "ann@example.com", NOW)
    tracked = [v for _, v in hrefs(m.html) if v.startswith(f"{PUBLIC}/c/")]
    assert target(settings, tracked[0], m.message_key) == CART


# -- end to end: a tracked link followed through the service -------------------------------


@pytest.fixture
def served(empty_store_path: Path, tmp_path: Path) -> Iterator[tuple[Store, Settings]]:
    path = tmp_path / "served.duckdb"
    shutil.copy(empty_store_path, path)
    settings = settings_for(
        tmp_path,
        store_url=f"duckdb://{path}",
        worker_pipeline_every=0,
        worker_flows_every=0,
        worker_dispatch_every=0,
    )
    with Store(f"duckdb://{path}", settings=settings) as store:
        seed(store)
        yield store, settings


def test_a_followed_link_is_recorded_and_counted(served: tuple[Store, Settings]) -> None:
    store, settings = served
    write_template(Path(str(settings.templates_dir)).parent)
    sent = datetime(2026, 3, 2, 9, 0)
    store.insert(
        "messages",
        pa.Table.from_pylist(
            [
                {**message_row(key, template="shop"), "state": "sent", "decided_at": sent,
                 "due_at": sent, "sent_at": sent, "trigger_id": f"trig-{key}"}
                for key in ("k1", "k2")
            ]
        ),
    )  # fmt: skip
    m = render(store, settings)
    links = [v for _, v in hrefs(m.html) if v.startswith(f"{PUBLIC}/c/")]
    with TestClient(create_app(settings, store=store)) as client:
        for link in (links[0], links[0], links[1]):
            answer = client.get(link.removeprefix(PUBLIC), follow_redirects=False)
            assert answer.status_code == 302
        assert answer.headers["location"] == "https://shop.example/bare"
        first = client.get(links[0].removeprefix(PUBLIC), follow_redirects=False)
        assert first.headers["location"] == CART
    clicks = store.table("link_clicks").to_pyarrow().to_pylist()
    assert {(c["message_key"], c["flow"], c["step"], c["url"]) for c in clicks} == {
        ("k1", "abandoned_cart", "email_cart", CART),
        ("k1", "abandoned_cart", "email_cart", "https://shop.example/bare"),
    }
    (report,) = flow_stats(store, now=datetime(2100, 1, 1)).flows
    step = report.to_dict()["steps"][0]
    assert (step["messages"], step["sent"], step["clicked"], step["clicks"]) == (2, 2, 1, 4)
    assert (report.clicked, report.clicks) == (1, 4)

"""Drawing a page (issue 19, items 1, 2 and 4) on a page built by hand: every number carries
its raw value beside its text, unknown is drawn "unknown", a definition on hover for every
label that has one, charts travel as JSON to the one chart module, tables as CSV; the report
is one file that asks nothing of the network."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from html import unescape
from pathlib import Path

from tenure.dashboard.definitions import DEFINITIONS_FILE, definition, extract
from tenure.dashboard.draw import (
    Frame,
    NavItem,
    chart_json,
    definition_keys,
    find_table,
    render_page,
    render_report,
    render_sections,
    table_csv,
)
from tenure.dashboard.i18n import Translator
from tenure.dashboard.model import Column, Table
from tests.dashboard.sample import sample_page

ROOT = Path(__file__).resolve().parents[2]
FRAME = Frame(
    nav=(NavItem("overview", "Overview", "/dash/overview"),),
    current="overview",
    action="/dash/overview",
    languages={"en": "?lang=en", "fr": "?lang=fr", "es": "?lang=es"},
    csrf="tok",
    csv_url="/dash/overview/{table}.csv",
    user="admin",
)


def attrs(html: str, name: str) -> list[str]:
    return [unescape(v) for v in re.findall(rf'{name}="([^"]*)"', html)]


def test_the_shipped_definitions_are_docs_metrics() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    shipped = json.loads(DEFINITIONS_FILE.read_text(encoding="utf-8"))
    assert shipped == extract(text), (
        "definitions.json is stale: python -m tenure.dashboard.definitions docs/metrics.md"
    )
    assert definition("clv_cac") == "clv / cac (null when there is no spend)"
    assert definition("kpis-per-period#aov") == definition("metrics.md#kpis-per-period#aov")
    assert definition("no-such-number") is None


def test_extract_reads_headings_paragraphs_and_definition_tables() -> None:
    doc = (
        "# Title\n\n## Two words (here)\nFirst `line`\nand **more**.\n\n| column | definition |\n"
        "|---|---|\n| `a`, `b-c` | the [thing](x.md) |\n"
        '- <a id="dash-x"></a>**X**: what `x` is.\n'
    )
    assert extract(doc) == {
        "two-words-here": "First line and more.",
        "two-words-here#a": "the thing",
        "two-words-here#b-c": "the thing",
        "a": "the thing",
        "b-c": "the thing",
        "dash-x": "X: what x is.",
    }


def test_every_definition_key_of_the_page_builders_resolves() -> None:
    """Every string of ``tenure/dashboard/pages/`` that names a dashboard definition
    (``dash-...``) is one of the shipped definitions, so every hover has its text."""
    import ast

    keys = set()
    for path in (ROOT / "src" / "tenure" / "dashboard" / "pages").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and re.fullmatch(r"dash-[a-z0-9-]+", text):
                keys.add(text)
    assert len(keys) > 20
    assert sorted(k for k in keys if definition(k) is None) == []


def test_every_number_carries_its_raw_value() -> None:
    page = sample_page()
    html = render_page(page, Translator("en", "EUR"), FRAME)
    twin = page.to_json()
    cards = twin["sections"][0]["metrics"]
    assert [json.loads(v) for v in attrs(html, "data-value")[: len(cards)]] == [
        m["value"] for m in cards
    ]
    table = twin["sections"][1]["tables"][0]
    cells = [json.loads(v) for v in attrs(html, "data-value")[len(cards) :]]
    assert cells == [v for row in table["rows"] for v in row]
    assert "€12,345.50" in html and "unknown" in html and "3.4:1" in html
    assert 'class="card health-good"' in html and "healthy · benchmark 3:1" in html


def test_definitions_show_on_hover() -> None:
    page = sample_page()
    html = render_page(page, Translator("en", "EUR"), FRAME)
    shown = attrs(html, "data-definition")
    assert shown == [k for k in definition_keys(page) if definition(k)]
    assert f'title="{definition("cac")}"' in unescape(html)


def test_charts_travel_as_json_in_the_readers_language() -> None:
    page = sample_page()
    tr = Translator("fr", "EUR")
    html = render_page(page, tr, FRAME)
    charts = [json.loads(v) for v in attrs(html, "data-chart")]
    every = [c for s in page.sections for c in s.charts]
    assert charts == [chart_json(c, tr) for c in every]
    assert {c["kind"] for c in charts} == {
        "line",
        "bar",
        "stacked_bar",
        "heatmap",
        "funnel",
        "histogram",
    }
    assert charts[0]["title"] == "Chiffre d'affaires" and charts[0]["locale"] == "fr"
    assert charts[0]["series"][0]["values"] == [100.0, 120.5, None]


def test_tables_have_a_csv_link_and_csv() -> None:
    page = sample_page()
    html = render_page(page, Translator("en", "EUR"), FRAME)
    assert 'href="/dash/overview/channels.csv"' in html
    table = find_table(page, "channels")
    assert table is not None and find_table(page, "nope") is None
    assert table_csv(table) == (
        "channel,new_customers,cac,first\ndirect,10,,2025-12-01\nemail,4,12.25,\n"
    )
    assert 'href="/dash/profile?q=direct"' in html
    only = replace(FRAME, links=("/dash/customers/rfm/",))  # no page for this table's link
    plain_cells = render_page(page, Translator("en", "EUR"), only)
    assert "/dash/profile?q=" not in plain_cells and ">direct</td>" in plain_cells


def test_text_from_the_store_is_escaped() -> None:
    evil = Table(
        "evil", "Evil", (Column("name", "Name", "text"),), (("<script>alert(1)</script>",),)
    )
    page = sample_page()
    page = replace(page, sections=(replace(page.sections[0], tables=(evil,)),))
    html = render_page(page, Translator("en", "EUR"), FRAME)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_the_report_is_one_file_that_asks_nothing_of_the_network() -> None:
    pages = [sample_page("overview"), sample_page("channels")]
    html = render_report(pages, Translator("es", "EUR"), title="Informe", generated="hoy")
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)
    assert "echarts" in html and "TenureCharts" in html
    assert html.count('<figure class="chart"') == 12
    assert '<html lang="es">' in html and "Ingresos" in html
    assert 'id="page-overview"' in html and 'id="page-channels"' in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "an id repeats"


def test_a_page_s_sections_are_drawn_once_per_page_object_and_language() -> None:
    page, frame = sample_page(), Frame(csv_url="/dash/overview/{table}.csv")
    en, fr = Translator("en", "EUR"), Translator("fr", "EUR")
    first = render_sections(page, en, frame)
    assert render_sections(page, en, frame) is first  # kept, not drawn again
    assert render_sections(page, fr, frame) is not first
    assert copy.deepcopy(page) is page  # the result cache hands out the same object
    again = sample_page()  # an equal page built anew is drawn anew, the same
    assert render_sections(again, en, frame) is not first
    assert render_sections(again, en, frame) == first
    assert str(first) in render_page(page, en, frame)

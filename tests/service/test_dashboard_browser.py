"""The dashboard in a real browser (issue 19, "Must show"): Debian's Chromium driven by
Playwright through every page of the tests' demo store, served by ``create_app`` under
uvicorn on the loopback.

* Every page, in English, French and Spanish (the store has a goal, so the Advisor page
  draws a forecast fan): the numbers shown (each carries its raw value
  in ``data-value``) are the JSON twin's, every chart is drawn (an SVG per chart), a
  screenshot is saved, and axe-core (the ``axe-playwright-python`` test dependency, no CDN)
  finds no critical or serious violation.
* A flow's page and a segment's page against their twins, and the flow paused then resumed
  by its button (a POST form with the session's CSRF token).
* The profile: a search by customer id, the person's page against its twin, the delete action
  (CSRF in the form), and afterwards a 404 that says nothing about them.
* The report: `tenure report` written, opened from its file with every request but
  ``file://`` aborted; every chart drawn; its numbers equal `tenure kpis --json` and
  `tenure channels --json` for the same period.

One server, one browser for the module. ``TENURE_SCREENSHOT=1`` also writes the English
overview to docs/img/overview.png (the README's picture).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.advisor.goals import add_goal
from tenure.cli import app as cli_app
from tenure.dashboard.pages import PAGES
from tests.service.adminkit import ADMIN, admin_settings, copy_demo
from tests.service.collector_live import LiveServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None,
        reason="Debian's Chromium is not installed (`apt-get install chromium`; .ci/run does)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
LANGS = ("en", "fr", "es")
#: A buyer of the tests' demo store (customer 42 is person 42, a buyer: tests/test_docs.py).
CUSTOMER = "C0000042"
#: The flow paused and resumed from its page.
FLOW = "abandoned_cart"
#: How long a page may take on a loaded machine (the customers page builds in ~10 s alone).
WAIT_MS = 180_000

#: What the page shows, read in the browser: each card's raw value, each table's cells, the
#: charts drawn.
READ_PAGE = """() => {
  const raw = (el) => JSON.parse(el.getAttribute('data-value'));
  const sections = {};
  for (const s of document.querySelectorAll('[data-section]')) {
    const metrics = {};
    for (const m of s.querySelectorAll('[data-metric]')) metrics[m.dataset.metric] = raw(m);
    const tables = {};
    for (const t of s.querySelectorAll('table[data-table]')) {
      tables[t.dataset.table] = [...t.querySelectorAll('tbody tr')]
        .filter((tr) => tr.querySelector('[data-value]'))
        .map((tr) => [...tr.querySelectorAll('td[data-value]')].map(raw));
    }
    sections[s.dataset.section] = {metrics, tables};
  }
  return {
    lang: document.documentElement.lang,
    sections,
    charts: document.querySelectorAll('figure[data-chart]').length,
    drawn: document.querySelectorAll('figure[data-chart] .chart-canvas svg').length,
  };
}"""


def shown(twin: dict[str, Any]) -> dict[str, Any]:
    """What :data:`READ_PAGE` should find for a page's JSON twin."""
    return {
        s["key"]: {
            "metrics": {m["key"]: m["value"] for m in s["metrics"]},
            "tables": {t["key"]: t["rows"] for t in s["tables"]},
        }
        for s in twin["sections"]
    }


def differences(shown_: Any, twin: Any, path: str = "") -> list[str]:
    """Where the page differs from its twin. The page and the twin are two builds of the
    page: a float may differ in its last digits (DuckDB sums floats in parallel, in no fixed
    order), so floats are compared to 1e-9 of their size; everything else exactly."""
    if isinstance(shown_, dict) and isinstance(twin, dict):
        if shown_.keys() != twin.keys():
            return [f"{path}: keys {sorted(shown_)} != {sorted(twin)}"]
        return [d for k in shown_ for d in differences(shown_[k], twin[k], f"{path}/{k}")]
    if isinstance(shown_, list) and isinstance(twin, list):
        if len(shown_) != len(twin):
            return [f"{path}: {len(shown_)} rows != {len(twin)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(shown_, twin, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if isinstance(shown_, int | float) and isinstance(twin, int | float):
        return (
            []
            if math.isclose(shown_, twin, rel_tol=1e-9, abs_tol=1e-12)
            else [f"{path}: {shown_} != {twin}"]
        )
    return [] if shown_ == twin else [f"{path}: {shown_!r} != {twin!r}"]


def charts_of(twin: dict[str, Any]) -> int:
    return sum(len(s["charts"]) for s in twin["sections"])


@pytest.fixture(scope="module")
def server(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("dash")
    url = copy_demo(demo_url, folder)
    with Store(url) as store:  # a goal: the Advisor page draws its forecast fan
        add_goal(store, "revenue +7% in 3 months")
    settings = admin_settings(url).model_copy(update={"collector_dir": folder / "wal"})
    server = LiveServer(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A tab logged in through the login form (an admin token)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.goto(f"{server.url}/dash/overview")
    assert "/dash/login" in tab.url
    tab.fill("#password", ADMIN)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{server.url}/dash/overview")
    yield tab
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def serious(tab: Any) -> list[str]:
    """axe-core's critical and serious violations of the page in ``tab``."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v["impact"] in ("critical", "serious")
    ]


def open_page(tab: Any, url: str) -> dict[str, Any]:
    tab.goto(url)
    tab.wait_for_function(
        "() => [...document.querySelectorAll('figure[data-chart] .chart-canvas')]"
        ".every((el) => el.dataset.drawn === 'true')"
    )
    read: dict[str, Any] = tab.evaluate(READ_PAGE)
    return read


def test_every_page_in_every_language_shows_its_twin_draws_its_charts_and_passes_axe(
    page: Any, server: LiveServer, shots: Path
) -> None:
    problems: dict[str, list[str]] = {}
    for key in PAGES:
        twin = page.request.get(f"{server.url}/dash/{key}.json", timeout=WAIT_MS).json()
        for lang in LANGS:
            read = open_page(page, f"{server.url}/dash/{key}?lang={lang}")
            assert read["lang"] == lang
            diff = differences(read["sections"], shown(twin))
            assert not diff, (key, lang, diff[:5])
            assert read["charts"] == read["drawn"] == charts_of(twin), (key, lang)
            page.screenshot(path=str(shots / f"{key}-{lang}.png"), full_page=True)
            found = serious(page)
            if found:
                problems[f"{key} ({lang})"] = found
        if key == "overview" and os.environ.get("TENURE_SCREENSHOT"):
            open_page(page, f"{server.url}/dash/overview?lang=en")
            page.screenshot(path=str(ROOT / "docs" / "img" / "overview.png"))
    assert not problems, json.dumps(problems, indent=1)
    assert len(list(shots.glob("*.png"))) == len(PAGES) * len(LANGS)


def test_the_first_link_of_every_linked_table_opens_a_page(page: Any, server: LiveServer) -> None:
    followed = {}
    for key in PAGES:
        page.goto(f"{server.url}/dash/{key}")
        links = page.evaluate(
            "() => [...document.querySelectorAll('table[data-table]')]"
            ".map((t) => [t.dataset.table, t.querySelector('tbody a')])"
            ".filter(([, a]) => a).map(([k, a]) => [k, a.getAttribute('href')])"
        )
        for table, href in links:
            answer = page.request.get(f"{server.url}{href}", timeout=WAIT_MS)
            followed[f"{key}/{table}"] = (href, answer.status)
    assert followed, "no table links anywhere"
    assert {k: v for k, v in followed.items() if v[1] != 200} == {}
    assert any("/dash/customers/rfm/" in href for href, _ in followed.values())


def test_a_flow_page_and_a_segment_page_then_pause_and_resume(
    page: Any, server: LiveServer
) -> None:
    for path in (f"/dash/flows/{FLOW}", "/dash/segments/at_risk"):
        twin = page.request.get(f"{server.url}{path}.json", timeout=WAIT_MS).json()
        read = open_page(page, f"{server.url}{path}?lang=es")
        diff = differences(read["sections"], shown(twin))
        assert not diff, (path, diff[:5])
        assert read["charts"] == read["drawn"] == charts_of(twin), path
        assert serious(page) == [], path

    button = f"form[data-flow={FLOW}] button"
    state = f"form[data-flow={FLOW}]"
    page.goto(f"{server.url}/dash/flows/{FLOW}")
    assert page.get_attribute(state, "data-paused") == "false"
    page.click(button)
    page.wait_for_url(f"**/dash/flows/{FLOW}?done=paused*")
    assert page.get_attribute(state, "data-paused") == "true"
    assert page.locator("p.notice[role=status]").count() == 1
    twin = page.request.get(f"{server.url}/dash/flows.json", timeout=WAIT_MS).json()
    states = {
        r[0]: r[1]
        for s in twin["sections"]
        for t in s["tables"]
        if t["key"] == "states"
        for r in t["rows"]
    }
    assert states[FLOW] == "paused"
    page.click(button)
    page.wait_for_url(f"**/dash/flows/{FLOW}?done=resumed*")
    assert page.get_attribute(state, "data-paused") == "false"


def test_the_login_and_search_pages_pass_axe(browser: Any, page: Any, server: LiveServer) -> None:
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    anonymous = context.new_page()
    anonymous.goto(f"{server.url}/dash/login?lang=fr")
    assert serious(anonymous) == []
    context.close()
    page.goto(f"{server.url}/dash/profile?q=walker&lang=es")
    assert serious(page) == []


def test_a_person_found_shown_deleted_and_then_not_found(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/dash/profile")
    page.fill("#q", CUSTOMER)
    page.click("form.search button")
    page.wait_for_selector("table[data-table=matches] tbody a")
    page.click("table[data-table=matches] tbody a")
    page.wait_for_selector("[data-section]")
    person_url = page.url
    assert "/dash/profile/" in person_url
    twin = page.request.get(f"{person_url}.json", timeout=WAIT_MS).json()
    read = open_page(page, person_url)
    diff = differences(read["sections"], shown(twin))
    assert not diff, diff[:5]
    assert serious(page) == []

    page.check("form.danger input[name=confirm]")
    page.click("form.danger button")
    page.wait_for_url(f"{server.url}/dash/profile?deleted=1")
    for url in (person_url, f"{person_url}.json", f"{server.url}/dash/profile/{CUSTOMER}"):
        answer = page.request.get(url, timeout=WAIT_MS)
        assert answer.status == 404
        assert answer.json()["error"]["message"] == "No person matches."
        assert CUSTOMER not in answer.text() and "P-" not in answer.text()


def test_the_report_works_offline_and_equals_the_cli(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    store = tmp_path / "report.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), store)
    runner = CliRunner()
    out = tmp_path / "report.html"
    made = runner.invoke(cli_app, ["report", "--store", str(store), "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert made.stdout.replace("\n", "") == f"Report: {out}"

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    asked: list[str] = []

    def only_the_file(route: Any) -> None:
        asked.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_file)
    read = open_page(tab, out.as_uri())
    assert asked == [out.as_uri()]
    assert read["charts"] == read["drawn"] > 10
    window = tab.evaluate(
        "() => [...document.querySelectorAll('article.page')].map((a) => a.dataset.page)"
    )
    assert window == list(PAGES)
    assert serious(tab) == []

    cards = tab.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll("
        "'#page-overview [data-section=kpis] [data-metric]')]"
        ".map((m) => [m.dataset.metric, JSON.parse(m.dataset.value)]))"
    )
    channel_rows = tab.evaluate(
        "() => [...document.querySelectorAll("
        "'#page-channels table[data-table=channels] tbody tr')]"
        ".map((tr) => [...tr.querySelectorAll('td[data-value]')]"
        ".map((td) => JSON.parse(td.dataset.value)))"
    )
    tab_period = tab.evaluate(
        "() => [document.querySelector('#page-overview').dataset.start,"
        " document.querySelector('#page-overview').dataset.end]"
    )
    columns = tab.evaluate(
        "() => [...document.querySelectorAll("
        "'#page-channels table[data-table=channels] thead th')].map((th) => th.dataset.column)"
    )
    context.close()

    period = tab_period
    kpis = runner.invoke(
        cli_app,
        ["kpis", "--store", str(store), "--start", period[0], "--end", period[1], "--json"],
    )
    assert kpis.exit_code == 0, kpis.output
    row = json.loads(kpis.stdout)[-1]
    for key in ("revenue", "orders", "aov", "repeat_purchase_rate", "retention_rate"):
        assert cards[key] == row[key], key
    for key in ("churn_rate", "new_customers", "cac", "clv"):
        assert cards[key] == row[key], key

    channels = runner.invoke(
        cli_app, ["channels", "--store", str(store), "--as-of", period[1], "--json"]
    )
    assert channels.exit_code == 0, channels.output
    expected = [[r[c] for c in columns if c in r] for r in json.loads(channels.stdout)]
    shared = [i for i, c in enumerate(columns) if c != "predicted_clv"]
    assert [[row[i] for i in shared] for row in channel_rows] == expected

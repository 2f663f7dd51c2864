"""Drawing a :class:`~tenure.dashboard.model.Page` as HTML: one generic template for every
page (a new page needs no template of its own), the same blocks in the service's pages and
in the report.

Every shown number carries its raw value (``data-value``, JSON) beside its text, so a test
(or a reader's script) can check the page against its JSON twin; every label with a
definition key shows its definition (docs/metrics.md) on hover; an unknown number is drawn
"unknown". Charts travel as JSON (:func:`chart_json`) to ``static/charts.js``, the one module
that turns them into the chart library's options, in the pages and the report alike.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tenure.dashboard.definitions import definition
from tenure.dashboard.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    Translator,
    change_direction,
)
from tenure.dashboard.model import Chart, Page, Table, Value

T = TypeVar("T")

#: The package's templates and static assets.
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
#: The chart library (Apache ECharts, vendored: static/echarts/).
CHART_LIBRARY = "echarts/echarts.min.js"


@dataclass(frozen=True)
class NavItem:
    """One entry of the page menu: its key, its (English) title and its URL."""

    key: str
    title: str
    url: str


@dataclass(frozen=True)
class Frame:
    """What surrounds a page in the service: the menu, the URL of each language, the window
    controls' URL, the CSRF token of the forms, the CSV link of a table."""

    nav: tuple[NavItem, ...] = ()
    current: str = ""
    action: str = ""
    languages: Mapping[str, str] = field(default_factory=dict)
    csrf: str = ""
    csv_url: str = ""  # ``{table}`` replaced by a table's key
    user: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The link targets the service has pages for (a table's link elsewhere is drawn as
    #: plain text, never a link to nothing); None: every link.
    links: tuple[str, ...] | None = None


@cache
def environment() -> Environment:
    """The templates' environment: autoescaping, strict about undefined names."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_attr"] = json_attr
    return env


def json_attr(value: Any) -> str:
    """``value`` as JSON for an HTML attribute (autoescaped by the template)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def chart_json(chart: Chart, tr: Translator) -> dict[str, Any]:
    """The chart as ``charts.js`` reads it: the model's fields, its labels translated, and
    the locale and currency its numbers are formatted with."""
    return {
        "key": chart.key,
        "title": tr.gettext(chart.title),
        "kind": chart.kind,
        "unit": chart.unit,
        "x": [tr.word(v) if isinstance(v, str) else v for v in _plain(chart.x)],
        "series": [
            {"name": tr.gettext(s.name), "values": list(_plain(s.values))} for s in chart.series
        ],
        "locale": tr.lang,
        "currency": tr.currency,
        "unknown": tr.gettext("unknown"),
    }


def _plain(values: Iterable[Value]) -> list[Value]:
    out: list[Value] = []
    for v in values:
        if isinstance(v, float) and v != v:
            out.append(None)
        elif hasattr(v, "isoformat"):
            out.append(v.isoformat())  # type: ignore[union-attr]
        else:
            out.append(v)
    return out


def helpers(tr: Translator, mode: str = "dash") -> dict[str, Any]:
    """The names every template uses: ``_`` (the reader's language), ``fmt`` (a number for
    the reader), ``change``, ``direction``, ``define`` (a definition key's text), ``raw``
    (a value as JSON for ``data-value``), ``chart_json``; ``mode``: ``dash`` (the service's
    pages: links, CSV) or ``report`` (the offline file: neither)."""
    return {
        "mode": mode,
        "_": tr.gettext,
        "fmt": tr.value,
        "change": tr.change,
        "direction": change_direction,
        "define": definition,
        "raw": lambda v: json_attr(_plain([v])[0]),
        "chart_json": lambda c: json_attr(chart_json(c, tr)),
        "day": tr.day,
        "moment": tr.moment,
        "lang": tr.lang,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
    }


def render_page(page: Page, tr: Translator, frame: Frame, *, template: str = "page.html") -> str:
    """The page as HTML in the reader's language, inside the service's frame (its sections
    drawn once per page object, :func:`render_sections`)."""
    sections = render_sections(page, tr, frame)
    return (
        environment()
        .get_template(template)
        .render(page=page, frame=frame, sections=sections, **helpers(tr))
    )


def render_sections(page: Page, tr: Translator, frame: Frame) -> Markup:
    """The sections of ``page`` as HTML: drawn once per page object, language, currency, CSV
    link and link targets, then reused while that page object lives (:func:`page_memo`; a
    page from the result cache is the same object until its tables change)."""
    key = ("sections", tr.lang, tr.currency, frame.csv_url, frame.links)

    def draw() -> Markup:
        template = environment().get_template("sections.html")
        return Markup(template.render(page=page, frame=frame, **helpers(tr)))

    drawn: Markup = page_memo(page, key, draw)
    return drawn


_MEMO: dict[tuple[int, Hashable], tuple[weakref.ref[Page], Any]] = {}
_MEMO_LOCK = threading.Lock()


def page_memo(page: Page, key: Hashable, make: Callable[[], T]) -> T:
    """``make()`` computed once per page object and ``key`` (what else it depends on), kept
    while the page object lives (a page cannot change: frozen all through)."""
    slot = (id(page), key)
    with _MEMO_LOCK:
        found = _MEMO.get(slot)
    if found is not None and found[0]() is page:
        value: T = found[1]
        return value
    value = make()

    def forget(_: weakref.ref[Page], slot: tuple[int, Hashable] = slot) -> None:
        with _MEMO_LOCK:
            _MEMO.pop(slot, None)

    with _MEMO_LOCK:
        _MEMO[slot] = (weakref.ref(page, forget), value)
    return value


def render_template(name: str, tr: Translator, **context: Any) -> str:
    """Another template of the dashboard (login, search) in the reader's language."""
    return environment().get_template(name).render(**helpers(tr), **context)


def render_report(pages: Iterable[Page], tr: Translator, *, title: str, generated: str) -> str:
    """Every page in one self-contained HTML document: the style sheet, the chart library,
    ``charts.js`` and the data inlined (no request leaves the file)."""
    assets = {
        "css": Markup(_asset("dashboard.css")),
        "library": Markup(_script(_asset(CHART_LIBRARY))),
        "charts": Markup(_script(_asset("charts.js"))),
    }
    return (
        environment()
        .get_template("report.html")
        .render(
            pages=list(pages),
            title=title,
            generated=generated,
            assets=assets,
            **helpers(tr, "report"),
        )
    )


def _asset(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def _script(text: str) -> str:
    """A script's text made safe inside ``<script>`` (no closing tag inside it)."""
    return text.replace("</script", "<\\/script")


def table_csv(table: Table) -> str:
    """A table as CSV: its column keys, then its raw values (unknown empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else _plain([v])[0] for v in row])
    return out.getvalue()


def find_table(page: Page, key: str) -> Table | None:
    """The table ``key`` of ``page`` (the first of that key), or None."""
    for section in page.sections:
        for table in section.tables:
            if table.key == key:
                return table
    return None


def definition_keys(page: Page) -> list[str]:
    """Every definition key the page shows (metrics and table columns)."""
    keys: list[str] = []
    for section in page.sections:
        keys += [m.definition for m in section.metrics if m.definition]
        for table in section.tables:
            keys += [c.definition for c in table.columns if c.definition]
    return keys


def messages(page: Page) -> list[str]:
    """Every label of ``page`` that is drawn translated (titles, labels, series names)."""
    out = [page.title]
    for section in page.sections:
        out.append(section.title)
        out += [m.label for m in section.metrics]
        for chart in section.charts:
            out += [chart.title, *(s.name for s in chart.series)]
        for table in section.tables:
            out += [table.title, *(c.label for c in table.columns)]
    return [m for m in out if m]

"""`tenure report`: every page of the dashboard for one period, in one self-contained HTML
file (the style sheet, the chart library and the data inlined: it opens offline).

The pages come from the same builders as the service's (:mod:`tenure.dashboard.pages`) and
are drawn by the same blocks (:mod:`tenure.dashboard.draw`), so the report and the
dashboard show the same numbers for the same window. This module is also where the service
asks for a page (:func:`build`, :func:`profile`, :func:`menu`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tenure.config import Settings
from tenure.dashboard.draw import render_report
from tenure.dashboard.i18n import Translator, check_language
from tenure.dashboard.kept import LIVE_TABLES, KeptPages, keep_pages, kept_page
from tenure.dashboard.model import N_, Page, Window
from tenure.dashboard.stored import Stored, reading_stored
from tenure.errors import ConfigError, NotFoundError
from tenure.store import Store, cached
from tenure.store.cache import peek_cached

#: The menu title of each page key (the pages' own titles need the store to be built).
TITLES: dict[str, str] = {
    "overview": N_("Overview"),
    "customers": N_("Customers"),
    "cohorts": N_("Cohorts"),
    "channels": N_("Channels"),
    "predictions": N_("Predictions"),
    "flows": N_("Flows"),
    "advisor": N_("Advisor"),
    "health": N_("Data health"),
}
#: The report's title.
REPORT_TITLE = N_("Lifecycle report")
#: The report's file name when none is given.
DEFAULT_REPORT = "tenure-report.html"


def page_keys() -> list[str]:
    """The pages of the menu, in order (:data:`tenure.dashboard.pages.PAGES`)."""
    from tenure.dashboard.pages import PAGES

    return list(PAGES)


def menu() -> list[tuple[str, str]]:
    """Each page's key and (English) menu title, in menu order."""
    return [(key, TITLES.get(key, key.replace("_", " ").capitalize())) for key in page_keys()]


#: Which derived tables a build may read as stored: asked only when a page is built.
StoredFor = Callable[[], Stored | None]


def build(
    key: str,
    store: Store,
    settings: Settings,
    window: Window,
    stored: StoredFor | None = None,
    *,
    stale_ok: bool = False,
) -> Page:
    """The page ``key`` for ``window`` (a ``NotFoundError`` for an unknown key), through the
    store's result cache (:func:`tenure.store.cached`): built again only when a table it
    read was written since (or after a day change: the window is part of the key), but the
    tables fed continuously (:data:`tenure.dashboard.kept.LIVE_TABLES`: their writes alone
    leave the page as built, its ``built_at`` and ``live`` saying so, until the pipeline
    keeps the pages anew). On a miss, the page the pipeline kept in the store when it
    still holds (:func:`tenure.dashboard.kept.kept_page`), else built, reading as stored
    the derived tables ``stored()`` names current
    (:func:`tenure.dashboard.stored.reading_stored`). ``stale_ok`` (a server whose worker
    runs the pipeline): a kept page that no longer holds is served, marked ``stale``,
    instead of built on request; the worker's next run keeps it anew."""
    from tenure.dashboard.pages import build_page

    def compute() -> Page:
        page = kept_page(store, settings, key, window, live_ok=True, stale_ok=stale_ok)
        if page is not None:
            return page
        built_at = datetime.now(UTC).replace(tzinfo=None)
        with store.versions.unrecorded(LIVE_TABLES) as live:
            current = stored() if stored is not None else None
            with reading_stored(current):
                page = build_page(key, store, settings, window)
        return replace(page, built_at=built_at, live=tuple(sorted(live)))

    return cached(store, f"dashboard.page.{key}", _page_params(window, stale_ok), compute)


def held(
    key: str, store: Store, window: Window | None = None, *, stale_ok: bool = False
) -> Page | None:
    """The page ``key`` of ``window`` (default: the default period) when the result cache
    holds it still fresh (:func:`build` put it there, with the same ``stale_ok``), else
    None; it reads nothing from the database, so the service answers it even while
    another thread holds the store."""
    if window is None:
        window = peek_cached(store, DEFAULT_WINDOW, {})
        if window is None:
            return None
    page: Page | None = peek_cached(store, f"dashboard.page.{key}", _page_params(window, stale_ok))
    return page


def _page_params(window: Window, stale_ok: bool) -> dict[str, str]:
    """A page's key in the result cache: its window, and whether a stale kept page does."""
    return {**_window_params(window), **({"stale_ok": "yes"} if stale_ok else {})}


def _window_params(window: Window) -> dict[str, str]:
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "compare_start": window.compare_start.isoformat(),
        "compare_end": window.compare_end.isoformat(),
    }


def warm(
    store: Store,
    settings: Settings,
    *,
    stop: Callable[[], bool] = lambda: False,
    stored: StoredFor | None = None,
    stale_ok: bool = False,
) -> int:
    """Build every page of the menu for the default period into the result cache (what
    ``tenure serve`` does at start, :attr:`Settings.dashboard_warm`; the kept pages that
    hold are read, not built); ``stop`` is asked before each page. Returns the pages done."""
    window = default_window(store)
    done = 0
    for key in page_keys():
        if stop():
            break
        build(key, store, settings, window, stored, stale_ok=stale_ok)
        done += 1
    return done


def keep(store: Store, settings: Settings, stored: Stored | None = None) -> KeptPages:
    """Build every page of the menu for the default period and keep it in the store (the
    pipeline's ``dashboard`` step, :func:`tenure.dashboard.kept.keep_pages`), reading as
    stored the derived tables ``stored`` names; the pages kept already and still true are
    left alone."""
    from tenure.dashboard.pages import build_page

    def make(key: str, window: Window) -> Page:
        with reading_stored(stored):
            return build_page(key, store, settings, window)

    return keep_pages(store, settings, make, page_keys(), default_window(store))


def profile(store: Store, settings: Settings, window: Window, identifier: str) -> Page:
    """The profile page of the person ``identifier`` names (a ``NotFoundError`` when none,
    or when they were deleted), through the store's result cache (per identifier and
    window: built again when a table it read is written, a deletion included)."""
    from tenure.dashboard.pages import profile as profile_page

    def compute() -> Page:
        page: Page = profile_page.build(store, settings, window, identifier)
        return page

    params = {**_window_params(window), "identifier": identifier}
    return cached(store, "dashboard.profile", params, compute)


#: The result cache's name of :func:`default_window`.
DEFAULT_WINDOW = "dashboard.default_window"


def default_window(store: Store) -> Window:
    """The period shown when none is asked for: the page builders' default
    (:func:`tenure.dashboard.pages.default_window`), through the result cache."""
    from tenure.dashboard.pages import default_window as pages_default

    window: Window = cached(store, DEFAULT_WINDOW, {}, lambda: pages_default(store))
    return window


def window_for(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    compare_start: date | None = None,
    compare_end: date | None = None,
) -> Window:
    """The period of ``start``..``end`` against ``compare_start``..``compare_end``, each end
    optional: no ``start`` nor ``end`` is :func:`default_window`; one of them alone spans 30
    days; a comparison not given is the same number of days just before. A
    :class:`ConfigError` names the bound that runs backwards."""
    if start is None and end is None:
        base = default_window(store)
        start, end = base.start, base.end
        if compare_start is None and compare_end is None:
            return base
    elif end is None and start is not None:
        end = start + timedelta(days=29)
    elif start is None and end is not None:
        start = end - timedelta(days=29)
    assert start is not None and end is not None
    if start > end:
        raise ConfigError(
            f"The period starts ({start}) after it ends ({end}).", hint="Swap --start and --end."
        )
    days = (end - start).days + 1
    if compare_end is None:
        compare_end = compare_start + timedelta(days=days - 1) if compare_start else None
        compare_end = compare_end or start - timedelta(days=1)
    if compare_start is None:
        compare_start = compare_end - timedelta(days=days - 1)
    if compare_start > compare_end:
        raise ConfigError(
            f"The comparison period starts ({compare_start}) after it ends ({compare_end}).",
            hint="Swap --compare-start and --compare-end.",
        )
    return Window(start, end, compare_start, compare_end)


#: The links of the pages' tables that open a page (a profile, an RFM cell's members, a
#: segment's page, a flow's page).
LINKED: tuple[str, ...] = (
    "/dash/profile/",
    "/dash/profile?",
    "/dash/customers/rfm/",
    "/dash/segments/",
    "/dash/flows/",
)


def detail(path: str, store: Store, settings: Settings, window: Window, item: str) -> Page:
    """A page a table's link opens (``customers/rfm`` and a cell ``r5fm4``: the members of
    that RFM cell; ``segments`` and a segment's name; ``flows`` and a flow's name); a
    ``NotFoundError`` for another path or item."""
    from tenure.dashboard.pages import customers, flow, segment

    details = {
        "customers/rfm": customers.rfm_members,
        "segments": segment.build,
        "flows": flow.build,
    }
    builder = details.get(path)
    if builder is None:
        raise NotFoundError(f"No dashboard page {path!r}.")
    params = {**_window_params(window), "item": item}
    return cached(
        store, f"dashboard.detail.{path}", params, lambda: builder(store, settings, window, item)
    )


def write_report(
    store: Store,
    settings: Settings,
    window: Window,
    path: Path | str,
    lang: str | None = None,
    stored: StoredFor | None = None,
) -> Path:
    """Write every page of the menu for ``window`` into one HTML file at ``path`` (its folder
    must exist) in ``lang`` (default: the ``dashboard_language`` setting); returns the path.
    The pages the pipeline kept are read when they hold (:func:`build`)."""
    lang = check_language(lang or settings.dashboard_language)
    out = Path(path)
    if not out.parent.is_dir():
        raise ConfigError(
            f"Cannot write the report to {out}: the folder {out.parent} does not exist.",
            hint="Create the folder first, or pass another --out.",
        )
    pages = [build(key, store, settings, window, stored) for key in page_keys()]
    currency = pages[0].currency if pages else "USD"
    tr = Translator(lang, currency)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    html = render_report(pages, tr, title=tr.gettext(REPORT_TITLE), generated=generated)
    out.write_text(html, encoding="utf-8")
    return out

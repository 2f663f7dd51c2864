"""The dashboard's pages kept in the store: built by the pipeline's ``dashboard`` step for the
default period, read back by any process (the server at start, ``tenure report``) while they
still hold.

A kept page is the page's JSON twin (:meth:`Page.to_json`) in table ``dashboard_pages``,
stamped with the tables its build read and the version each had
(:meth:`tenure.store.Store.data_versions`: counters every write bumps, kept in the store). It
holds while every one of those tables is at that version, and the settings the numbers
depend on (:data:`PAGE_SETTINGS`) are the same: then it is the page a build would give now.
Otherwise it is never served; the page is built again (and the next pipeline run keeps it
anew). A store that keeps no data versions (not DuckDB) keeps no page.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from tenure.advisor.sentence import Sentence
from tenure.config import Settings
from tenure.dashboard.model import Chart, Column, Metric, Page, Section, Series, Table, Window
from tenure.store import Store

LOG = logging.getLogger("tenure.dashboard.kept")

TABLE = "dashboard_pages"
#: The tables fed continuously between pipeline runs (the collector's events and its
#: import log). A page that read them is served as it was built until the next run: a
#: write to them alone does not make it stale where it is served (:func:`kept_page` with
#: ``live_ok``; :func:`tenure.dashboard.report.build`), and the page says when its
#: numbers were computed. The pipeline's ``dashboard`` step builds it anew.
LIVE_TABLES = ("events", "imports")
#: The pipeline's run records, written after the ``dashboard`` step keeps the pages: a kept
#: page that read them (health) is one run behind at once, so it is never served stale
#: (:func:`kept_page` with ``stale_ok``); it is quick to build.
RUN_RECORDS = "pipeline_runs"
#: The settings a page's numbers depend on: a page kept under others is not served.
PAGE_SETTINGS = (
    "reporting_currency",
    "timezone",
    "as_of",
    "earliest_date",
    "default_margin",
    "new_customer_days",
    "at_risk_factor",
    "status_segment_by",
    "lapsed_days",
    "vip_share",
    "refit_days",
    "refit_growth",
    "flows_dir",
    "segments_dir",
    # the Advisor page (tenure.advisor.maturity): the stage thresholds and the effort split
    "maturity_window_days",
    "maturity_consistent_days",
    "maturity_consistent_sales_per_day",
    "maturity_established_days",
    "maturity_established_sales_per_day",
    "maturity_well_established_days",
    "maturity_well_established_sales_per_day",
    "maturity_direct_share",
    "maturity_retention_shares",
    "maturity_alarm_after_days",
    "maturity_alarm_ratio",
    "message_costs",
)


def settings_key(settings: Settings) -> str:
    """The settings of :data:`PAGE_SETTINGS` as one text."""
    return json.dumps({k: getattr(settings, k) for k in PAGE_SETTINGS}, default=str)


def window_key(window: Window) -> str:
    """The window as one text (the ``params`` of a kept page)."""
    return json.dumps(
        [window.start, window.end, window.compare_start, window.compare_end], default=str
    )


def _tuple(items: Iterable[Any], make: Callable[[Any], Any]) -> tuple[Any, ...]:
    return tuple(make(item) for item in items)


def _table(doc: dict[str, Any], said: dict[str, Sentence]) -> Table:
    columns = _tuple(doc["columns"], lambda c: Column(**c))
    rows = _tuple(doc["rows"], lambda row: _tuple(row, lambda v: _said(v, said)))
    return Table(doc["key"], doc["title"], columns, rows, doc["link"])


def _said(value: Any, said: dict[str, Sentence]) -> Any:
    """``value``, or the translatable sentence it is the English text of."""
    return said.get(value, value) if isinstance(value, str) else value


def _chart(doc: dict[str, Any]) -> Chart:
    series = _tuple(doc["series"], lambda s: Series(s["name"], tuple(s["values"])))
    return Chart(doc["key"], doc["title"], doc["kind"], tuple(doc["x"]), series, doc["unit"])


def _section(doc: dict[str, Any]) -> Section:
    said = {s.text: s for s in map(Sentence.from_dict, doc.get("sentences", ()))}
    return Section(
        doc["key"],
        doc["title"],
        _tuple(doc["metrics"], lambda m: Metric(**m)),
        _tuple(doc["charts"], _chart),
        _tuple(doc["tables"], lambda t: _table(t, said)),
        _tuple(doc["notes"], lambda n: _said(n, said)),
    )


def page_from_json(doc: dict[str, Any]) -> Page:
    """The :class:`Page` whose JSON twin is ``doc`` (the inverse of :meth:`Page.to_json`)."""
    w = doc["window"]
    window = Window(
        *(date.fromisoformat(w[k]) for k in ("start", "end")),
        *(date.fromisoformat(w[k]) for k in ("compare_start", "compare_end")),
    )
    sections = _tuple(doc["sections"], _section)
    return Page(doc["key"], doc["title"], window, doc["currency"], sections)


def kept_page(
    store: Store,
    settings: Settings,
    key: str,
    window: Window,
    *,
    live_ok: bool = False,
    stale_ok: bool = False,
) -> Page | None:
    """The kept page ``key`` of ``window`` when it still holds, else None; with ``live_ok``,
    it holds when only :data:`LIVE_TABLES` were written since (its ``built_at`` and ``live``
    say so). With ``stale_ok`` (a server whose worker runs the pipeline), a page that no
    longer holds is returned too, marked ``stale`` (but one that read :data:`RUN_RECORDS`):
    the next run keeps it anew. A page served this way counts as having read this table
    and its tables (but the live ones with ``live_ok``; none when stale)
    (:meth:`DataVersions.read`), so a result cache around the call drops it when one of
    them is written, or when the pipeline keeps the page anew."""
    if not store.keeps_versions or not store.exists(TABLE):
        return None
    t = store.read(TABLE)
    mine = t.filter(
        (t.page == key) & (t.params == window_key(window)) & (t.settings == settings_key(settings))
    )
    rows = mine.select("body", "tables", "versions", "built_at").to_pyarrow().to_pylist()
    if not rows:
        return None
    tables, versions = json.loads(rows[-1]["tables"]), json.loads(rows[-1]["versions"])
    checked = [t for t in tables if not (live_ok and t in LIVE_TABLES)]
    holds = store.data_versions(checked) == {t: versions.get(t) for t in checked}
    if not holds and (not stale_ok or RUN_RECORDS in tables):
        return None
    if holds:
        store.versions.read(*checked)
    page = page_from_json(json.loads(rows[-1]["body"]))
    live = tuple(t for t in tables if t in LIVE_TABLES)
    return replace(page, built_at=rows[-1]["built_at"], live=live, stale=not holds)


@dataclass
class KeptPages:
    """What :func:`keep_pages` did: the pages ``built`` and kept (with their seconds), those
    ``current`` (kept already and still true), those ``not_kept`` (a table they read was
    written while they were built) and the ``window``."""

    window: Window
    built: dict[str, float] = field(default_factory=dict)
    current: list[str] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": window_key(self.window),
            "built": dict(self.built),
            "current": list(self.current),
            "not_kept": list(self.not_kept),
        }


def keep_pages(
    store: Store,
    settings: Settings,
    build: Callable[[str, Window], Page],
    keys: Iterable[str],
    window: Window,
) -> KeptPages:
    """Build the pages ``keys`` of ``window`` with ``build`` and keep each in the store,
    stamped with the tables it read; a page kept already and still true is left alone."""
    done = KeptPages(window)
    if not store.keeps_versions:
        return done
    for key in keys:
        if kept_page(store, settings, key, window) is not None:
            done.current.append(key)
            continue
        before = store.versions.snapshot()
        started = time.perf_counter()
        with store.versions.recording() as read:
            page = build(key, window)
        seconds = time.perf_counter() - started
        tables = sorted(read)
        if store.versions.current(tables) != {t: before.get(t, 0) for t in tables}:
            done.not_kept.append(key)  # written meanwhile: the page may mix two versions
            continue
        versions = store.data_versions(tables) or {}
        _write(store, key, window, settings, page, versions, seconds)
        done.built[key] = round(seconds, 3)
    return done


def _write(
    store: Store,
    key: str,
    window: Window,
    settings: Settings,
    page: Page,
    versions: dict[str, int],
    seconds: float,
) -> None:
    row = {
        "page": key,
        "params": window_key(window),
        "settings": settings_key(settings),
        "body": json.dumps(page.to_json(), ensure_ascii=False, separators=(",", ":")),
        "tables": json.dumps(sorted(versions)),
        "versions": json.dumps(versions, sort_keys=True),
        "built_at": datetime.now(UTC).replace(tzinfo=None),
        "seconds": float(seconds),
    }
    with store.transaction():
        store.delete_where(TABLE, lambda t: t.page == key)
        store.insert(TABLE, pa.Table.from_pylist([row]))

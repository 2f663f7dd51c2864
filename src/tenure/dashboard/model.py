"""What a dashboard page is: data, not markup.

Every page of the dashboard (and every section of ``tenure report``) is a :class:`Page` built
by one function of ``tenure.dashboard.pages`` from the store. The HTML page, its JSON twin
(``/dash/<page>.json``), the CSV download of each table and the report are all drawn from the
same :class:`Page`, so they cannot disagree. Labels are English message ids marked with
:func:`N_` and translated when drawn; numbers stay numbers until drawn (Babel formats them
for the reader's locale). An unknown number is ``None`` and is drawn "unknown", never 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from tenure.advisor.sentence import Sentence, sentences

#: How a number is drawn: money in the store's reporting currency, a count, a ratio (x:1),
#: a share (0.25 drawn 25 %), a number of days, a date, or text.
Unit = Literal["money", "count", "ratio", "share", "days", "date", "text", "number"]
#: The chart kinds the one chart library draws. A ``fan`` is a forecast: its first series
#: the median (a line), then (low, high) pairs of intervals, widest first, drawn as shaded
#: bands, and a last unpaired series (a target) drawn dashed.
ChartKind = Literal["line", "bar", "stacked_bar", "heatmap", "funnel", "histogram", "fan"]
#: A health colour (CLV:CAC against the 3:1 benchmark, a share at risk...).
Health = Literal["good", "warn", "alarm"]
Value = float | int | str | None


def N_(message: str) -> str:
    """Mark ``message`` for translation (extracted by Babel, translated when drawn)."""
    return message


@dataclass(frozen=True)
class Window:
    """The period a page shows and the period it is compared with (both ends inclusive)."""

    start: date
    end: date
    compare_start: date
    compare_end: date

    @classmethod
    def trailing(cls, end: date, days: int = 30) -> Window:
        """The ``days`` days ending on ``end``, against the ``days`` days before them."""
        start = end - timedelta(days=days - 1)
        return cls(start, end, start - timedelta(days=days), start - timedelta(days=1))

    @classmethod
    def month(cls, day: date) -> Window:
        """The calendar month holding ``day`` (cut at ``day``), against the whole month
        before: the period ``tenure kpis`` reports last."""
        start = day.replace(day=1)
        before = start - timedelta(days=1)
        return cls(start, day, before.replace(day=1), before)


@dataclass(frozen=True)
class Metric:
    """One number shown on a card, with the number it is compared with.

    ``definition`` is the anchor of its definition in docs/metrics.md (shown on hover).
    ``versus`` names what ``previous`` is: "" the previous period (the default), another
    message id another figure ("vs recommended"), None no comparison at all (none drawn).
    """

    key: str
    label: str
    value: Value
    unit: Unit
    previous: Value = None
    definition: str = ""
    health: Health | None = None
    versus: str | None = ""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: Unit
    definition: str = ""


@dataclass(frozen=True)
class Table:
    """A table shown on a page and downloadable as CSV; ``rows`` hold raw values."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]
    #: A link for each row's first cell, ``{0}`` replaced by that cell (members, a profile...).
    link: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Chart:
    """A chart, drawn by the one chart library in the pages and in the report alike.

    ``x`` are the categories or dates; each series has one value per ``x``. A heatmap's rows
    are its series (``series[i].name`` labels row ``i``).
    """

    key: str
    title: str
    kind: ChartKind
    x: tuple[Value, ...]
    series: tuple[Series, ...]
    unit: Unit


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    metrics: tuple[Metric, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    #: Plain-language notes: what is missing, why a number is unknown.
    notes: tuple[str, ...] = ()

    def sentences(self) -> list[Sentence]:
        """The translatable sentences among its notes and its tables' text cells (drawn in
        the reader's language; the JSON twin keeps their English text and, beside it, each
        one's message id and parameters)."""
        cells = [v for t in self.tables for row in t.rows for v in row]
        return list(dict.fromkeys(sentences([*self.notes, *cells])))


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    window: Window
    currency: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
    #: When the numbers were computed (UTC), for a page the service or the report serves
    #: (:func:`tenure.dashboard.report.build`); None for a page built directly.
    built_at: datetime | None = field(default=None, compare=False)
    #: The tables fed continuously it read (:data:`tenure.dashboard.kept.LIVE_TABLES`):
    #: counted as they were at ``built_at``, until the next pipeline run.
    live: tuple[str, ...] = field(default=(), compare=False)
    #: Data arrived since ``built_at`` that the page does not count yet: served while the
    #: worker's next pipeline run keeps it anew (:func:`tenure.dashboard.kept.kept_page`).
    stale: bool = field(default=False, compare=False)

    def __deepcopy__(self, memo: dict[int, Any]) -> Page:
        """The page itself: it cannot change (frozen, tuples of frozen parts and plain
        values), so the result cache hands it out without copying it."""
        return self

    def to_json(self) -> dict[str, Any]:
        """The page's JSON twin: exactly the numbers the page shows. A section with
        translatable sentences also lists them (``sentences``: each one's English ``text``,
        ``message`` id, ``params`` and ``units``)."""
        doc: dict[str, Any] = _jsonable(asdict(self))
        for section, out in zip(self.sections, doc["sections"], strict=True):
            found = section.sentences()
            if found:
                out["sentences"] = [s.to_dict() for s in found]
        return doc


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN is unknown
        return None
    return value

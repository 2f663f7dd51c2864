"""The dashboard's languages: which one a reader gets, its messages, its numbers.

English, French and Spanish (:data:`LANGUAGES`). Message ids are the English labels marked
with ``N_()`` in code and ``_()`` in the templates, extracted by Babel (``babel.cfg``) into
``locale/messages.pot``; the translations are gettext catalogues
``locale/{fr,es}/LC_MESSAGES/tenure.po`` shipped in the package and read with Babel when
first needed (no compiled ``.mo`` to keep in step). Numbers, money, shares and dates are
formatted by Babel for the reader's locale; an unknown number (``None``) is drawn
"unknown", never 0.
"""

from __future__ import annotations

import math
from copy import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from babel.core import Locale, negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from tenure.advisor.sentence import JOIN, Sentence
from tenure.dashboard.model import N_, Unit, Value
from tenure.errors import ConfigError

#: The languages the dashboard speaks, English first (the message ids).
LANGUAGES: tuple[str, ...] = ("en", "fr", "es")
#: Each language's name, in that language (the language switch).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español"}
#: Words the formatting adds (marked here so Babel extracts them).
UNKNOWN, DAYS, POINTS = N_("unknown"), N_("days"), N_("pts")
#: Where the catalogues live.
LOCALE_DIR = Path(__file__).parent / "locale"
#: The gettext domain of the catalogues.
DOMAIN = "tenure"


def check_language(lang: str) -> str:
    """``lang`` when it is one of :data:`LANGUAGES`, else a :class:`ConfigError`."""
    if lang not in LANGUAGES:
        raise ConfigError(
            f"The language {lang!r} is not one the dashboard speaks.",
            hint=f"Choose one of {', '.join(LANGUAGES)}.",
        )
    return lang


def choose_language(query: str | None, accept_language: str | None, default: str) -> str:
    """The language of a request: ``?lang=``, then the browser's ``Accept-Language``, then
    the ``dashboard_language`` setting (``default``)."""
    if query in LANGUAGES:
        return query
    wanted = _accepted(accept_language or "")
    found = negotiate_locale(wanted, list(LANGUAGES), sep="-") if wanted else None
    if found:
        return found.split("-")[0]
    return default if default in LANGUAGES else LANGUAGES[0]


def _accepted(header: str) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first; each also as its
    bare language (``fr-CA`` then ``fr``)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.lower()))
    out: list[str] = []
    for _, _, tag in sorted(weighted):
        out += [tag, tag.split("-")[0]]
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The translations of ``lang`` (message id -> text; empty for English, whose texts are
    the ids)."""
    if lang == LANGUAGES[0]:
        return {}
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=lang, domain=DOMAIN)
    return {
        str(m.id): str(m.string)
        for m in po
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }


@dataclass(frozen=True)
class Translator:
    """One reader's language: its messages (:meth:`gettext`) and its numbers (:meth:`value`)."""

    lang: str
    currency: str = "USD"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def gettext(self, message: str) -> str:
        """``message`` in this language (itself when it has no translation); a
        :class:`~tenure.advisor.sentence.Sentence` drawn by :meth:`sentence`."""
        if isinstance(message, Sentence):
            return self.sentence(message)
        return catalogue(self.lang).get(message, message)

    def sentence(self, said: Sentence) -> str:
        """An advisor sentence in this language: its message id translated, each parameter
        drawn for the locale by its unit (:meth:`value`; a sentence in it drawn the same way,
        sentences joined with "; ")."""
        template = catalogue(self.lang).get(said.message, said.message)
        if not said.params:
            return template
        drawn = {k: self._param(v, said.unit(k)) for k, v in said.params.items()}
        return template % drawn

    def _param(self, value: object, unit: str) -> str:
        if isinstance(value, Sentence):
            return self.sentence(value)
        if isinstance(value, tuple):
            return JOIN.join(self._param(v, unit) for v in value)
        return self.value(value, unit)  # type: ignore[arg-type]

    def word(self, value: str) -> str:
        """A text value of the data, translated when the catalogue has it (a status, a stage,
        a segment of :data:`~tenure.dashboard.vocabulary.VALUES`, a label), else as stored."""
        return self.gettext(value)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)

    def value(self, value: Value, unit: Unit) -> str:
        """``value`` drawn for a reader: money in the page's currency, a share as a percent, a
        ratio as ``x:1``, a date in the locale's medium form; ``None`` is "unknown"."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.gettext(UNKNOWN)
        if unit == "text" or (isinstance(value, str) and unit != "date"):
            return self.gettext(value if isinstance(value, str) else str(value))
        if unit == "date":
            return format_date(_day(value), format="medium", locale=self.lang)
        number = float(value)
        if unit == "money":
            return format_currency(number, self.currency, locale=self.lang)
        if unit == "count":
            return format_decimal(round(number), format="#,##0", locale=self.lang)
        if unit == "share":
            return self._percent(number)
        if unit == "ratio":
            return format_decimal(number, format="#,##0.0", locale=self.lang) + ":1"
        if unit == "days":
            days = format_decimal(number, format="#,##0.#", locale=self.lang)
            return f"{days} {self.gettext(DAYS)}"
        return format_decimal(number, format="#,##0.##", locale=self.lang)

    def change(self, value: Value, previous: Value, unit: Unit) -> str:
        """How ``value`` moved from ``previous``: percentage points for a share, a relative
        change otherwise; "unknown" when either is unknown or the previous is 0."""
        if not _is_number(value) or not _is_number(previous):
            return self.gettext(UNKNOWN)
        now, before = float(value), float(previous)  # type: ignore[arg-type]
        if unit == "share":
            points = format_decimal(
                (now - before) * 100, format="+#,##0.0;-#,##0.0", locale=self.lang
            )
            return f"{points} {self.gettext(POINTS)}"
        if before == 0:
            return self.gettext(UNKNOWN)
        return self._percent((now - before) / abs(before), signed=True)

    def _percent(self, number: float, *, signed: bool = False) -> str:
        """A percent with one decimal, in the locale's own pattern (``25,3 %`` in French)."""
        pattern = copy(self.locale.percent_formats[None])
        pattern.frac_prec = (1, 1)
        text: str = pattern.apply(number, self.locale)
        return f"+{text}" if signed and number > 0 else text

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.lang)

    def moment(self, value: datetime) -> str:
        """A time in UTC (naive times are UTC), in the locale's short form, marked UTC."""
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        text: str = format_datetime(aware, format="short", tzinfo=UTC, locale=self.lang)
        return f"{text} UTC"


def change_direction(value: Value, previous: Value) -> str:
    """``up``, ``down``, ``flat`` or ``unknown``: the way a number moved (drawn with an arrow
    and a word, never by colour alone)."""
    if not _is_number(value) or not _is_number(previous):
        return "unknown"
    now, before = float(value), float(previous)  # type: ignore[arg-type]
    return "up" if now > before else "down" if now < before else "flat"


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def _day(value: Value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])

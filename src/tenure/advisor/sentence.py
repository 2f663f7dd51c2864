"""The advisor's sentences, translatable: each is its English text (a ``str``, so the CLI,
``to_dict()`` and the JSON print it as before) that remembers its message id and parameters,
so the dashboard draws it in the reader's language with numbers for the reader's locale.

A message id is an English sentence with named placeholders, marked :func:`N_` so Babel
extracts it into the dashboard's catalogues (``babel.cfg`` scans ``src/tenure/advisor``):
``Sentence(N_("%(count)s orders"), {"count": 12}, {"count": "count"})``. A parameter's unit
says how it is drawn (``tenure.dashboard.i18n.Translator.value``: money, count, share,
number, ratio, date, text) and how the English text writes it (:func:`english`, or a format
spec of ``formats``); a parameter may itself be a sentence, or a tuple of sentences (joined
with ``"; "``). An unknown number (None) is "unknown", never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

#: How a list of sentences inside a sentence is joined.
JOIN = "; "


def N_(message: str) -> str:
    """Mark ``message`` for translation (extracted by Babel, translated when drawn)."""
    return message


def english(value: Any, unit: str, spec: str | None = None, currency: str | None = None) -> str:
    """``value`` written in an English sentence: money ``1,234.50`` (then the currency when
    given), a count ``1,234``, a share ``25%``, a ratio ``3.4:1``, a date ``2025-12-30``, a
    number ``2.5``; ``spec`` (a format spec) overrides; None is "unknown"."""
    if isinstance(value, tuple):
        return JOIN.join(str(v) for v in value)
    if value is None:
        return "unknown"
    if spec is not None:
        return format(value, spec)
    if unit == "money":
        return f"{value:,.2f}" + (f" {currency}" if currency else "")
    if unit == "count":
        return f"{round(value):,}"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value:.1f}:1"
    if unit == "number":
        return f"{value:g}"
    return str(value)


class Sentence(str):
    """An English sentence (the string itself) with its message id and parameters.

    ``units`` gives each parameter's unit (default ``text``); ``formats`` a format spec for
    the English text where the unit's default is not the one wanted; ``currency`` follows
    the English money (``1,234.50 EUR``) when given (the dashboard draws money in the
    page's currency).
    """

    message: str
    params: Mapping[str, Any]
    units: Mapping[str, str]
    currency: str | None

    def __new__(
        cls,
        message: str,
        params: Mapping[str, Any] | None = None,
        units: Mapping[str, str] | None = None,
        *,
        formats: Mapping[str, str] | None = None,
        currency: str | None = None,
    ) -> Sentence:
        params, units, formats = dict(params or {}), dict(units or {}), dict(formats or {})
        written = {
            k: english(v, units.get(k, "text"), formats.get(k), currency) for k, v in params.items()
        }
        self = super().__new__(cls, message % written if params else message)
        self.message, self.params, self.units, self.currency = message, params, units, currency
        return self

    @property
    def text(self) -> str:
        """The English sentence, a plain ``str``."""
        return str.__str__(self)

    def unit(self, name: str) -> str:
        """How the parameter ``name`` is drawn (``text`` unless said)."""
        return self.units.get(name, "text")

    def __deepcopy__(self, memo: dict[int, Any]) -> Sentence:
        return self  # it cannot change

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.text, self.message, self.params, self.units, self.currency))

    def to_dict(self) -> dict[str, Any]:
        """The sentence as JSON: its English text, message id, parameters and their units."""
        return {
            "text": self.text,
            "message": self.message,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "units": dict(self.units),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Sentence:
        """The sentence of :meth:`to_dict` (its English text kept as written)."""
        params = {k: _from_json(v) for k, v in doc.get("params", {}).items()}
        return _rebuild(doc["text"], doc["message"], params, doc.get("units", {}), None)


def _rebuild(
    text: str,
    message: str,
    params: Mapping[str, Any],
    units: Mapping[str, str],
    currency: str | None,
) -> Sentence:
    self = str.__new__(Sentence, text)
    self.message, self.params, self.units, self.currency = (
        message,
        dict(params),
        dict(units),
        currency,
    )
    return self


def _jsonable(value: Any) -> Any:
    if isinstance(value, Sentence):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "message" in value:
        return Sentence.from_dict(value)
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


def sentences(items: Any) -> list[Sentence]:
    """The sentences among ``items`` (an iterable of any values)."""
    return [item for item in items if isinstance(item, Sentence)]


__all__ = ["JOIN", "N_", "Sentence", "english", "sentences"]

"""The dashboard's languages (issue 19, item 3): every message id of the code and the
templates has a translation in French and Spanish; Babel formats numbers, money, shares and
dates per locale; the language of a request."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from tenure.dashboard.i18n import LANGUAGES, Translator, catalogue, choose_language
from tenure.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def message_ids() -> set[str]:
    """Every message id Babel extracts with the project's babel.cfg (N_() and _() in the
    dashboard's code, the service's dashboard routes and the templates)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_extraction_finds_the_templates_and_the_page_builders() -> None:
    ids = message_ids()
    assert {"Log in", "vs previous period", "unknown", "Overview", "Revenue"} <= ids
    assert len(ids) > 100


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_every_message_has_a_translation(lang: str) -> None:
    translated = catalogue(lang)
    missing = sorted(m for m in message_ids() if not translated.get(m, "").strip())
    assert not missing, f"{len(missing)} messages without a {lang} translation: {missing[:10]}"


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_translations_keep_their_placeholders(lang: str) -> None:
    import re

    for message, text in catalogue(lang).items():
        wanted = sorted(re.findall(r"%\(\w+\)s|`[^`]+`", message))
        assert sorted(re.findall(r"%\(\w+\)s|`[^`]+`", text)) == wanted, message


@pytest.mark.parametrize(
    ("lang", "money", "share", "count", "ratio", "day"),
    [
        ("en", "€1,234.50", "25.3%", "12,346", "3.4:1", "Dec 30, 2025"),
        ("fr", "1\u202f234,50\u00a0€", "25,3\u00a0%", "12\u202f346", "3,4:1", "30 déc. 2025"),
        ("es", "1.234,50\u00a0€", "25,3\u00a0%", "12.346", "3,4:1", "30 dic 2025"),
    ],
)
def test_numbers_are_drawn_for_the_locale(
    lang: str, money: str, share: str, count: str, ratio: str, day: str
) -> None:
    tr = Translator(lang, "EUR")
    assert tr.value(1234.5, "money") == money
    assert tr.value(0.2534, "share") == share
    assert tr.value(12345.6, "count") == count
    assert tr.value(3.4, "ratio") == ratio
    assert tr.value("2025-12-30", "date") == day
    assert tr.value(date(2025, 12, 30), "date") == day


def test_unknown_is_never_zero() -> None:
    for lang, word in (("en", "unknown"), ("fr", "inconnu"), ("es", "desconocido")):
        tr = Translator(lang, "USD")
        for unit in ("money", "count", "share", "ratio", "days", "number", "date", "text"):
            assert tr.value(None, unit) == word
        assert tr.value(float("nan"), "money") == word
        assert tr.change(10, None, "count") == word
        assert tr.change(10, 0, "count") == word


def test_changes_are_relative_or_in_points_for_shares() -> None:
    tr = Translator("en", "USD")
    assert tr.change(110, 100, "money") == "+10.0%"
    assert tr.change(90, 100, "count") == "-10.0%"
    assert tr.change(0.25, 0.2, "share") == "+5.0 pts"


def test_the_language_of_a_request() -> None:
    assert choose_language("es", "fr", "en") == "es"
    assert choose_language(None, "fr-CA,fr;q=0.9,en;q=0.8", "en") == "fr"
    assert choose_language(None, "de-DE,es;q=0.5,fr;q=0.4", "en") == "es"
    assert choose_language(None, "de", "fr") == "fr"
    assert choose_language("xx", None, "es") == "es"
    assert choose_language(None, "fr;q=0", "en") == "en"
    assert LANGUAGES == ("en", "fr", "es")


def test_an_unknown_language_is_a_config_error(tmp_path: Path) -> None:
    from tenure.dashboard.i18n import check_language

    with pytest.raises(ConfigError, match="Choose one of en, fr, es"):
        check_language("de")

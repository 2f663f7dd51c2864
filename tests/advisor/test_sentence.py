"""The advisor's translatable sentences: English text as the CLI prints it, the message id
and parameters beside it, drawn per locale by the dashboard's Translator."""

from __future__ import annotations

import copy
import pickle
from datetime import date

from tenure.advisor.sentence import Sentence
from tenure.dashboard.i18n import Translator

SAID = Sentence(
    "%(share)s of %(spend)s on %(day)s (%(parts)s), %(n)s orders, %(pace)s a day",
    {
        "share": 0.253,
        "spend": 1234.5,
        "day": date(2025, 12, 30),
        "parts": (Sentence("a first sale"), Sentence("%(x)s x", {"x": None})),
        "n": 12345,
        "pace": 2.25,
    },
    {"share": "share", "spend": "money", "day": "date", "n": "count", "pace": "number"},
    formats={"pace": ".1f"},
    currency="EUR",
)


def test_the_english_text_is_written_as_before() -> None:
    assert SAID == (
        "25% of 1,234.50 EUR on 2025-12-30 (a first sale; unknown x), 12,345 orders, 2.2 a day"
    )
    assert SAID.text == str(SAID) and type(SAID.text) is str
    assert Sentence("100% sure") == "100% sure"  # no parameter: the message as it is


def test_a_sentence_survives_copies_pickles_and_json() -> None:
    for back in (copy.deepcopy(SAID), pickle.loads(pickle.dumps(SAID))):
        assert back == SAID and isinstance(back, Sentence) and back.params == SAID.params
    again = Sentence.from_dict(SAID.to_dict())
    assert again == SAID and again.to_dict() == SAID.to_dict()
    assert Translator("fr", "EUR").sentence(again) == Translator("fr", "EUR").sentence(SAID)


def test_it_is_drawn_for_the_locale() -> None:
    fr = Translator("fr", "EUR").sentence(SAID)
    assert fr.startswith(
        "25,3\u00a0% of 1\u202f234,50\u00a0€ on 30 déc. 2025 (une première vente; "
    )
    assert "inconnu x" in fr and "12\u202f345 orders" in fr and "2,25 a day" in fr

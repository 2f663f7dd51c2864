"""docs/segments.md states what the parser accepts: every key, kind, operator and field, and
the shipped segments, each once (the reference cannot drift from the code)."""

from __future__ import annotations

import re
from pathlib import Path

from tenure.engage.fields import FIELDS
from tenure.engage.segments import read_definitions
from tenure.engage.spec import (
    COMBINATORS,
    CONDITION_KEYS,
    COUNT_OPERATORS,
    OPERATORS,
    SEGMENT_KEYS,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "segments.md").read_text()


def _section(title: str) -> str:
    found = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", DOC, flags=re.S | re.M)
    assert found, f"docs/segments.md has no section {title!r}"
    return found.group(1)


def _rows(title: str) -> list[list[str]]:
    """The cells of the table of a section, header and rule left out."""
    lines = [line for line in _section(title).splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[1:]]


def _names(title: str) -> list[str]:
    return [re.fullmatch(r"`([^`]+)`", row[0]).group(1) for row in _rows(title)]  # type: ignore[union-attr]


def test_the_reference_lists_every_key_kind_and_operator_once() -> None:
    assert _names("Keys of a definition") == list(SEGMENT_KEYS)
    assert sorted(_names("Conditions")) == sorted([*CONDITION_KEYS, *COMBINATORS])
    assert _names("Operators") == list(OPERATORS)
    assert _names("Events") == list(CONDITION_KEYS["event"])
    count_row = next(r for r in _rows("Events") if r[0] == "`count`")
    assert re.findall(r"`(\w+)`", count_row[1]) == list(COUNT_OPERATORS)


def test_the_reference_lists_every_field_with_its_type() -> None:
    rows = _rows("Fields")
    documented = {re.fullmatch(r"`(\w+)`", r[0]).group(1): r[1] for r in rows}  # type: ignore[union-attr]
    assert len(rows) == len(documented)
    assert documented == {name: f.type for name, f in FIELDS.items()}


def test_the_reference_lists_the_shipped_segments() -> None:
    assert sorted(_names("Shipped segments")) == sorted(read_definitions(None))

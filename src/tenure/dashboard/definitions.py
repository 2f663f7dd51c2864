"""Every number's definition, from docs/metrics.md, shown on hover.

docs/metrics.md is not part of the installed package, so its definitions are extracted
into ``definitions.json`` beside this module (``python -m tenure.dashboard.definitions
docs/metrics.md``); tests/dashboard/test_draw.py checks the shipped file against the
document, so the two cannot drift.

Keys, as a :class:`~tenure.dashboard.model.Metric` or column names its ``definition``:

* a heading's anchor (``kpis-per-period``): the first paragraph under it;
* ``anchor#column`` (``kpis-per-period#aov``): a row of a definition table under it;
* a bare column (``aov``): its first definition in the document;
* an explicit anchor (``- <a id="dash-revenue"></a>**Revenue**: ...``, the list of
  "Dashboard definitions"): that line.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path

#: The shipped extract of docs/metrics.md.
DEFINITIONS_FILE = Path(__file__).parent / "definitions.json"

_HEADING = re.compile(r"^(#{2,4})\s+(.*)$")
_ROW = re.compile(r"^\|\s*(`[^|]+?)\s*\|\s*(.+?)\s*\|\s*$")
_ANCHORED = re.compile(r'^\s*[-*]\s*<a id="([\w-]+)"></a>\s*(.+)$')


def anchor(heading: str) -> str:
    """The anchor a Markdown renderer gives ``heading`` (lower case, punctuation dropped,
    spaces to dashes)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def plain(markdown: str) -> str:
    """Markdown inline text as plain text (no backticks, emphasis or link targets)."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    text = text.replace("`", "").replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


def extract(markdown: str) -> dict[str, str]:
    """The definitions of docs/metrics.md's text, by key (see the module's docstring)."""
    found: dict[str, str] = {}
    section = ""
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if section and paragraph and section not in found:
            found[section] = plain(" ".join(paragraph))
        paragraph.clear()

    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close_paragraph()
            section = anchor(heading.group(2))
            continue
        anchored = _ANCHORED.match(line)
        if anchored:
            close_paragraph()
            found.setdefault(anchored.group(1), plain(anchored.group(2)))
            continue
        row = _ROW.match(line)
        if row and section:
            close_paragraph()
            text = plain(row.group(2))
            for column in re.findall(r"`([\w-]+)`", row.group(1)):
                found.setdefault(f"{section}#{column}", text)
                found.setdefault(column, text)
            continue
        if line.strip() and not line.startswith("|") and not line.startswith("```"):
            paragraph.append(line.strip())
        else:
            close_paragraph()
    close_paragraph()
    return found


@cache
def definitions() -> dict[str, str]:
    """The shipped definitions (``definitions.json``)."""
    loaded: dict[str, str] = json.loads(DEFINITIONS_FILE.read_text(encoding="utf-8"))
    return loaded


def definition(key: str) -> str | None:
    """The definition ``key`` names (``#`` and a leading ``metrics.md#`` allowed), or None."""
    if not key:
        return None
    table = definitions()
    key = key.removeprefix("docs/").removeprefix("metrics.md").lstrip("#")
    return table.get(key)


def main(argv: list[str]) -> None:
    """Write ``definitions.json`` from the docs/metrics.md named by ``argv[0]``."""
    text = Path(argv[0]).read_text(encoding="utf-8")
    out = json.dumps(extract(text), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    DEFINITIONS_FILE.write_text(out, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Tracking an e-mail's links (docs/delivery.md, "Tracked links"): once its template is
rendered, every ``http(s)`` link of the message is replaced by its ``GET /c/<token>``
redirect (:func:`tenure.deliver.clicks.click_url`), so a click reaches ``link_clicks`` and
the flow's measurement.

* HTML part: the ``href`` of each ``<a>`` and ``<area>`` tag, found with the standard
  library's :class:`html.parser.HTMLParser` (never a regex over the whole document); only
  that attribute's value is rewritten, the rest of the document is kept byte for byte. The
  target is the value as a browser reads it (``&amp;`` is ``&``), and the new value is
  escaped again.
* Text part: each ``http://`` or ``https://`` URL of the text, ending before white space,
  quotes or angle brackets, without the sentence's closing punctuation.

Never tracked: a link to the service itself (under ``public_url``: the unsubscribe link, an
already tracked link), ``mailto:`` and any other scheme, a relative link.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urlsplit

from tenure.config import Settings
from tenure.deliver.clicks import SCHEMES, click_url

#: What replaces a link: the tracked URL, or None to keep it as it is.
Track = Callable[[str], str | None]
#: The tags whose ``href`` a reader follows.
LINK_TAGS = frozenset({"a", "area"})
#: One attribute of a start tag (name, then an optional value: quoted or bare), as
#: :mod:`html.parser` reads them.
ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s/>"'=][^\s/>=]*)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>]*))?"""
)
#: A line's end, as :meth:`html.parser.HTMLParser.getpos` counts lines.
NEWLINE = re.compile("\n")
#: A URL in plain text.
TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
#: Punctuation that ends a sentence rather than a URL.
TRAILING = ".,;:!?"


def tracker(settings: Settings, message_key: str) -> Track:
    """What tracks the links of message ``message_key``: an absolute http(s) URL that does not
    lead to the service (``public_url``) becomes its click URL; any other is kept."""
    service = (settings.public_url or "").rstrip("/") + "/"

    def track(url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES or not parts.netloc:
            return None
        if url.lower().startswith(service.lower()):
            return None
        return click_url(settings, message_key, url)

    return track


class _Hrefs(HTMLParser):
    """Collects where each link tag's start tag sits in the source and its raw text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[tuple[int, int], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text()
        if tag in LINK_TAGS and raw and any(name == "href" for name, _ in attrs):
            self.tags.append((self.getpos(), raw))


def _offsets(text: str) -> list[int]:
    """The offset of the start of each line (``getpos`` counts lines from 1)."""
    return [0, *(m.end() for m in NEWLINE.finditer(text))]


def wrap_tag(raw: str, track: Track) -> str:
    """The start tag ``raw`` with its ``href`` value tracked (the tag as it is when the link
    is not tracked)."""
    name_end = re.match(r"<[^\s/>]+", raw)
    start = name_end.end() if name_end else 1
    for m in ATTRIBUTE.finditer(raw, start):
        if m.group("name").lower() != "href" or m.group("value") is None:
            continue
        value = m.group("value")
        quoted = value[:1] in ("'", '"')
        target = html.unescape(value[1:-1] if quoted else value).strip()
        tracked = track(target)
        if tracked is None:
            return raw
        new = '"' + html.escape(tracked, quote=True) + '"'
        return raw[: m.start("value")] + new + raw[m.end("value") :]
    return raw


def wrap_html(document: str, track: Track) -> str:
    """``document`` with the ``href`` of every ``<a>`` and ``<area>`` tag tracked."""
    if not document:
        return document
    parser = _Hrefs()
    parser.feed(document)
    parser.close()
    lines = _offsets(document)
    out, done = [], 0
    for (line, column), raw in parser.tags:
        at = lines[line - 1] + column
        if document[at : at + len(raw)] != raw:  # not where the parser says: leave it
            continue
        out += [document[done:at], wrap_tag(raw, track)]
        done = at + len(raw)
    out.append(document[done:])
    return "".join(out)


def _split_trailing(url: str) -> tuple[str, str]:
    """``url`` without the punctuation after it (a ``)`` only when unbalanced), and that."""
    end = len(url)
    while end:
        char = url[end - 1]
        if char in TRAILING or (char == ")" and url.count("(", 0, end) < url.count(")", 0, end)):
            end -= 1
            continue
        break
    return url[:end], url[end:]


def wrap_text(text: str, track: Track) -> str:
    """``text`` with every http(s) URL in it tracked."""

    def one(m: re.Match[str]) -> str:
        url, rest = _split_trailing(m.group(0))
        tracked = track(url) if url else None
        return (tracked or url) + rest

    return TEXT_URL.sub(one, text)


def wrap_links(settings: Settings, message_key: str, text: str, document: str) -> tuple[str, str]:
    """The text and HTML parts of message ``message_key`` with their links tracked."""
    track = tracker(settings, message_key)
    return wrap_text(text, track), wrap_html(document, track)

"""Message templates (docs/delivery.md, "Templates"): Jinja2 in a sandbox.

A template ``NAME`` is two files, ``NAME.txt`` (the plain-text part, required) and
``NAME.html`` (the HTML part, optional), read from ``templates_dir`` first, then from the
templates shipped in ``tenure/deliver/templates/``. The environment is Jinja2's
:class:`~jinja2.sandbox.SandboxedEnvironment` (no attribute starting with ``_``, no
unsafe calls), HTML files are autoescaped, and an undefined name is an error
(``StrictUndefined``), never an empty string. Subjects are rendered as templates too (not
escaped) and refused when they hold CR or LF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from tenure.errors import DeliveryError

#: The templates shipped with Tenure (one ``.txt`` and one ``.html`` per template name the
#: shipped flows use).
SHIPPED_DIR = Path(__file__).parent / "templates"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_header(name: str, value: str) -> str:
    """``value`` if it may go in header ``name``; a DeliveryError when it holds CR or LF
    (header injection) or another control character."""
    if any(c in value for c in "\r\n") or any(ord(c) < 32 and c != "\t" for c in value):
        raise DeliveryError(
            f"The {name} {value!r} holds a line break or a control character: refused "
            "(a header value is one line).",
            hint=f"Remove the line break from the {name} (the flow's subject, the template, "
            "or the trait it names).",
        )
    return value


class Templates:
    """The sandboxed Jinja2 environment over ``directory`` (the user's, optional) and the
    shipped templates. Thread-safe: rendering shares only the compiled templates."""

    def __init__(self, directory: Path | None = None) -> None:
        dirs = [d for d in (directory,) if d is not None and Path(d).is_dir()]
        self.dirs = [*dirs, SHIPPED_DIR]
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(str(d)) for d in self.dirs]),
            autoescape=select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        #: subjects compiled once (a flow has a handful)
        self.compiled: dict[str, Template] = {}

    def names(self) -> list[str]:
        """Every template name found (those with a ``.txt`` part)."""
        found = {p.stem for d in self.dirs for p in Path(d).glob("*.txt")}
        return sorted(n for n in found if not n.startswith("_"))

    def render(self, name: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """``(text, html)`` of template ``name`` (``html`` empty when it has no HTML part);
        a DeliveryError naming the template when it is missing or fails."""
        if not _NAME.match(name or ""):
            raise DeliveryError(
                f"Template name {name!r} is not a plain name (letters, digits, _ . -).",
                hint="Name the template in the flow's send step as its file name, no path.",
            )
        text = self._part(name, "txt", context, required=True)
        html = self._part(name, "html", context, required=False)
        return text, html

    def _part(self, name: str, ext: str, context: Mapping[str, Any], *, required: bool) -> str:
        file = f"{name}.{ext}"
        try:
            template = self.env.get_template(file)
        except TemplateNotFound:
            if not required:
                return ""
            where = ", ".join(str(d) for d in self.dirs)
            raise DeliveryError(
                f"Template {name!r} has no {file} (looked in {where}).",
                hint=f"Write {file} in templates_dir, or name a shipped template.",
            ) from None
        except TemplateError as exc:
            raise self._failed(file, exc) from None
        try:
            return template.render(**context)
        except TemplateError as exc:  # SecurityError and UndefinedError are TemplateErrors
            raise self._failed(file, exc) from None

    def subject(self, source: str, context: Mapping[str, Any]) -> str:
        """The subject ``source`` rendered (a template string, not escaped), one line."""
        check_header("subject", source)
        if "{" not in source:  # no template syntax: nothing to render
            return source.strip()
        try:
            compiled = self.compiled.get(source)
            if compiled is None:
                compiled = self.compiled.setdefault(source, self.env.from_string(source))
            text = compiled.render(**context)
        except TemplateError as exc:
            raise self._failed("the subject", exc) from None
        return check_header("subject", text.strip())

    @staticmethod
    def _failed(what: str, exc: TemplateError) -> DeliveryError:
        line = getattr(exc, "lineno", None)
        at = f" line {line}" if line else ""
        return DeliveryError(
            f"Template {what}{at} does not render: {type(exc).__name__}: {exc}",
            hint="Templates run sandboxed: no names starting with _, only the context's "
            "values (person, products, discount, unsubscribe_url; docs/delivery.md).",
        )

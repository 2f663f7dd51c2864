"""Segment definitions: YAML parsed into frozen dataclasses, every value checked against the
field catalogue (:mod:`tenure.engage.fields`) with the file and line it came from
(docs/segments.md, "YAML reference").

A definition file holds one segment::

    name: cart_abandoners
    description: Added to cart in the last hour, no order since.
    condition:
      all:
        - {event: Product Added, within: 1h, not_followed_by: Order Completed}
        - {field: email_subscribed, eq: true}

Conditions are field conditions (``{field: NAME, OP: VALUE}``), event conditions,
recommendation conditions (``recommended``, ``candidate``), static lists (``{list: FILE}``)
and the combinators ``all``, ``any`` and ``not``. Nothing of a definition ever becomes SQL
text: names are checked against the catalogue, values are bound as literals when compiled.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tenure.engage.fields import FIELDS, TRAIT, field_type
from tenure.errors import ConfigError

#: Field operators: the condition ``{field: F, OP: VALUE}`` holds one of them.
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "is_null", "contains")
#: The operators of an event's ``count`` (a number of events).
COUNT_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "between")
#: The combinators of conditions.
COMBINATORS = ("all", "any", "not")
#: The keys of each kind of condition (the first names the kind).
CONDITION_KEYS: dict[str, tuple[str, ...]] = {
    "field": ("field", *OPERATORS),
    "event": ("event", "within", "where", "count", "not_followed_by"),
    "recommended": ("recommended", "top"),
    "candidate": ("candidate", "top"),
    "list": ("list",),
}
#: The keys of a definition file.
SEGMENT_KEYS = ("name", "description", "condition")
#: Durations: a number and a unit (s, m, h, d, w).
DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
PROPERTY = re.compile(r"[A-Za-z0-9_]+")

Scalar = str | int | float | bool | date | datetime


@dataclass(frozen=True)
class Place:
    """Where a piece of a definition was written: file and line (1-based)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file} line {self.line}"


@dataclass(frozen=True)
class FieldCondition:
    """``field`` ``op`` ``value`` (a tuple for in, not_in and between)."""

    field: str
    op: str
    value: Any
    at: Place


@dataclass(frozen=True)
class PropertyCondition:
    """An event property (``where``): ``key`` ``op`` ``value``."""

    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class EventCondition:
    """Events named ``event`` (``within`` the window before now; properties ``where``)
    counted per person (``count``: op and value; default at least one), only those after
    the person's latest ``not_followed_by`` event."""

    event: str
    within: timedelta | None
    where: tuple[PropertyCondition, ...]
    count: tuple[str, Any] | None
    not_followed_by: str | None
    at: Place


@dataclass(frozen=True)
class RecommendedCondition:
    """``product`` among the person's recommendations (the first ``top`` ranks)."""

    product: str
    top: int | None
    at: Place


@dataclass(frozen=True)
class CandidateCondition:
    """``category`` among the person's cross-category candidates (the first ``top``)."""

    category: str
    top: int | None
    at: Place


@dataclass(frozen=True)
class ListCondition:
    """The persons of a CSV file's ``customer_id`` or ``email`` column."""

    path: Path
    at: Place


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = (
    FieldCondition
    | EventCondition
    | RecommendedCondition
    | CandidateCondition
    | ListCondition
    | All
    | AnyOf
    | Not
)


@dataclass(frozen=True)
class Segment:
    """A segment definition: ``name``, ``description``, ``condition``, the ``file`` it was
    read from and whether it is one of the shipped definitions."""

    name: str
    description: str
    condition: Condition
    file: str
    shipped: bool = False


class _Reader:
    """One definition file's nodes, read with their lines."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.loader = yaml.SafeLoader(text)

    def root(self) -> yaml.Node:
        try:
            node = self.loader.get_single_node()
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"{self.file}{line}: not valid YAML ({getattr(e, 'problem', e)}).",
                hint="See docs/segments.md for the format of a segment definition.",
            ) from None
        if node is None:
            raise ConfigError(f"{self.file}: the file is empty.", hint=_HINT)
        return node

    def at(self, node: yaml.Node) -> Place:
        return Place(self.file, node.start_mark.line + 1)

    def fail(self, node: yaml.Node, message: str, hint: str = "") -> ConfigError:
        return ConfigError(f"{self.at(node)}: {message}", hint=hint or _HINT)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value).")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = self.value(key)
            if not isinstance(name, str):
                raise self.fail(key, f"a key of {what} must be text. Got {name!r}.")
            if name in out:
                raise self.fail(key, f"{what} has the key {name!r} twice.")
            out[name] = (key, value)
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list.")
        return list(node.value)

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be text. Got {value!r}.")
        return value


_HINT = "See docs/segments.md for the keys, operators and fields of a segment definition."


def close_matches(name: str, choices: list[str]) -> str:
    """'Did you mean ...?' text for ``name`` among ``choices`` (empty when none is close)."""
    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    return f"Did you mean {', '.join(near)}? " if near else ""


def parse_segment(text: str, file: str, *, base: Path | None = None) -> Segment:
    """The segment defined by YAML ``text`` read from ``file`` (named in errors); ``base``:
    the directory relative paths (static lists) are read from."""
    r = _Reader(text, file)
    root = r.root()
    keys = r.mapping(root, "a segment definition")
    for key, (knode, _) in keys.items():
        if key not in SEGMENT_KEYS:
            raise r.fail(
                knode,
                f"unknown key {key!r} in a segment definition.",
                f"{close_matches(key, list(SEGMENT_KEYS))}Keys: {', '.join(SEGMENT_KEYS)}.",
            )
    for key in ("name", "condition"):
        if key not in keys:
            raise r.fail(root, f"the segment definition has no {key!r}.")
    name = r.text(keys["name"][1], "the segment's name")
    if not NAME.fullmatch(name):
        raise r.fail(
            keys["name"][1],
            f"the segment name {name!r} must be lower-case letters, digits, '_' or '-'.",
        )
    description = r.text(keys["description"][1], "description") if "description" in keys else ""
    condition = _condition(r, keys["condition"][1], base or Path("."))
    return Segment(name, description, condition, file)


def _condition(r: _Reader, node: yaml.Node, base: Path) -> Condition:
    keys = r.mapping(node, "a condition")
    combinators = [k for k in keys if k in COMBINATORS]
    if combinators:
        if len(keys) != 1:
            raise r.fail(node, f"{combinators[0]!r} stands alone in its condition.")
        key = combinators[0]
        inner = keys[key][1]
        if key == "not":
            return Not(_condition(r, inner, base))
        parts = tuple(_condition(r, n, base) for n in r.sequence(inner, f"{key!r}"))
        if not parts:
            raise r.fail(inner, f"{key!r} needs at least one condition.")
        return All(parts) if key == "all" else AnyOf(parts)
    kind = next((k for k in CONDITION_KEYS if k in keys), None)
    if kind is None:
        first = next(iter(keys))
        known = [*COMBINATORS, *CONDITION_KEYS]
        raise r.fail(
            keys[first][0],
            f"unknown condition {first!r}.",
            f"{close_matches(first, known)}A condition is one of: {', '.join(known)}.",
        )
    allowed = CONDITION_KEYS[kind]
    for key, (knode, _) in keys.items():
        if key not in allowed:
            raise r.fail(
                knode,
                f"unknown key {key!r} in a {kind} condition.",
                f"{close_matches(key, list(allowed))}Keys: {', '.join(allowed)}.",
            )
    if kind == "field":
        return _field(r, node, keys)
    if kind == "event":
        return _event(r, node, keys)
    if kind == "list":
        return _list(r, keys, base)
    return _recommendation(r, kind, keys)


def _field(r: _Reader, node: yaml.Node, keys: dict) -> FieldCondition:
    fnode = keys["field"][1]
    name = r.value(fnode)
    if not isinstance(name, str):
        raise r.fail(fnode, f"a field name must be text. Got {name!r}.")
    kind = field_type(name)
    if kind is None:
        raise r.fail(
            fnode,
            f"unknown field {name!r}.",
            f'{close_matches(name, list(FIELDS))}Fields: docs/segments.md, "Fields" (a trait: '
            "traits.<key>).",
        )
    ops = [k for k in keys if k in OPERATORS]
    if len(ops) != 1:
        raise r.fail(
            node,
            f"the condition on {name!r} needs exactly one operator. Got {len(ops)}.",
            f"Operators: {', '.join(OPERATORS)}.",
        )
    op = ops[0]
    vnode = keys[op][1]
    value = _typed(r, vnode, name, kind, op)
    return FieldCondition(name, op, value, r.at(fnode))


def _typed(r: _Reader, node: yaml.Node, name: str, kind: str, op: str) -> Any:
    """The value of ``op`` on field ``name`` of type ``kind``, checked and converted."""
    raw = r.value(node)
    if op == "is_null":
        if not isinstance(raw, bool):
            raise r.fail(node, f"is_null takes true or false. Got {raw!r}.")
        return raw
    trait = TRAIT.fullmatch(name) is not None
    if op in ("in", "not_in", "between"):
        items = r.sequence(node, f"the value of {op!r}")
        if op == "between" and len(items) != 2:
            raise r.fail(node, f"between takes two values [low, high]. Got {len(items)}.")
        if not items:
            raise r.fail(node, f"{op!r} needs at least one value.")
        return tuple(_one(r, n, name, kind, op, trait) for n in items)
    if op == "contains" and kind != "string":
        raise r.fail(node, f"contains applies to text fields; {name!r} is {kind}.")
    if op in ("lt", "le", "gt", "ge") and kind in ("string", "bool") and not trait:
        raise r.fail(node, f"{op!r} compares numbers and times; {name!r} is {kind}.")
    return _one(r, node, name, kind, op, trait)


_EXPECTED = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "a date or time (YYYY-MM-DD[ HH:MM:SS])",
    "date": "a date (YYYY-MM-DD)",
}


def _one(r: _Reader, node: yaml.Node, name: str, kind: str, op: str, trait: bool) -> Any:
    value = r.value(node)
    if trait and isinstance(value, int | float | bool) and not isinstance(value, str):
        return value  # a trait compares as text, or as a number/boolean when given one
    ok = _convert(value, kind)
    if ok is None:
        raise r.fail(
            node,
            f"the value {value!r} of {op!r} does not fit field {name!r}, which holds "
            f"{_EXPECTED[kind]}.",
        )
    return ok


def _convert(value: Any, kind: str) -> Any:
    """``value`` as a value of type ``kind``, or None when it is not one."""
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value if kind == "float" or isinstance(value, int) else None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.date() if kind == "date" else value.replace(tzinfo=None)
    if isinstance(value, date):
        return value if kind == "date" else datetime(value.year, value.month, value.day)
    return None


def duration(text: Any) -> timedelta | None:
    """``1h``, ``30m``, ``7d``, ``2w``, ``45s`` as a time span; None when not one."""
    m = DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        return None
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def _event(r: _Reader, node: yaml.Node, keys: dict) -> EventCondition:
    event = r.text(keys["event"][1], "the event name")
    within = None
    if "within" in keys:
        wnode = keys["within"][1]
        within = duration(r.value(wnode))
        if within is None or within <= timedelta(0):
            raise r.fail(
                wnode,
                f"within takes a duration such as 30m, 1h, 7d, 2w. Got {r.value(wnode)!r}.",
            )
    follow = None
    if "not_followed_by" in keys:
        follow = r.text(keys["not_followed_by"][1], "not_followed_by (an event name)")
    where = _where(r, keys["where"][1]) if "where" in keys else ()
    count = _count(r, keys["count"][1]) if "count" in keys else None
    return EventCondition(event, within, where, count, follow, r.at(keys["event"][1]))


def _where(r: _Reader, node: yaml.Node) -> tuple[PropertyCondition, ...]:
    out = []
    for key, (knode, vnode) in r.mapping(node, "where").items():
        if not PROPERTY.fullmatch(key):
            raise r.fail(knode, f"an event property is letters, digits and '_'. Got {key!r}.")
        if isinstance(vnode, yaml.MappingNode):
            ops = r.mapping(vnode, f"the condition on property {key!r}")
            if len(ops) != 1 or next(iter(ops)) not in OPERATORS:
                raise r.fail(vnode, f"property {key!r} takes one operator of {OPERATORS}.")
            op, (_, onode) = next(iter(ops.items()))
        else:  # a value: equal to it; a list: one of them
            op, onode = ("in" if isinstance(vnode, yaml.SequenceNode) else "eq"), vnode
        out.append(PropertyCondition(key, op, _property_value(r, onode, key, op)))
    return tuple(out)


def _property_value(r: _Reader, node: yaml.Node, key: str, op: str) -> Any:
    raw = r.value(node)
    if op == "is_null":
        if not isinstance(raw, bool):
            raise r.fail(node, f"is_null takes true or false. Got {raw!r}.")
        return raw
    values = raw if isinstance(raw, list) else [raw]
    if op in ("in", "not_in", "between") and not isinstance(raw, list):
        raise r.fail(node, f"{op!r} takes a list of values.")
    if op == "between" and len(values) != 2:
        raise r.fail(node, "between takes two values [low, high].")
    for v in values:
        if not isinstance(v, str | int | float) or (
            op in ("lt", "le", "gt", "ge") and (isinstance(v, str | bool))
        ):
            raise r.fail(node, f"property {key!r}: {v!r} is not a value {op!r} compares.")
    return tuple(values) if isinstance(raw, list) else raw


def _count(r: _Reader, node: yaml.Node) -> tuple[str, Any]:
    ops = r.mapping(node, "count")
    if len(ops) != 1 or next(iter(ops)) not in COUNT_OPERATORS:
        raise r.fail(node, f"count takes one operator of {', '.join(COUNT_OPERATORS)}.")
    op, (_, vnode) = next(iter(ops.items()))
    value = r.value(vnode)
    values = value if op == "between" and isinstance(value, list) else [value]
    if (op == "between" and len(values) != 2) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise r.fail(vnode, f"count {op!r} takes a whole number of events, 0 or more.")
    return op, tuple(values) if op == "between" else value


def _recommendation(r: _Reader, kind: str, keys: dict) -> Condition:
    vnode = keys[kind][1]
    what = r.text(vnode, "a product id" if kind == "recommended" else "a category")
    top = None
    if "top" in keys:
        top = r.value(keys["top"][1])
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise r.fail(keys["top"][1], f"top takes a whole number, 1 or more. Got {top!r}.")
    if kind == "recommended":
        return RecommendedCondition(what, top, r.at(vnode))
    return CandidateCondition(what, top, r.at(vnode))


def _list(r: _Reader, keys: dict, base: Path) -> ListCondition:
    vnode = keys["list"][1]
    path = Path(r.text(vnode, "list (a CSV file)"))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise r.fail(
            vnode,
            f"the list {str(path)!r} is not a file.",
            "A list is a CSV file with a customer_id or email column, relative to the "
            "definition's directory.",
        )
    return ListCondition(path, r.at(vnode))


def fields_of(condition: Condition) -> list[str]:
    """The field names a condition reads, in order of appearance, once each."""
    out: list[str] = []
    stack: list[Condition] = [condition]
    while stack:
        c = stack.pop(0)
        if isinstance(c, FieldCondition) and c.field not in out:
            out.append(c.field)
        elif isinstance(c, All | AnyOf):
            stack[:0] = list(c.parts)
        elif isinstance(c, Not):
            stack.insert(0, c.part)
    return out

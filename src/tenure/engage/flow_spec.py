"""Flow definitions in YAML (docs/flows.md): parsed with the line of every node, so each
error names the file, the line, the key at fault and the keys or step ids it could have
meant.

A flow is a trigger, a list of steps (each with an ``id`` and one action), exit criteria,
a re-entry rule and a holdout share. :func:`parse_flow` reads one document,
:func:`load_flows` the shipped definitions and a directory of the user's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

import yaml

from tenure.engage.settings import POLICY_FILE
from tenure.errors import ConfigError

#: The channels a send step may use (the send policy's channels).
CHANNELS = ("email", "sms", "webhook", "onsite")
#: What a send's ``products`` may name (tenure.engage.products resolves them).
PRODUCT_SOURCES = ("cart", "frequently_bought_together", "next_products")
#: The trigger kinds (one key of ``trigger`` names the kind).
TRIGGER_KINDS = ("event", "segment", "status", "stage", "date", "schedule")
#: The step actions (one key of a step besides ``id``).
STEP_KINDS = ("wait", "wait_until", "branch", "send", "set_trait", "discount", "exit")
#: The conditions of a branch.
CONDITION_KINDS = ("in_segment", "ordered_since_entry", "event_since_entry", "field")
#: The guardrails of a discount step (``guardrail: margin``).
GUARDRAILS = ("margin",)
#: The ``exit_reason`` of a stay a discount's margin guardrail ended.
GUARDRAIL_EXIT = "margin guardrail"
#: The exit criteria of ``exit_when``.
EXIT_CRITERIA = ("ordered_since_entry",)
REENTRY = ("never", "always")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY = ("day", "week", "month")

#: Every key the parser accepts, by section (docs/flows.md documents each; a test checks).
KEYS: dict[str, tuple[str, ...]] = {
    "flow": (
        "name",
        "description",
        "trigger",
        "steps",
        "exit_when",
        "reentry",
        "holdout",
        "lookback",
        "max_discount",
    ),
    "trigger": (*TRIGGER_KINDS, "where", "no_order_within", "on", "offset", "yearly"),
    "schedule": ("at", "every", "day", "time", "segment"),
    "reentry": ("after",),
    "holdout": ("share", "rotate"),
    "step": ("id", *STEP_KINDS),
    "branch": ("if", "then", "else"),
    "if": (*CONDITION_KINDS, "equals"),
    "send": ("channel", "template", "subject", "variants", "products", "count"),
    "variant": ("name", "share", "template", "subject"),
    "set_trait": ("name", "value"),
    "discount": ("code_prefix", "percent", "amount", "free_shipping", "valid_for", "guardrail"),
}

_DURATION = re.compile(r"^(-?\d+)\s*(m|h|d|w)$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Schedule:
    """A schedule trigger: one-off ``at`` (local time) or recurring ``every`` day / week
    (``day``: a weekday) / month (``day``: day of the month) at ``time``, in each person's
    time zone, to the members of ``segment`` (everybody known when absent)."""

    at: datetime | None = None
    every: str | None = None
    day: str | int | None = None
    time: time = time(9, 0)
    segment: str | None = None


@dataclass(frozen=True)
class Trigger:
    """What makes a person enter: ``kind`` and the name it watches (event, segment, status,
    journey stage, date field), with the options of that kind."""

    kind: str
    name: str | None = None
    where: tuple[tuple[str, str], ...] = ()
    no_order_within: timedelta | None = None
    on: str = "enter"
    offset: timedelta = timedelta(0)
    yearly: bool = False
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Condition:
    """A branch's test: ``in_segment`` NAME, ``ordered_since_entry``,
    ``event_since_entry`` NAME, or ``field`` NAME ``equals`` VALUE (a customer column or
    trait)."""

    kind: str
    name: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Variant:
    """An A/B variant of a send: its share of the persons and what it changes."""

    name: str
    share: float
    template: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Step:
    """One step: its ``id``, action ``kind`` and the options of that action; ``next`` is
    the id of the step after it in the list (None for the last)."""

    id: str
    kind: str
    line: int
    next: str | None = None
    wait: timedelta | None = None
    until: time | None = None
    condition: Condition | None = None
    then: str | None = None
    otherwise: str | None = None
    channel: str | None = None
    template: str | None = None
    subject: str | None = None
    variants: tuple[Variant, ...] = ()
    trait: tuple[str, str] | None = None
    discount: tuple[tuple[str, str], ...] = ()
    products: str | None = None
    count: int = 3


@dataclass(frozen=True)
class Flow:
    """A parsed flow definition (docs/flows.md)."""

    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    path: str
    description: str = ""
    exit_when: tuple[str, ...] = ()
    reentry: str = "never"
    reentry_after: timedelta | None = None
    holdout: float = 0.0
    #: the rotation period of the holdout (``holdout: {share: 0.1, rotate: 90d}``), or None
    holdout_rotate: timedelta | None = None
    lookback: timedelta = timedelta(days=1)
    max_discount: float | None = None
    step_ids: tuple[str, ...] = field(default=(), repr=False)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


class _Doc:
    """One YAML file being read: raises errors that name it and the line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(
        self, node: yaml.Node, key: str, message: str, *, choices: Sequence[str] = (), got: str = ""
    ) -> ConfigError:
        line = node.start_mark.line + 1
        close = difflib.get_close_matches(got, list(choices), n=3, cutoff=0.6) if got else []
        text = f"{self.path}, line {line}, `{key}`: {message}"
        if close:
            text += f" Did you mean {' or '.join(repr(c) for c in close)}?"
        hint = f"Valid choices: {', '.join(choices)}." if choices else "See docs/flows.md."
        return ConfigError(text, hint=hint)

    def mapping(self, node: yaml.Node, key: str, section: str) -> dict[str, yaml.Node]:
        """The keys of a mapping node, each checked against the section's keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, f"expected a mapping, got {_shown(node)}.")
        out: dict[str, yaml.Node] = {}
        allowed = KEYS[section]
        for k, v in node.value:
            name = str(k.value)
            if name not in allowed:
                raise self.fail(
                    k, name, f"unknown key {name!r} in {key}.", choices=allowed, got=name
                )
            if name in out:
                raise self.fail(k, name, f"key {name!r} given twice in {key}.")
            out[name] = v
        return out

    def text(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise self.fail(node, key, f"expected a text value, got {_shown(node)}.")
        return str(node.value)

    def name(self, node: yaml.Node, key: str) -> str:
        value = self.text(node, key)
        if not _NAME.match(value):
            raise self.fail(node, key, f"{value!r} is not a name (letters, digits, '_', '-', '.').")
        return value

    def choice(self, node: yaml.Node, key: str, choices: Sequence[str]) -> str:
        value = self.text(node, key)
        if value not in choices:
            raise self.fail(node, key, f"{value!r} is not valid.", choices=choices, got=value)
        return value

    def number(self, node: yaml.Node, key: str, low: float, high: float) -> float:
        value = self.text(node, key)
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:
            raise self.fail(node, key, f"{value!r} is not a number in [{low:g}, {high:g}].")
        return number

    def flag(self, node: yaml.Node, key: str) -> bool:
        value = self.text(node, key).lower()
        if value not in ("true", "false", "yes", "no"):
            raise self.fail(node, key, f"{value!r} is not true or false.")
        return value in ("true", "yes")

    def duration(self, node: yaml.Node, key: str, *, negative: bool = False) -> timedelta:
        value = self.text(node, key).strip()
        match = _DURATION.match(value)
        if not match or (not negative and value.startswith("-")):
            raise self.fail(node, key, f"{value!r} is not a duration such as 30m, 1h, 2d or 1w.")
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})

    def clock(self, node: yaml.Node, key: str) -> time:
        value = self.text(node, key).strip()
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise self.fail(node, key, f"{value!r} is not a time of day (HH:MM).") from None

    def sequence(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, f"expected a list, got {_shown(node)}.")
        return list(node.value)


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def _one_kind(
    doc: _Doc, node: yaml.Node, keys: dict[str, yaml.Node], kinds: Sequence[str], key: str
) -> str:
    found = [k for k in kinds if k in keys]
    if len(found) != 1:
        which = "none" if not found else " and ".join(found)
        raise doc.fail(
            node, key, f"needs exactly one of {', '.join(kinds)} (got {which}).", choices=kinds
        )
    return found[0]


def _trigger(doc: _Doc, node: yaml.Node) -> Trigger:
    keys = doc.mapping(node, "trigger", "trigger")
    kind = _one_kind(doc, node, keys, TRIGGER_KINDS, "trigger")
    allowed = {
        "event": {"where", "no_order_within"},
        "segment": {"on"},
        "date": {"offset", "yearly"},
    }.get(kind, set())
    for k in keys:
        if k != kind and k not in allowed:
            raise doc.fail(keys[k], k, f"does not apply to a {kind} trigger.")
    if kind == "schedule":
        return Trigger(kind=kind, schedule=_schedule(doc, keys[kind]))
    where: tuple[tuple[str, str], ...] = ()
    if "where" in keys:
        props = keys["where"]
        if not isinstance(props, yaml.MappingNode):
            raise doc.fail(props, "where", f"expected a mapping, got {_shown(props)}.")
        where = tuple((doc.text(k, "where"), doc.text(v, str(k.value))) for k, v in props.value)
    name = doc.text(keys[kind], kind)
    if kind in ("status", "stage"):
        name = doc.choice(keys[kind], kind, _known(kind))
    return Trigger(
        kind=kind,
        name=name,
        where=where,
        no_order_within=doc.duration(keys["no_order_within"], "no_order_within")
        if "no_order_within" in keys
        else None,
        on=doc.choice(keys["on"], "on", ("enter", "exit")) if "on" in keys else "enter",
        offset=doc.duration(keys["offset"], "offset", negative=True)
        if "offset" in keys
        else timedelta(0),
        yearly=doc.flag(keys["yearly"], "yearly") if "yearly" in keys else False,
    )


def _known(kind: str) -> tuple[str, ...]:
    """The statuses or the journey stages a trigger may name."""
    from tenure.analytics.journey import STAGES
    from tenure.analytics.status import STATUSES

    return STATUSES if kind == "status" else STAGES


def _schedule(doc: _Doc, node: yaml.Node) -> Schedule:
    keys = doc.mapping(node, "schedule", "schedule")
    if ("at" in keys) == ("every" in keys):
        raise doc.fail(node, "schedule", "needs either `at` (one-off) or `every` (recurring).")
    segment = doc.text(keys["segment"], "segment") if "segment" in keys else None
    if "at" in keys:
        raw = doc.text(keys["at"], "at")
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            raise doc.fail(keys["at"], "at", f"{raw!r} is not a local date and time.") from None
        return Schedule(at=at.replace(tzinfo=None), segment=segment)
    every = doc.choice(keys["every"], "every", EVERY)
    day: str | int | None = None
    if every == "week":
        if "day" not in keys:
            raise doc.fail(node, "day", "a weekly schedule needs a `day`.", choices=WEEKDAYS)
        day = doc.choice(keys["day"], "day", WEEKDAYS)
    elif every == "month":
        day = int(doc.number(keys["day"], "day", 1, 28)) if "day" in keys else 1
    elif "day" in keys:
        raise doc.fail(keys["day"], "day", "does not apply to a daily schedule.")
    at_time = doc.clock(keys["time"], "time") if "time" in keys else time(9, 0)
    return Schedule(every=every, day=day, time=at_time, segment=segment)


def _condition(doc: _Doc, node: yaml.Node) -> Condition:
    keys = doc.mapping(node, "if", "if")
    kind = _one_kind(doc, node, keys, CONDITION_KINDS, "if")
    if kind == "ordered_since_entry":
        if not doc.flag(keys[kind], kind):
            raise doc.fail(keys[kind], kind, "only `ordered_since_entry: true` is a condition.")
        return Condition(kind=kind)
    if kind == "field":
        if "equals" not in keys:
            raise doc.fail(node, "equals", "a `field` condition needs `equals`.")
        return Condition(kind, doc.text(keys[kind], kind), doc.text(keys["equals"], "equals"))
    if "equals" in keys:
        raise doc.fail(keys["equals"], "equals", f"does not apply to {kind}.")
    return Condition(kind=kind, name=doc.text(keys[kind], kind))


def _send(doc: _Doc, node: yaml.Node) -> dict[str, object]:
    keys = doc.mapping(node, "send", "send")
    if "channel" not in keys:
        raise doc.fail(node, "channel", "a send needs a `channel`.", choices=CHANNELS)
    variants: list[Variant] = []
    if "variants" in keys:
        for v in doc.sequence(keys["variants"], "variants"):
            vk = doc.mapping(v, "variant", "variant")
            if "name" not in vk or "share" not in vk:
                raise doc.fail(v, "variants", "each variant needs a `name` and a `share`.")
            variants.append(
                Variant(
                    name=doc.name(vk["name"], "name"),
                    share=doc.number(vk["share"], "share", 0, 1),
                    template=doc.text(vk["template"], "template") if "template" in vk else None,
                    subject=doc.text(vk["subject"], "subject") if "subject" in vk else None,
                )
            )
        total = sum(v.share for v in variants)
        if abs(total - 1) > 1e-9:
            raise doc.fail(keys["variants"], "variants", f"the shares sum to {total:g}, not 1.")
        if len({v.name for v in variants}) < len(variants):
            raise doc.fail(keys["variants"], "variants", "two variants have the same name.")
    template = doc.text(keys["template"], "template") if "template" in keys else None
    if template is None and (not variants or any(v.template is None for v in variants)):
        raise doc.fail(node, "template", "a send needs a `template` (or one per variant).")
    if "count" in keys and "products" not in keys:
        raise doc.fail(keys["count"], "count", "`count` goes with `products`.")
    return {
        "products": doc.choice(keys["products"], "products", PRODUCT_SOURCES)
        if "products" in keys
        else None,
        "count": int(doc.number(keys["count"], "count", 1, 20)) if "count" in keys else 3,
        "channel": doc.choice(keys["channel"], "channel", CHANNELS),
        "template": template,
        "subject": doc.text(keys["subject"], "subject") if "subject" in keys else None,
        "variants": tuple(variants),
    }


def _step(doc: _Doc, node: yaml.Node) -> Step:
    keys = doc.mapping(node, "step", "step")
    if "id" not in keys:
        raise doc.fail(node, "id", "every step needs an `id`.")
    step_id = doc.name(keys["id"], "id")
    kind = _one_kind(doc, node, keys, STEP_KINDS, f"step {step_id!r}")
    value = keys[kind]
    line = node.start_mark.line + 1
    base = Step(id=step_id, kind=kind, line=line)
    if kind == "wait":
        return _replace(base, wait=doc.duration(value, "wait"))
    if kind == "wait_until":
        return _replace(base, until=doc.clock(value, "wait_until"))
    if kind == "branch":
        bk = doc.mapping(value, "branch", "branch")
        for k in ("if", "then", "else"):
            if k not in bk:
                raise doc.fail(value, k, f"a branch needs `{k}`.")
        return _replace(
            base,
            condition=_condition(doc, bk["if"]),
            then=doc.name(bk["then"], "then"),
            otherwise=doc.name(bk["else"], "else"),
        )
    if kind == "send":
        return _replace(base, **_send(doc, value))
    if kind == "set_trait":
        tk = doc.mapping(value, "set_trait", "set_trait")
        if "name" not in tk or "value" not in tk:
            raise doc.fail(value, "set_trait", "needs a `name` and a `value`.")
        return _replace(base, trait=(doc.name(tk["name"], "name"), doc.text(tk["value"], "value")))
    if kind == "discount":
        return _replace(base, discount=_discount(doc, value))
    if not doc.flag(value, "exit"):
        raise doc.fail(value, "exit", "write `exit: true` (or leave the step out).")
    return base


def _discount(doc: _Doc, node: yaml.Node) -> tuple[tuple[str, str], ...]:
    """A discount's options; ``percent`` a number in [0, 100], ``guardrail`` a known one."""
    dk = doc.mapping(node, "discount", "discount")
    if "code_prefix" not in dk:
        raise doc.fail(node, "code_prefix", "a discount needs a `code_prefix`.")
    if "percent" in dk:
        doc.number(dk["percent"], "percent", 0, 100)
    if "guardrail" in dk:
        doc.choice(dk["guardrail"], "guardrail", GUARDRAILS)
        if "percent" not in dk:
            raise doc.fail(dk["guardrail"], "guardrail", "a margin guardrail needs a `percent`.")
    return tuple((k, doc.text(v, k)) for k, v in dk.items())


def _check_max_discount(
    doc: _Doc, limit: float, steps: Sequence[Step], nodes: Sequence[yaml.Node]
) -> None:
    """No discount step of the flow above its ``max_discount`` percent."""
    for step, node in zip(steps, nodes, strict=True):
        percent = dict(step.discount).get("percent")
        if percent is not None and float(percent) > limit:
            options = doc.mapping(
                doc.mapping(node, "step", "step")["discount"], "discount", "discount"
            )
            raise doc.fail(
                options["percent"],
                "percent",
                f"step {step.id!r} gives {percent}%, above the flow's max_discount of {limit:g}%.",
            )


def _replace(step: Step, **changes: object) -> Step:
    from dataclasses import replace

    return replace(step, **changes)  # type: ignore[arg-type]


def _reentry(doc: _Doc, node: yaml.Node) -> tuple[str, timedelta | None]:
    if isinstance(node, yaml.MappingNode):
        keys = doc.mapping(node, "reentry", "reentry")
        if "after" not in keys:
            raise doc.fail(node, "reentry", "write `reentry: {after: 30d}`.")
        return "after", doc.duration(keys["after"], "after")
    return doc.choice(node, "reentry", (*REENTRY, "after")), None


def _holdout(doc: _Doc, node: yaml.Node) -> tuple[float, timedelta | None]:
    """``holdout: 0.1`` (never rotated) or ``holdout: {share: 0.1, rotate: 90d}``."""
    if not isinstance(node, yaml.MappingNode):
        return doc.number(node, "holdout", 0, 0.9), None
    keys = doc.mapping(node, "holdout", "holdout")
    if "share" not in keys:
        raise doc.fail(node, "share", "write `holdout: {share: 0.1, rotate: 90d}`.")
    share = doc.number(keys["share"], "share", 0, 0.9)
    if "rotate" not in keys:
        return share, None
    rotate = doc.duration(keys["rotate"], "rotate")
    if rotate.total_seconds() % 86400 or rotate.total_seconds() < 86400:
        raise doc.fail(
            keys["rotate"],
            "rotate",
            f"{keys['rotate'].value!r} is not a whole number of days (1d or more).",
        )
    return share, rotate


def _linked(doc: _Doc, steps: list[Step], nodes: list[yaml.Node]) -> tuple[Step, ...]:
    """The steps with ``next`` set, their ids unique and branch targets known."""
    ids = [s.id for s in steps]
    for i, (step, node) in enumerate(zip(steps, nodes, strict=True)):
        if step.id in ids[:i]:
            raise doc.fail(node, "id", f"step id {step.id!r} is used twice.")
        for key, target in (("then", step.then), ("else", step.otherwise)):
            if target is not None and target not in ids:
                raise doc.fail(
                    node, key, f"no step has the id {target!r}.", choices=ids, got=target
                )
    linked = tuple(
        _replace(s, next=ids[i + 1] if i + 1 < len(ids) else None) for i, s in enumerate(steps)
    )
    _check_loops(doc, linked, nodes)
    return linked


def _check_loops(doc: _Doc, steps: tuple[Step, ...], nodes: list[yaml.Node]) -> None:
    """A loop of steps without a wait would never stop within a tick: refused."""
    by_id = {s.id: s for s in steps}

    def successors(s: Step) -> list[str]:
        if s.kind == "exit":
            return []
        if s.kind == "branch":
            return [t for t in (s.then, s.otherwise) if t]
        return [s.next] if s.next else []

    for start in steps:
        seen: set[str] = set()
        todo = [start.id]
        while todo:
            current = by_id[todo.pop()]
            if current.kind in ("wait", "wait_until"):
                continue
            for nxt in successors(current):
                if nxt == start.id:
                    node = nodes[steps.index(start)]
                    raise doc.fail(
                        node, "then", f"step {start.id!r} loops back to itself without a wait."
                    )
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)


def parse_flow(text: str, path: str = "<flow>") -> Flow:
    """One flow from its YAML text; ``path`` names it in errors."""
    doc = _Doc(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(
            f"{path}, line {line}: not valid YAML: {exc.problem}.",
            hint="Check the indentation and quoting around that line.",
        ) from None
    if root is None:
        raise ConfigError(f"{path}, line 1: the file is empty.", hint="See docs/flows.md.")
    keys = doc.mapping(root, "the flow", "flow")
    for k in ("name", "trigger", "steps"):
        if k not in keys:
            raise doc.fail(root, k, f"a flow needs `{k}`.")
    nodes = doc.sequence(keys["steps"], "steps")
    if not nodes:
        raise doc.fail(keys["steps"], "steps", "a flow needs at least one step.")
    steps = _linked(doc, [_step(doc, n) for n in nodes], nodes)
    exits: tuple[str, ...] = ()
    if "exit_when" in keys:
        node = keys["exit_when"]
        items = doc.sequence(node, "exit_when") if isinstance(node, yaml.SequenceNode) else [node]
        exits = tuple(doc.choice(n, "exit_when", EXIT_CRITERIA) for n in items)
    reentry, after = _reentry(doc, keys["reentry"]) if "reentry" in keys else ("never", None)
    holdout, rotate = _holdout(doc, keys["holdout"]) if "holdout" in keys else (0.0, None)
    max_discount = None
    if "max_discount" in keys:
        max_discount = doc.number(keys["max_discount"], "max_discount", 0, 100)
        _check_max_discount(doc, max_discount, steps, nodes)
    return Flow(
        name=doc.name(keys["name"], "name"),
        description=doc.text(keys["description"], "description") if "description" in keys else "",
        trigger=_trigger(doc, keys["trigger"]),
        steps=steps,
        path=path,
        exit_when=exits,
        reentry=reentry,
        reentry_after=after,
        holdout=holdout,
        holdout_rotate=rotate,
        lookback=doc.duration(keys["lookback"], "lookback")
        if "lookback" in keys
        else timedelta(days=1),
        max_discount=max_discount,
        step_ids=tuple(s.id for s in steps),
    )


def read_flow(path: Path) -> Flow:
    """One flow file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read flow file {path}: {exc.strerror}.", hint="Check the path."
        ) from None
    return parse_flow(text, str(path))


def shipped_dir() -> Path:
    """The flow definitions shipped with Tenure."""
    return Path(__file__).parent / "definitions" / "flows"


def flow_paths(directory: Path | None) -> list[Path]:
    """The shipped flow files, then those of ``directory`` (when it exists)."""
    paths = sorted(shipped_dir().glob("*.yaml"))
    if directory is not None and directory.is_dir():
        mine = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
        paths += sorted(p for p in mine if p.name != POLICY_FILE)  # the send policy's file
    return paths


def load_flows(paths: Iterable[Path]) -> list[Flow]:
    """The flows of ``paths``, in order; a later file of the same flow name replaces an
    earlier one (a user's flow replaces the shipped one of its name)."""
    flows: dict[str, Flow] = {}
    for path in paths:
        flow = read_flow(path)
        flows[flow.name] = flow
    return list(flows.values())


def pick(flows: Sequence[Flow], name: str) -> Flow:
    """The flow called ``name``; an error with the close names otherwise."""
    for flow in flows:
        if flow.name == name:
            return flow
    names = [f.name for f in flows]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    guess = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
        f"No flow named {name!r}.{guess}", hint=f"Known flows: {', '.join(names) or 'none'}."
    )

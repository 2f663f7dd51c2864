"""The send policy's settings: frequency caps, quiet hours and the default time zone
(docs/flows.md, "Send policy"), built in Python or read from a ``policy:`` block of YAML.

.. code-block:: yaml

    policy:
      timezone: America/New_York       # for persons without a known time zone
      caps:                            # per person, across all flows, local day / week
        email: {per_day: 1, per_week: 3}
        sms: {per_day: 1, per_week: 2}
        webhook: none                  # uncapped
      quiet_hours:                     # local time; messages held until the end
        sms: "21:00-09:00"
        email: none

Channels a block does not name keep their defaults (:data:`DEFAULT_CAPS`,
:data:`DEFAULT_QUIET_HOURS`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenure.engage.consent import CHANNELS
from tenure.engage.zones import is_zone, zone_choices
from tenure.errors import ConfigError


@dataclass(frozen=True)
class Cap:
    """At most ``per_day`` messages per local day and ``per_week`` per local week (Monday
    to Sunday) on one channel; None: no such cap."""

    per_day: int | None = None
    per_week: int | None = None

    def __str__(self) -> str:
        parts = [f"{n} per {u}" for n, u in ((self.per_day, "day"), (self.per_week, "week"))]
        kept = [
            p for p, n in zip(parts, (self.per_day, self.per_week), strict=True) if n is not None
        ]
        return ", ".join(kept) or "uncapped"


@dataclass(frozen=True)
class QuietHours:
    """Local hours when nothing is sent: from ``start`` to ``end``, minutes after midnight
    (``start > end`` spans midnight, e.g. 21:00-09:00)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    def contains(self, minute: int) -> bool:
        """Whether local time ``minute`` (after midnight) is quiet."""
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


#: Defaults: e-mail once a day and three times a week, SMS once a day and twice a week;
#: webhooks and on-site messages uncapped.
DEFAULT_CAPS: dict[str, Cap] = {
    "email": Cap(per_day=1, per_week=3),
    "sms": Cap(per_day=1, per_week=2),
    "webhook": Cap(),
    "onsite": Cap(),
}
#: Defaults: no text message between 21:00 and 09:00 local time (stricter than the US TCPA's
#: 8am-9pm); e-mail waits in the inbox, on-site messages show when the person visits and
#: webhooks reach systems, so none of them is held.
DEFAULT_QUIET_HOURS: dict[str, QuietHours | None] = {
    "email": None,
    "sms": QuietHours(21 * 60, 9 * 60),
    "webhook": None,
    "onsite": None,
}
DEFAULT_TIMEZONE = "UTC"
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _bad(
    field_name: str, must: str, value: object, where: str, hint: str | None = None
) -> ConfigError:
    return ConfigError(
        f"{where}The {field_name!r} parameter of the send policy must be {must}. Got {value!r}.",
        hint=hint,
    )


@dataclass(frozen=True)
class SendPolicy:
    """Caps per channel, quiet hours per channel and the time zone of persons whose own is
    unknown. Validated on creation (a :class:`ConfigError` names the parameter)."""

    caps: Mapping[str, Cap] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    quiet_hours: Mapping[str, QuietHours | None] = field(
        default_factory=lambda: dict(DEFAULT_QUIET_HOURS)
    )
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        self.check()

    def check(self, where: str = "") -> None:
        """Raise a ConfigError for the first invalid parameter."""
        for name, table in (("caps", self.caps), ("quiet_hours", self.quiet_hours)):
            for channel in table:
                if channel not in CHANNELS:
                    raise _bad(f"{name}.{channel}", f"one of {list(CHANNELS)}", channel, where)
        for channel, cap in self.caps.items():
            for unit in ("per_day", "per_week"):
                n = getattr(cap, unit)
                if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                    raise _bad(f"caps.{channel}.{unit}", "an int >= 0 or none", n, where)
        for channel, q in self.quiet_hours.items():
            if q is None:
                continue
            ok = all(isinstance(v, int) and 0 <= v < 24 * 60 for v in (q.start, q.end))
            if not ok or q.start == q.end:
                raise _bad(
                    f"quiet_hours.{channel}",
                    "two different local times HH:MM-HH:MM",
                    f"{q.start}-{q.end}",
                    where,
                )
        if not isinstance(self.timezone, str) or not is_zone(self.timezone):
            close = difflib.get_close_matches(str(self.timezone), zone_choices(), n=3)
            raise _bad(
                "timezone",
                "an IANA time zone",
                self.timezone,
                where,
                hint=f"Did you mean {', '.join(close)}?" if close else "e.g. Europe/Paris.",
            )

    def cap(self, channel: str) -> Cap:
        return self.caps.get(channel, DEFAULT_CAPS.get(channel, Cap()))

    def quiet(self, channel: str) -> QuietHours | None:
        return self.quiet_hours.get(channel, DEFAULT_QUIET_HOURS.get(channel))

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, *, file: str | None = None, line: int | None = None
    ) -> SendPolicy:
        """The policy of a ``policy:`` block (already parsed YAML); ``file`` and ``line``
        locate it in error messages. Channels not named keep their defaults."""
        where = f"{file or 'policy'}{f' line {line}' if line is not None else ''}: "
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise _bad("policy", "a mapping (timezone, caps, quiet_hours)", data, where)
        _known_keys(data, ("timezone", "caps", "quiet_hours"), "", where)
        caps = dict(DEFAULT_CAPS)
        for channel, value in _channels(data.get("caps"), "caps", where).items():
            caps[channel] = _cap(value, channel, where)
        quiet = dict(DEFAULT_QUIET_HOURS)
        for channel, value in _channels(data.get("quiet_hours"), "quiet_hours", where).items():
            quiet[channel] = _quiet(value, channel, where)
        timezone = data.get("timezone", DEFAULT_TIMEZONE)
        policy = cls.__new__(cls)
        object.__setattr__(policy, "caps", caps)
        object.__setattr__(policy, "quiet_hours", quiet)
        object.__setattr__(policy, "timezone", timezone)
        policy.check(where)
        return policy


def _known_keys(data: Mapping[str, Any], keys: tuple[str, ...], prefix: str, where: str) -> None:
    for key in data:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            raise _bad(
                f"{prefix}{key}",
                f"one of {list(keys)}",
                key,
                where,
                hint=f"Did you mean {close[0]!r}?" if close else None,
            )


def _none(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


def _channels(value: object, name: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _bad(name, "a mapping of channel to setting", value, where)
    _known_keys(value, CHANNELS, f"{name}.", where)
    return value


def _cap(value: object, channel: str, where: str) -> Cap:
    if _none(value):
        return Cap()
    if not isinstance(value, Mapping):
        raise _bad(f"caps.{channel}", "a mapping (per_day, per_week) or none", value, where)
    _known_keys(value, ("per_day", "per_week"), f"caps.{channel}.", where)
    counts: dict[str, int | None] = {}
    for unit in ("per_day", "per_week"):
        n = value.get(unit)
        if _none(n):
            counts[unit] = None
        elif isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise _bad(f"caps.{channel}.{unit}", "an int >= 0 or none", n, where)
        else:
            counts[unit] = n
    return Cap(**counts)


def _quiet(value: object, channel: str, where: str) -> QuietHours | None:
    if _none(value):
        return None
    m = _TIME.match(value) if isinstance(value, str) else None
    if m is None:
        raise _bad(f"quiet_hours.{channel}", "HH:MM-HH:MM (local time) or none", value, where)
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise _bad(f"quiet_hours.{channel}", "two different local times HH:MM-HH:MM", value, where)
    return QuietHours(h1 * 60 + m1, h2 * 60 + m2)


#: The file of a flows directory that holds its ``policy:`` block (not a flow).
POLICY_FILE = "policy.yaml"


def load_policy(directory: Path | None) -> SendPolicy:
    """The send policy of ``directory/policy.yaml`` (its top-level ``policy:`` block), or
    the defaults when the directory or the file does not exist."""
    path = directory / POLICY_FILE if directory is not None else None
    if path is None or not path.is_file():
        return SendPolicy()
    try:
        node = yaml.compose(path.read_text())
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}: not valid YAML: {exc}", hint="Fix the file, or remove it for the defaults."
        ) from None
    if not isinstance(data, Mapping) or set(data) != {"policy"}:
        raise ConfigError(
            f"{path}, line 1: the file must hold one key, `policy:`. Got {_shown(data)}.",
            hint="See docs/flows.md, 'The policy and its defaults'.",
        )
    line = None
    if isinstance(node, yaml.MappingNode) and node.value:
        line = node.value[0][1].start_mark.line + 1
    return SendPolicy.from_mapping(data["policy"], file=str(path), line=line)


def _shown(data: object) -> str:
    if isinstance(data, Mapping):
        return "the keys " + ", ".join(repr(k) for k in data)
    return repr(data)

"""One Segment message checked and completed by the collector (no I/O: pure functions).

:func:`prepare` checks a message as Segment's HTTP tracking API does (the type, an identity,
the fields each call needs, ISO 8601 timestamps, the 32 KB limit) and completes it: a
``messageId`` when it has none, ``receivedAt`` from the server's clock, and ``timestamp``
corrected for the device's clock skew (``timestamp + (receivedAt - sentAt)``, the device's
own kept as ``originalTimestamp``). A message that fails raises :class:`InvalidMessage`
naming the field.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

#: The call types of Segment's spec, each a route ``/v1/<type>``.
TYPES = ("track", "identify", "page", "screen", "alias", "group")
#: The most a message may weigh (its compact JSON, UTF-8), as Segment's API.
MAX_MESSAGE_BYTES = 32 * 1024
#: The most a batch request may weigh, as Segment's API.
MAX_BATCH_BYTES = 500 * 1024
#: Timestamp fields a message may carry.
TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")
#: Fields that must be JSON objects when present.
OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


class InvalidMessage(ValueError):
    """A message the collector refuses: the field at fault (or None), what is wrong, and a
    short reason for the ``tenure_events_rejected`` counter."""

    def __init__(self, field: str | None, message: str, reason: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


def size_of(message: object) -> int:
    """The size of ``message`` as compact JSON in UTF-8 bytes."""
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())


def kb(n: int) -> str:
    """``n`` bytes, as a limit is written (``32 KB (32,768 bytes)``)."""
    return f"{n // 1024} KB ({n:,} bytes)"


def parse_time(value: object, field: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (a time without an offset is UTC)."""
    if not isinstance(value, str):
        raise InvalidMessage(
            field, f"`{field}` must be an ISO 8601 string, got {type(value).__name__}.", "time"
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidMessage(
            field,
            f"`{field}` is not an ISO 8601 timestamp: {value[:40]!r} "
            "(expected e.g. 2026-01-31T12:00:00.000Z).",
            "time",
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """``value`` written as the collector stores times (UTC, microseconds, ``Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text_id(message: dict[str, Any], field: str) -> str | None:
    value = message.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidMessage(field, f"`{field}` must be a string.", "invalid_field")
    message[field] = str(value)
    return str(value)


def _require(message: dict[str, Any], field: str, call: str) -> None:
    if _text_id(message, field) is None:
        raise InvalidMessage(
            field, f"A {call} call needs `{field}` (a non-empty string).", "missing_field"
        )


def check_fields(message: dict[str, Any], kind: str) -> None:
    """The identity and the fields the call ``kind`` needs, and objects where objects go."""
    user = _text_id(message, "userId")
    anonymous = _text_id(message, "anonymousId")
    if user is None and anonymous is None:
        raise InvalidMessage(
            "userId",
            "Every call needs `userId` or `anonymousId` (a non-empty string).",
            "missing_field",
        )
    if kind == "track":
        _require(message, "event", "track")
    elif kind == "alias":
        _require(message, "previousId", "alias")
        _require(message, "userId", "alias")
    elif kind == "group":
        _require(message, "groupId", "group")
    for field in OBJECT_FIELDS:
        if message.get(field) is not None and not isinstance(message[field], dict):
            raise InvalidMessage(field, f"`{field}` must be a JSON object.", "invalid_field")
    for field in ("event", "name"):
        if message.get(field) is not None and not isinstance(message[field], str):
            raise InvalidMessage(field, f"`{field}` must be a string.", "invalid_field")


def check_type(message: dict[str, Any], path_type: str | None) -> str:
    """The call type: the route's, else the message's own (a batch item)."""
    kind = path_type or message.get("type")
    if kind not in TYPES:
        got = "none" if kind is None else repr(kind)[:40]
        raise InvalidMessage(
            "type", f"`type` must be one of {', '.join(TYPES)} (got {got}).", "invalid_type"
        )
    return str(kind)


def correct_times(message: dict[str, Any], received: datetime, sent_at: object) -> None:
    """``receivedAt`` set; ``timestamp`` corrected by the skew ``receivedAt - sentAt`` when
    the device sent ``sentAt`` (the device's time kept as ``originalTimestamp``)."""
    times = {f: parse_time(message[f], f) for f in TIME_FIELDS if message.get(f) is not None}
    if "sentAt" not in times and sent_at is not None:
        times["sentAt"] = parse_time(sent_at, "sentAt")
    message["receivedAt"] = iso(received)
    device = times.get("timestamp") or times.get("originalTimestamp")
    if device is None:
        message["timestamp"] = iso(received)
        return
    if "sentAt" in times:
        message["sentAt"] = iso(times["sentAt"])
        message["originalTimestamp"] = iso(times.get("originalTimestamp") or device)
        message["timestamp"] = iso(device + (received - times["sentAt"]))
    else:
        message["timestamp"] = iso(device)
        if "originalTimestamp" in times:
            message["originalTimestamp"] = iso(times["originalTimestamp"])


def _keep_group_id(message: dict[str, Any]) -> None:
    """A group call's ``groupId`` kept in ``properties`` (the events table has no column)."""
    properties = dict(message.get("properties") or {})
    properties.setdefault("groupId", message["groupId"])
    message["properties"] = properties


def prepare(
    raw: object, path_type: str | None, received: datetime, sent_at: object = None
) -> dict[str, Any]:
    """``raw`` checked and completed (a new dict), or :class:`InvalidMessage`.

    ``path_type``: the route's type (None for a batch item, which carries its own);
    ``sent_at``: the batch's ``sentAt``, for items without their own."""
    if not isinstance(raw, dict):
        raise InvalidMessage(None, "A message must be a JSON object.", "not_an_object")
    try:
        size = size_of(raw)
    except UnicodeEncodeError:
        raise InvalidMessage(
            None,
            "The message holds text that is not valid Unicode (an unpaired surrogate escape "
            "such as \\ud800).",
            "invalid_text",
        ) from None
    if size > MAX_MESSAGE_BYTES:
        raise InvalidMessage(
            None,
            f"The message is {size:,} bytes; the limit is {kb(MAX_MESSAGE_BYTES)} per message.",
            "too_large",
        )
    message = dict(raw)
    message.pop("writeKey", None)
    kind = check_type(message, path_type)
    message["type"] = kind
    check_fields(message, kind)
    message_id = message.get("messageId")
    if message_id is None or message_id == "":
        message["messageId"] = str(uuid.uuid4())
    elif not isinstance(message_id, str) or len(message_id) > 256:
        raise InvalidMessage(
            "messageId", "`messageId` must be a string of at most 256 characters.", "invalid_field"
        )
    correct_times(message, received, sent_at)
    if kind == "group":
        _keep_group_id(message)
    return message

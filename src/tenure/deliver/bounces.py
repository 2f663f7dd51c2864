"""Bounces and complaints (docs/delivery.md, "Unsubscribe, bounces and complaints").

Read from a provider's webhook payload (:func:`parse_payload`: Tenure's own JSON shape,
Amazon SES notifications, directly or wrapped by SNS, and SendGrid event lists) or from a
bounce mailbox file (:func:`parse_mailbox`: an mbox or one ``.eml``, delivery status
notifications, RFC 3464, and feedback reports, RFC 5965, parsed with :mod:`email`).
:func:`record_bounces` keeps every report in ``bounces``; a hard bounce or a complaint also
suppresses the address for e-mail (``suppressions``, with the reason); a soft bounce is only
counted.
"""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.errors import IngestError
from tenure.ingest.identifiers import normalize_email
from tenure.store import Store

KINDS = ("hard", "soft", "complaint")


@dataclass(frozen=True)
class Bounce:
    """One bounce or complaint: the address, ``hard``/``soft``/``complaint``, the status
    code, the diagnostic, the Message-ID of the bounced e-mail, the source and the time."""

    email: str
    kind: str
    status: str | None = None
    reason: str | None = None
    message_id: str | None = None
    source: str = "webhook"
    at: datetime | None = None


@dataclass(frozen=True)
class BounceResult:
    """What :func:`record_bounces` did."""

    hard: int
    soft: int
    complaints: int
    suppressed: int
    already_suppressed: int
    skipped: int


def _when(value: object) -> datetime | None:
    """A timestamp (ISO 8601 text, unix seconds) as naive UTC; None when unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or str(value).isdigit():
            return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)  # type: ignore[arg-type]
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _own(event: Mapping[str, Any]) -> Iterator[Bounce]:
    """Tenure's shape: ``{"type": "bounce"|"complaint", "email", "bounce_type":
    "hard"|"soft", "status", "reason", "message_id", "at"}``."""
    kind = "complaint" if event.get("type") == "complaint" else str(event.get("bounce_type", ""))
    yield Bounce(
        email=str(event.get("email") or ""),
        kind=kind,
        status=event.get("status"),
        reason=event.get("reason"),
        message_id=event.get("message_id"),
        source="webhook",
        at=_when(event.get("at")),
    )


def _ses(event: Mapping[str, Any]) -> Iterator[Bounce]:
    """An SES notification (``notificationType`` Bounce or Complaint)."""
    mail = event.get("mail") or {}
    mid = next(
        (h.get("value") for h in mail.get("headers") or [] if h.get("name") == "Message-ID"), None
    )
    if event.get("notificationType") == "Complaint":
        c = event.get("complaint") or {}
        for r in c.get("complainedRecipients") or []:
            yield Bounce(
                email=str(r.get("emailAddress") or ""),
                kind="complaint",
                status=c.get("complaintFeedbackType"),
                reason="complaint",
                message_id=mid,
                source="ses",
                at=_when(c.get("timestamp")),
            )
        return
    b = event.get("bounce") or {}
    kind = "hard" if b.get("bounceType") == "Permanent" else "soft"
    for r in b.get("bouncedRecipients") or []:
        yield Bounce(
            email=str(r.get("emailAddress") or ""),
            kind=kind,
            status=r.get("status") or b.get("bounceSubType"),
            reason=r.get("diagnosticCode") or b.get("bounceSubType"),
            message_id=mid,
            source="ses",
            at=_when(b.get("timestamp")),
        )


def _sendgrid(event: Mapping[str, Any]) -> Iterator[Bounce]:
    """A SendGrid event (``event`` bounce, dropped, deferred, spamreport)."""
    name = event.get("event")
    if name == "spamreport":
        kind = "complaint"
    elif name == "bounce":
        kind = "soft" if event.get("type") == "blocked" else "hard"
    elif name == "deferred":
        kind = "soft"
    elif name == "dropped" and "bounce" in str(event.get("reason", "")).lower():
        kind = "hard"
    else:
        return
    yield Bounce(
        email=str(event.get("email") or ""),
        kind=kind,
        status=event.get("status"),
        reason=event.get("reason") or event.get("response"),
        message_id=event.get("smtp-id"),
        source="sendgrid",
        at=_when(event.get("timestamp")),
    )


def parse_payload(payload: Any) -> list[Bounce]:
    """The bounces and complaints of a webhook payload (a dict or a list of dicts, or the
    JSON text of one): Tenure's shape, SES (SNS-wrapped too) or SendGrid; other events (a
    delivery, an open) are ignored."""
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    events = payload if isinstance(payload, list) else [payload]
    found: list[Bounce] = []
    for event in events:
        if not isinstance(event, Mapping):
            continue
        if event.get("Type") == "Notification" and isinstance(event.get("Message"), str):
            found += parse_payload(event["Message"])  # SNS around SES
        elif "notificationType" in event:
            found += _ses(event)
        elif "event" in event and "email" in event:
            found += _sendgrid(event)
        elif event.get("type") in ("bounce", "complaint"):
            found += _own(event)
    return found


def _part(msg: Message, content_type: str) -> Message | None:
    return next((p for p in msg.walk() if p.get_content_type() == content_type), None)


def _children(part: Message | None) -> list[Message]:
    """The messages a ``message/*`` part holds (its header blocks, its original e-mail)."""
    payload = part.get_payload() if part is not None else None
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _original(msg: Message) -> Message | None:
    """The headers of the e-mail a report is about (message/rfc822 or text/rfc822-headers)."""
    inner = _children(_part(msg, "message/rfc822"))
    if inner:
        return inner[0]
    headers = _part(msg, "text/rfc822-headers")
    if headers is None:
        return None
    raw = headers.get_payload(decode=True)
    return message_from_bytes(raw) if isinstance(raw, bytes) else None


def _original_id(msg: Message) -> str | None:
    original = _original(msg)
    found = original.get("Message-ID") if original is not None else None
    return str(found).strip() if found else None


def _dsn(msg: Message, at: datetime | None) -> Iterator[Bounce]:
    """A delivery status notification: one bounce per recipient whose Action is failed
    (hard when its Status is 5.x.x) or delayed (soft)."""
    blocks = _children(_part(msg, "message/delivery-status"))[1:]  # the first: per message
    mid = _original_id(msg)
    for block in blocks:
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        if action not in ("failed", "delayed"):
            continue
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        email = recipient.partition(";")[2].strip() or recipient.strip()
        hard = action == "failed" and status.startswith("5")
        yield Bounce(
            email=email,
            kind="hard" if hard else "soft",
            status=status or None,
            reason=str(block.get("Diagnostic-Code") or "").partition(";")[2].strip() or None,
            message_id=mid,
            source="mailbox",
            at=at,
        )


def _feedback(msg: Message, at: datetime | None) -> Iterator[Bounce]:
    """A feedback report (ARF): the complaining recipient is its Original-Rcpt-To, else the
    original e-mail's To."""
    report = _part(msg, "message/feedback-report")
    if report is None:
        return
    info = (_children(report) or [report])[0]
    rcpt = str(info.get("Original-Rcpt-To") or "")
    if not rcpt:
        original = _original(msg)
        rcpt = str(original.get("To") or "") if original is not None else ""
    yield Bounce(
        email=rcpt.strip().strip("<>"),
        kind="complaint",
        status=str(info.get("Feedback-Type") or "abuse"),
        reason="complaint",
        message_id=_original_id(msg),
        source="mailbox",
        at=at,
    )


def parse_message(msg: Message) -> list[Bounce]:
    """The bounces of one e-mail of a bounce mailbox (none when it is not a report)."""
    try:
        at = parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
        at = at.astimezone(UTC).replace(tzinfo=None) if at and at.tzinfo else at
    except (TypeError, ValueError):
        at = None
    return [*_dsn(msg, at), *_feedback(msg, at)]


def parse_mailbox(path: Path) -> list[Bounce]:
    """The bounces of an mbox file, or of one ``.eml`` message."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"Bounce file {str(path)!r} does not exist.", hint="Check the path.")
    raw = path.read_bytes()
    if raw.startswith(b"From "):
        box = mailbox.mbox(str(path), factory=None, create=False)
        messages: Iterable[Message] = [
            message_from_bytes(m.as_bytes(), policy=policy.compat32) for m in box
        ]
    else:
        messages = [message_from_bytes(raw, policy=policy.compat32)]
    return [b for m in messages for b in parse_message(m)]


def parse_file(path: Path) -> list[Bounce]:
    """A JSON webhook payload (``.json``) or a mailbox file (anything else)."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(
            f"Bounce file {str(path)!r} does not exist.",
            hint="Give the path of the provider's webhook body as saved, or of a mailbox file.",
        )
    if path.suffix.lower() == ".json":
        try:
            return parse_payload(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IngestError(
                f"Bounce file {str(path)!r} is not readable JSON: {exc}.",
                hint="Give the provider's webhook body as saved, or a mailbox file.",
            ) from None
    return parse_mailbox(path)


def record_bounces(store: Store, bounces: Iterable[Bounce], now: datetime) -> BounceResult:
    """Keep each bounce in ``bounces`` (a report already kept is not added again) and
    suppress, for e-mail, every address that bounced hard or complained (reason ``hard
    bounce: STATUS REASON`` or ``complaint``) unless it is suppressed already. A report
    without an address or with an unknown kind is skipped and counted."""
    at_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    rows: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    skipped = 0
    for b in bounces:
        email = normalize_email(b.email) if b.email else None
        if not email or b.kind not in KINDS:
            skipped += 1
            continue
        at = b.at or at_now
        rows[(email, b.kind, at)] = {
            "email": email, "kind": b.kind, "status": b.status, "reason": b.reason,
            "message_id": b.message_id, "source": b.source, "at": at, "imported_at": at_now,
        }  # fmt: skip
    kept = store.table("bounces")
    emails = sorted({k[0] for k in rows}) or [""]
    seen = kept.filter(kept.email.isin(emails)).select("email", "kind", "at").to_pyarrow()
    old = {(r["email"], r["kind"], r["at"]) for r in seen.to_pylist()}
    fresh = [r for k, r in rows.items() if k not in old]
    if fresh:
        store.insert("bounces", pa.Table.from_pylist(fresh))
    suppressed, already = _suppress(store, list(rows.values()), at_now)
    counts = {k: sum(1 for r in rows.values() if r["kind"] == k) for k in KINDS}
    return BounceResult(
        counts["hard"], counts["soft"], counts["complaint"], suppressed, already, skipped
    )


def _suppress(store: Store, rows: list[dict[str, Any]], now: datetime) -> tuple[int, int]:
    bad: dict[str, str] = {}
    for r in rows:
        if r["kind"] == "soft" or r["email"] in bad:
            continue
        detail = " ".join(str(x) for x in (r["status"], r["reason"]) if x)
        bad[r["email"]] = "complaint" if r["kind"] == "complaint" else f"hard bounce: {detail}"
    if not bad:
        return 0, 0
    s = store.table("suppressions")
    held = s.filter(s.identifier.isin(sorted(bad)) & s.channel.isin(["email", "all"]))
    already = {str(v) for v in held.identifier.to_pyarrow().to_pylist()}
    new = [
        {"identifier": e, "identifier_kind": "email", "channel": "email",
         "reason": reason.strip(), "source": "bounce", "at": now}
        for e, reason in sorted(bad.items()) if e not in already
    ]  # fmt: skip
    if new:
        store.insert("suppressions", pa.Table.from_pylist(new))
    return len(new), len(already)


def bounced_messages(store: Store, domain: str) -> ir.Table:
    """``message_key, flow, step, person_id, kind, at``: the messages a bounce or complaint
    names by its Message-ID (``tenure.deliver.render.message_id`` of the key, with the
    ``email_from`` domain ``domain``), for the measurement's bounced count per flow and step.
    A report without a Message-ID (most SendGrid events) is not attributed."""
    m, b = store.table("messages"), store.table("bounces")
    ids = m.select(
        "message_key",
        "flow",
        "step",
        "person_id",
        mid=ibis.literal("<")
        + m.message_key.hexdigest("sha256").substr(0, 32)
        + ibis.literal(f"@{domain}>"),
    )
    j = ids.inner_join(b, ids.mid == b.message_id.strip())
    return j.select("message_key", "flow", "step", "person_id", "kind", "at")

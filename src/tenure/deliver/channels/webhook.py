"""The webhook channel: each message POSTed as JSON to ``webhook_url``, signed.

Headers: ``Idempotency-Key`` (the message key: the same on a resend, so the receiver can drop
it) and ``Tenure-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256(``webhook_secret``, ``"<t>.<body>"``) over the exact bytes of the body (the
scheme of Stripe's webhooks). A receiver checks it with :func:`verify_signature`.

Answers: 2xx accepted; 408, 429 and 5xx, timeouts and connection errors are transient
(``DeliveryRetryError``, retried); any other status is terminal (``DeliveryError``).
:func:`post_json` is shared with the SMS channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from tenure.deliver.channel import Outgoing, Receipt
from tenure.errors import DeliveryError, DeliveryRetryError

SIGNATURE_HEADER = "Tenure-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Statuses retried besides 5xx.
RETRIED = frozenset({408, 429})
#: A signature older (or newer) than this many seconds is refused by default.
TOLERANCE = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: datetime | float, tolerance: float = TOLERANCE
) -> bool:
    """Whether ``header`` (a ``Tenure-Signature`` value) signs ``body`` with ``secret``, at
    most ``tolerance`` seconds from ``now`` (a datetime or unix seconds): what a receiver
    calls before trusting a request. Any ``v1`` of the header may match (during a change of
    secret the sender may list several)."""
    parts = [p.partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not signatures or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    clock = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(clock - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).partition(",v1=")[2]
    return any(hmac.compare_digest(expected, s) for s in signatures)


def http_client(timeout: float, connections: int = 16) -> httpx.Client:
    """A pooled client (keep-alive) with ``timeout`` on connect, read, write and pool."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    )


def post_json(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    what: str,
) -> Receipt:
    """POST ``body`` (JSON bytes); the receipt of a 2xx, else the classified error."""
    try:
        answer = client.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}
        )
    except httpx.TimeoutException as exc:
        raise DeliveryRetryError(f"{what}: {url} did not answer in time ({exc}).") from None
    except httpx.HTTPError as exc:  # connection refused, reset, DNS
        raise DeliveryRetryError(f"{what}: cannot reach {url}: {exc}.") from None
    status = answer.status_code
    if 200 <= status < 300:
        return Receipt(provider_id=_provider_id(answer), detail=f"HTTP {status}")
    detail = f"{what}: {url} answered HTTP {status} {answer.reason_phrase}: {answer.text[:200]}"
    if status in RETRIED or status >= 500:
        after = answer.headers.get("Retry-After")
        raise DeliveryRetryError(detail + (f" (Retry-After: {after})" if after else ""))
    raise DeliveryError(detail, hint="The receiver refused the request; retrying will not help.")


def _provider_id(answer: httpx.Response) -> str | None:
    try:
        found = answer.json()
    except ValueError:
        return None
    if isinstance(found, dict):
        value = found.get("id") or found.get("message_id") or found.get("sid")
        return None if value is None else str(value)
    return None


def webhook_body(message: Outgoing) -> dict[str, Any]:
    """The JSON a webhook receives for ``message``."""
    return {
        "id": message.message_key,
        "message_id": message.message_id,
        "flow": message.flow,
        "step": message.step,
        "person_id": message.person_id,
        "channel": message.channel,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "data": dict(message.body),
    }


class WebhookChannel:
    """POSTs each message, signed, to ``url`` (thread-safe: one pooled httpx client)."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0, connections: int = 16):
        self.url = url
        self.secret = secret
        self.client = http_client(timeout, connections)

    def send(self, message: Outgoing) -> Receipt:
        body = json.dumps(webhook_body(message), sort_keys=True, default=str).encode()
        headers = {
            IDEMPOTENCY_HEADER: message.message_key,
            SIGNATURE_HEADER: sign(self.secret, body, int(time.time())),
        }
        return post_json(
            self.client, self.url, body, headers, what=f"Webhook {message.message_key}"
        )

    def close(self) -> None:
        self.client.close()

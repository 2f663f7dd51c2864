"""The contract between the dispatcher, the renderer and the channels.

The dispatcher claims ``messages`` rows, asks a :class:`Renderer` to turn each into an
:class:`Outgoing` (address, subject, parts, headers, body), hands it to the :class:`Channel`
named by the row's ``channel`` and records the :class:`Receipt`, or the error: a
:class:`tenure.errors.DeliveryRetryError` is retried with backoff, a
:class:`tenure.errors.DeliveryError` is final and recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenure.errors import DeliveryError


@dataclass(frozen=True)
class Outgoing:
    """One rendered message, ready for its channel.

    ``message_key`` is the idempotency key (the ``messages`` row's key): it goes with the
    message (the ``Idempotency-Key`` header of a webhook, part of the e-mail's Message-ID) so
    a receiver can drop a resend. ``to`` is the address the channel needs: an e-mail address,
    an E.164 phone number, the person id (on-site) or a URL (webhook)."""

    message_key: str
    flow: str
    step: str
    person_id: str
    channel: str
    to: str
    message_id: str
    subject: str = ""
    text: str = ""
    html: str = ""
    #: extra headers (e-mail: List-Unsubscribe, List-Unsubscribe-Post; webhook: its own)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: the JSON body of a webhook, SMS or on-site message (and the payload's fields)
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """What the channel's provider answered when it accepted a message."""

    #: the provider's id of the message, when it gives one
    provider_id: str | None = None
    #: a short human-readable note ("250 OK queued as 1234", "HTTP 202")
    detail: str = ""


class Channel(Protocol):
    """Sends one kind of message. ``send`` returns a receipt when the provider accepted the
    message; it raises ``DeliveryRetryError`` (transient) or ``DeliveryError`` (terminal).

    A channel must be thread-safe: the dispatcher calls ``send`` from several threads at
    once (``delivery_concurrency``), for the messages of one batch; ``close`` is called once,
    after the last ``send``."""

    name: str

    def send(self, message: Outgoing) -> Receipt: ...

    def close(self) -> None: ...


class Renderer(Protocol):
    """Turns claimed ``messages`` rows (dicts with the table's columns) into messages, one
    result per row in the same order: an ``Outgoing``, or the ``DeliveryError`` that says why
    the row cannot become one (no address, a template that fails)."""

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Outgoing | DeliveryError]: ...

"""One-click unsubscribe (docs/delivery.md, "Unsubscribe, bounces and complaints").

A token names a person, a channel, the flow that sent the message and an expiry, and is
signed with ``unsubscribe_secret``: ``base64url(json) + "." + base64url(hmac_sha256)``. The
renderer puts ``<public_url>/unsubscribe?token=...`` (and ``mailto:`` when configured) in
``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058);
:func:`unsubscribe` is what the service's endpoint calls: it checks the token and records the
withdrawal in ``consents`` and a ``suppressions`` row for the channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pyarrow as pa

from tenure.config import Settings
from tenure.deliver.signing import TokenSignatureError, seal, unseal
from tenure.errors import ConfigError, TerminalError
from tenure.store import Store

#: The identity kind a channel's consent and suppression are recorded on.
CONSENT_KINDS: Mapping[str, str] = {"email": "email", "sms": "phone"}
#: The value of List-Unsubscribe-Post (RFC 8058, section 3.1).
ONE_CLICK = "List-Unsubscribe=One-Click"


class UnsubscribeError(TerminalError):
    """An unsubscribe token is malformed, tampered with, signed with another secret or
    expired."""


@dataclass(frozen=True)
class Token:
    """What an unsubscribe token says: who, on which channel, from which flow, until when."""

    person_id: str
    channel: str
    flow: str
    expires: datetime


@dataclass(frozen=True)
class Unsubscribed:
    """The outcome of :func:`unsubscribe`: the identifiers withdrawn (consent and
    suppression rows written) and those that were already suppressed."""

    person_id: str
    channel: str
    flow: str
    identifiers: tuple[str, ...]
    already: tuple[str, ...]


def _epoch(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp())


def make_token(secret: str, token: Token) -> str:
    """The signed text of ``token`` (URL-safe: letters, digits, ``-``, ``_`` and one ``.``)."""
    fields = {"p": token.person_id, "c": token.channel, "f": token.flow}
    fields["e"] = str(_epoch(token.expires))
    return seal(secret, fields)


def read_token(secret: str, text: str, now: datetime) -> Token:
    """The token ``text`` says, once its signature is checked and it has not expired at
    ``now``; an :class:`UnsubscribeError` otherwise."""
    hint = "Ask for a new link: the one in a recent message from the shop."
    try:
        fields = unseal(secret, text)
        token = Token(
            person_id=str(fields["p"]),
            channel=str(fields["c"]),
            flow=str(fields["f"]),
            expires=datetime.fromtimestamp(int(fields["e"]), UTC).replace(tzinfo=None),
        )
    except TokenSignatureError as exc:
        if exc.unsigned:
            raise UnsubscribeError(
                "The unsubscribe token is malformed (no signature).", hint=hint
            ) from None
        raise UnsubscribeError(
            "The unsubscribe token's signature does not match: the link was altered or "
            "signed with another unsubscribe_secret.",
            hint=hint,
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsubscribeError(f"The unsubscribe token is malformed ({exc}).", hint=hint) from None
    if _epoch(now) > _epoch(token.expires):
        raise UnsubscribeError(
            f"The unsubscribe token expired on {token.expires:%Y-%m-%d %H:%M} UTC.", hint=hint
        )
    return token


def secret_of(settings: Settings) -> str:
    """``unsubscribe_secret``, or a ConfigError naming it."""
    if not settings.unsubscribe_secret:
        raise ConfigError(
            "unsubscribe_secret is not set: unsubscribe links cannot be signed or checked.",
            hint="Set TENURE_UNSUBSCRIBE_SECRET (or unsubscribe_secret in tenure.toml) to a "
            "long random string.",
        )
    return settings.unsubscribe_secret


def unsubscribe_url(settings: Settings, token: str) -> str:
    """``<public_url>/unsubscribe?token=...`` (``public_url`` must be set)."""
    if not settings.public_url:
        raise ConfigError(
            "public_url is not set: unsubscribe links need the service's public address.",
            hint="Set TENURE_PUBLIC_URL (e.g. https://crm.shop.example).",
        )
    return f"{settings.public_url.rstrip('/')}/unsubscribe?{urlencode({'token': token})}"


def list_unsubscribe(settings: Settings, token: str) -> dict[str, str]:
    """The List-Unsubscribe (the https link, then ``mailto:`` when configured) and
    List-Unsubscribe-Post headers of a message (RFC 2369, RFC 8058)."""
    links = [f"<{unsubscribe_url(settings, token)}>"]
    if settings.unsubscribe_mailto:
        subject = quote(f"unsubscribe {token}")
        links.append(f"<mailto:{settings.unsubscribe_mailto}?subject={subject}>")
    return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": ONE_CLICK}


def unsubscribe(store: Store, token: str, now: datetime) -> Unsubscribed:
    """Withdraw the consent the token names: for each of the person's identifiers of the
    channel's kind (their e-mails for ``email``, their phones for ``sms``), an
    ``unsubscribed`` consents row and a ``suppressions`` row (reason ``unsubscribed``)
    unless one is there already. A bad or expired token is refused (UnsubscribeError)."""
    read = read_token(secret_of(store.settings), token, now)
    kind = CONSENT_KINDS.get(read.channel)
    if kind is None:
        raise UnsubscribeError(
            f"The unsubscribe token names channel {read.channel!r}, which has no consent to "
            f"withdraw (only {', '.join(CONSENT_KINDS)} do)."
        )
    ids = store.table("identities")
    mine = ids.filter((ids.person_id == read.person_id) & (ids.kind == kind))
    values = sorted({str(v) for v in mine.value.to_pyarrow().to_pylist() if v is not None})
    sup = store.table("suppressions")
    held = sup.filter(sup.identifier.isin(values or [""]) & (sup.channel == read.channel))
    already = sorted({str(v) for v in held.identifier.to_pyarrow().to_pylist()})
    fresh = [v for v in values if v not in already]
    at = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    source = f"unsubscribe link ({read.flow})"
    common = {"identifier_kind": kind, "channel": read.channel, "source": source, "at": at}
    if values:
        rows = [{"identifier": v, "status": "unsubscribed", **common} for v in values]
        store.insert("consents", pa.Table.from_pylist(rows))
    if fresh:
        rows = [{"identifier": v, "reason": "unsubscribed", **common} for v in fresh]
        store.insert("suppressions", pa.Table.from_pylist(rows))
    return Unsubscribed(read.person_id, read.channel, read.flow, tuple(values), tuple(already))


def token_for(settings: Settings, person_id: str, channel: str, flow: str, now: datetime) -> str:
    """The token of a message sent at ``now``: valid ``unsubscribe_days`` from then."""
    expires = now + timedelta(days=settings.unsubscribe_days)
    return make_token(secret_of(settings), Token(person_id, channel, flow, expires))

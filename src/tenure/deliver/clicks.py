"""Tracked links (docs/service.md, "Public routes"): a message's link goes through the service's
``GET /c/<token>``, which records the click in ``link_clicks`` and redirects to the target.

A click token names the message (its ``message_key``) and the target URL, and is signed with
``unsubscribe_secret`` (HMAC-SHA256 over a ``click.``-prefixed body, so a click token is never
an unsubscribe token nor the reverse): ``base64url(json) + "." + base64url(hmac)``. The token
does not expire: a link in an old e-mail still leads to its page. Only ``http`` and ``https``
targets are signed, so the redirect can never be turned into a ``javascript:`` link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyarrow as pa

from tenure.config import Settings
from tenure.deliver.signing import TokenSignatureError, seal, unseal
from tenure.deliver.unsubscribe import secret_of
from tenure.errors import ConfigError, TerminalError
from tenure.store import Store

#: The table clicks are recorded in (migration 15).
CLICKS = "link_clicks"
#: The schemes a tracked link may lead to.
SCHEMES = ("http", "https")
#: What the signature covers before the body: a click token is no other kind of token.
DOMAIN = b"click."


class ClickTokenError(TerminalError):
    """A click token is malformed, tampered with or signed with another secret."""


@dataclass(frozen=True)
class Click:
    """A recorded click: the message, its person, flow and step, the target and when."""

    message_key: str
    person_id: str | None
    flow: str | None
    step: str | None
    url: str
    clicked_at: datetime


def check_target(url: str) -> str:
    """``url`` when it is an absolute http(s) URL; a ConfigError naming it otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.netloc:
        raise ConfigError(
            f"A tracked link must be an absolute http(s) URL, got {url!r}.",
            hint="Write the link as https://shop.example/...",
        )
    return url


def make_click_token(secret: str, message_key: str, url: str) -> str:
    """The signed token of a click on ``url`` in message ``message_key`` (URL-safe)."""
    return seal(secret, {"m": message_key, "u": check_target(url)}, domain=DOMAIN)


def read_click_token(secret: str, text: str) -> tuple[str, str]:
    """The ``(message_key, url)`` a click token names, once its signature is checked; a
    :class:`ClickTokenError` otherwise."""
    hint = "Open the link from the message again, or go to the shop's site directly."
    try:
        fields = unseal(secret, text, domain=DOMAIN)
        key, url = str(fields["m"]), check_target(str(fields["u"]))
    except TokenSignatureError as exc:
        if exc.unsigned:
            raise ClickTokenError(
                "The link's token is malformed (no signature).", hint=hint
            ) from None
        raise ClickTokenError(
            "The link's token signature does not match: the link was altered or signed with "
            "another unsubscribe_secret.",
            hint=hint,
        ) from None
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise ClickTokenError(f"The link's token is malformed ({exc}).", hint=hint) from None
    return key, url


def click_url(settings: Settings, message_key: str, url: str) -> str:
    """``<public_url>/c/<token>``: the tracked form of ``url`` in message ``message_key``."""
    if not settings.public_url:
        raise ConfigError(
            "public_url is not set: tracked links need the service's public address.",
            hint="Set TENURE_PUBLIC_URL (e.g. https://crm.shop.example).",
        )
    token = make_click_token(secret_of(settings), message_key, url)
    return f"{settings.public_url.rstrip('/')}/c/{token}"


def record_click(store: Store, token: str, now: datetime) -> Click:
    """Check ``token`` and record the click at ``now`` in ``link_clicks`` with the message's
    person, flow and step (null when the message is not in ``messages``); the click, whose
    ``url`` is where to redirect. A bad token raises :class:`ClickTokenError`."""
    key, url = read_click_token(secret_of(store.settings), token)
    t = store.table("messages")
    rows = t.filter(t.message_key == key).select("person_id", "flow", "step").limit(1)
    found = rows.to_pyarrow().to_pylist()
    about = found[0] if found else {"person_id": None, "flow": None, "step": None}
    at = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    click = Click(key, about["person_id"], about["flow"], about["step"], url, at)
    store.insert(CLICKS, pa.Table.from_pylist([asdict(click)]))
    return click

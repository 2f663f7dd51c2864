"""Signed tokens of the links in messages (unsubscribe, tracked clicks).

A token is ``base64url(json) + "." + base64url(hmac_sha256(secret, domain + body))``: URL-safe
(letters, digits, ``-``, ``_`` and one ``.``). ``domain`` separates the kinds of token, so a
token of one kind never passes as another. What the fields mean, and the errors a user sees,
belong to the module of each kind (:mod:`tenure.deliver.unsubscribe`,
:mod:`tenure.deliver.clicks`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


class TokenSignatureError(ValueError):
    """The token has no signature, or one that the secret did not make."""

    def __init__(self, unsigned: bool) -> None:
        super().__init__("no signature" if unsigned else "signature mismatch")
        #: True when the token has no signature part at all (malformed, not tampered).
        self.unsigned = unsigned


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(secret: str, body: str, domain: bytes) -> str:
    return _b64(hmac.new(secret.encode(), domain + body.encode("ascii"), hashlib.sha256).digest())


def seal(secret: str, fields: dict[str, str], *, domain: bytes = b"") -> str:
    """The signed token of ``fields``."""
    body = _b64(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())
    return f"{body}.{_signature(secret, body, domain)}"


def unseal(secret: str, text: str, *, domain: bytes = b"") -> Any:
    """The fields a token carries, once its signature is checked: a
    :class:`TokenSignatureError` when it is unsigned or forged, a ``ValueError`` (or
    ``binascii.Error``) when its body does not decode."""
    body, dot, signature = text.strip().partition(".")
    if not dot or not body or not signature:
        raise TokenSignatureError(unsigned=True)
    if not hmac.compare_digest(signature.encode(), _signature(secret, body, domain).encode()):
        raise TokenSignatureError(unsigned=False)
    try:
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None

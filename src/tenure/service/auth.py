"""Write keys and admin tokens (settings ``write_keys`` and ``admin_tokens``).

A write key can only write (the collector); an admin token reads and acts (the admin API).
A write key comes as Segment's SDKs send it, HTTP basic auth with the key as the user (with
or without the colon and an empty password), or as ``writeKey`` in the JSON body. An admin
token comes as ``Authorization: Bearer <token>``. Keys are compared in constant time and
never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable

from tenure.service.errors import ServiceError

BEARER = "bearer "
BASIC = "basic "


def _known(value: str, keys: Iterable[str]) -> bool:
    found = False
    for key in keys:  # no early exit: the time does not tell which key nearly matched
        found |= hmac.compare_digest(value.encode(), key.encode())
    return found


def is_admin_token(token: str, tokens: Iterable[str]) -> bool:
    """Whether ``token`` is one of the admin ``tokens`` (constant time)."""
    return bool(token) and _known(token, tokens)


def basic_user(header: str | None) -> str | None:
    """The user of an HTTP basic ``Authorization`` header (the write key), else None."""
    if not header or not header.lower().startswith(BASIC):
        return None
    try:
        decoded = base64.b64decode(header[len(BASIC) :].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def check_write_key(header: str | None, body_key: object, keys: list[str]) -> str:
    """The write key of a collector request, or a 401 :class:`ServiceError`."""
    key = basic_user(header)
    if key is None and isinstance(body_key, str) and body_key:
        key = body_key
    if key is None:
        raise ServiceError(
            401,
            "No write key: send it as the HTTP basic auth user or as `writeKey` in the body.",
            headers={"WWW-Authenticate": 'Basic realm="tenure"'},
        )
    if not _known(key, keys):
        raise ServiceError(
            401,
            "The write key is not one of this store's write keys.",
            hint="Check the key the SDK is configured with against the `write_keys` setting.",
            headers={"WWW-Authenticate": 'Basic realm="tenure"'},
        )
    return key


def check_admin_token(header: str | None, tokens: list[str], write_keys: list[str]) -> None:
    """Pass for an admin token; 401 without one, 403 for a write key or a wrong token."""
    if not header:
        raise ServiceError(
            401,
            "This route needs an admin token: `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": 'Bearer realm="tenure"'},
        )
    token = header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else None
    if token is None:
        if basic_user(header) is not None:
            raise ServiceError(403, "A write key can only write; this route needs an admin token.")
        raise ServiceError(401, "The Authorization header is not `Bearer <token>`.")
    if _known(token, tokens):
        return
    if _known(token, write_keys):
        raise ServiceError(403, "A write key can only write; this route needs an admin token.")
    raise ServiceError(403, "The admin token is not one of this store's `admin_tokens`.")

"""The dashboard's login: an admin token (setting ``admin_tokens``) or a user with a hashed
password (setting ``dashboard_users``) entered in the login form gives a signed session
cookie (HttpOnly, SameSite=Strict, ``Secure`` over https); every page asks for it, every
POST action for the session's CSRF token.

A session is a token of :mod:`tenure.deliver.signing` (domain ``dash-session``) carrying the
user, the CSRF token and the expiry; the secret is the ``dashboard_secret`` setting, else one
drawn when the service starts. A JSON twin or CSV download may instead be fetched with the
admin API's ``Authorization: Bearer <admin token>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from tenure.deliver.signing import TokenSignatureError, seal, unseal
from tenure.service.auth import BEARER, is_admin_token
from tenure.service.errors import ServiceError
from tenure.service.state import ServiceState

#: The session cookie, and the cookie of the login form's CSRF token.
SESSION_COOKIE = "tenure_dash"
LOGIN_COOKIE = "tenure_dash_login"
#: The signing domain of session tokens (never valid as another kind of token).
DOMAIN = b"dash-session"
#: The user name of a login with an admin token.
TOKEN_USER = "admin"
#: Where the secret drawn at start is kept (``ServiceState.parts``).
SECRET_PART = "dashboard_secret"
#: scrypt's cost parameters for new hashes (OWASP's minimum: n=2**17 is the 2023 advice;
#: 2**14 keeps a login near 50 ms on a small machine).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Session:
    """A logged-in reader: the user and the CSRF token of their forms."""

    user: str
    csrf: str


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The ``dashboard_users`` value of ``password``: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` (a :func:`hash_password` value) hashes; a
    value of another form never matches."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**27
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


#: Checked against when the user is unknown, so the time does not tell who exists.
_DECOY = hash_password("decoy", salt=b"0" * 16)


def secret_of(state: ServiceState) -> str:
    """The session secret: the setting, else one drawn for this process."""
    if state.settings.dashboard_secret:
        return state.settings.dashboard_secret
    with state.lock:
        drawn: str = state.parts.setdefault(SECRET_PART, secrets.token_urlsafe(32))
    return drawn


def check_login(state: ServiceState, user: str, password: str) -> str | None:
    """The session user of a login form's fields, or None: an empty user with an admin token,
    or a ``dashboard_users`` name with its password."""
    settings = state.settings
    if not user:
        return TOKEN_USER if password and is_admin_token(password, settings.admin_tokens) else None
    stored = settings.dashboard_users.get(user)
    ok = verify_password(password, stored if stored is not None else _DECOY)
    return user if ok and stored is not None else None


def can_log_in(state: ServiceState) -> bool:
    """Whether anyone can log in at all (a token or a user is configured)."""
    return bool(state.settings.admin_tokens or state.settings.dashboard_users)


def start_session(state: ServiceState, request: Request, response: Response, user: str) -> None:
    """Set the session cookie of ``user`` on ``response``."""
    hours = state.settings.dashboard_session_hours
    fields = {"u": user, "c": secrets.token_urlsafe(24), "e": str(int(time.time() + hours * 3600))}
    response.set_cookie(
        SESSION_COOKIE,
        seal(secret_of(state), fields, domain=DOMAIN),
        max_age=int(hours * 3600),
        path="/dash",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/dash", httponly=True, samesite="strict")


def session_of(state: ServiceState, request: Request) -> Session | None:
    """The request's session (its cookie, or an admin token as ``Authorization: Bearer``),
    or None."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith(BEARER):
        token = header[len(BEARER) :].strip()
        return (
            Session(TOKEN_USER, "") if is_admin_token(token, state.settings.admin_tokens) else None
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        fields = unseal(secret_of(state), cookie, domain=DOMAIN)
    except (TokenSignatureError, ValueError):
        return None
    if not isinstance(fields, dict) or float(fields.get("e", 0)) < time.time():
        return None
    return Session(str(fields.get("u", "")), str(fields.get("c", "")))


def check_csrf(session: Session, sent: str | None) -> None:
    """Pass when ``sent`` is the session's CSRF token; a 403 otherwise (a token login by
    header has none: its requests carry no cookie a third site could ride on)."""
    if not session.csrf:
        return
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise ServiceError(
            403,
            "The form's CSRF token is missing or wrong.",
            hint="Reload the page and submit the form again.",
        )


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's CSRF token (the cookie's, or a new one) and whether it is new."""
    current = request.cookies.get(LOGIN_COOKIE)
    return (current, False) if current else (secrets.token_urlsafe(24), True)


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/dash",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def check_login_csrf(request: Request, sent: str | None) -> None:
    """Pass when the login form sent the token of its cookie (double submit); 403 else."""
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise ServiceError(
            403,
            "The login form's CSRF token is missing or wrong.",
            hint="Open the login page again and submit the form from there.",
        )

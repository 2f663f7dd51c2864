"""One error body for every error the service answers (Datasette's rule: one shape, tested).

Every non-2xx answer is JSON::

    {"ok": false, "error": {"status": 400, "code": "invalid", "message": "...",
                            "hint": "..." or null, "field": "..." or null}}

``code`` is a stable word a client can branch on (:data:`CODES`); ``message`` and ``hint``
are for people. An unexpected exception is answered 500 ``internal`` with a message that
names no internals (no traceback, no value of the request): the log has the details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tenure.errors import (
    ConfigError,
    NotFoundError,
    StoreLockedError,
    StoreReadOnlyError,
    TenureError,
)

LOG = logging.getLogger("tenure.service")

#: The ``code`` of each status the service answers.
CODES: dict[int, str] = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "overloaded",
    500: "internal",
    503: "unavailable",
}


class ServiceError(Exception):
    """An answer other than 2xx, raised by a route: status, message, hint, field, headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        hint: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.field = field
        self.headers = headers or {}


def error_body(
    status: int, message: str, *, hint: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The one error body."""
    return {
        "ok": False,
        "error": {
            "status": status,
            "code": CODES.get(status, "error"),
            "message": message,
            "hint": hint,
            "field": field,
        },
    }


def error_response(
    status: int,
    message: str,
    *,
    hint: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, hint=hint, field=field), status_code=status, headers=headers
    )


def status_of(exc: TenureError) -> int:
    """The HTTP status of a Tenure error: a bad value 400, nothing found 404, a store busy
    503 (transient: retry), a read-only store 409, any other terminal error 400."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StoreLockedError) or exc.transient:
        return 503
    if isinstance(exc, StoreReadOnlyError):
        return 409
    if isinstance(exc, ConfigError):
        return 400
    return 400


def _field_of(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with the one body."""

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(
            exc.status, exc.message, hint=exc.hint, field=exc.field, headers=exc.headers
        )

    @app.exception_handler(TenureError)
    async def _tenure(_: Request, exc: TenureError) -> JSONResponse:
        return error_response(status_of(exc), exc.message, hint=exc.hint)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "The request was refused."
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field_of(first.get("loc", ()))
        return error_response(400, f"{field}: {first.get('msg', 'invalid')}.", field=field)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # the route's template, never its path or the exception's text: both may carry an
        # e-mail or a phone; the details go to DEBUG only
        route = getattr(request.scope.get("route"), "path", "an unknown route")
        LOG.error("internal error on %s %s: %s", request.method, route, type(exc).__name__)
        LOG.debug("internal error on %s %s", request.method, route, exc_info=exc)
        return error_response(
            500,
            "Internal error: the request could not be completed.",
            hint="The server's log has the details; please report it.",
        )

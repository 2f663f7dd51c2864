"""The public routes (no admin token): the one-click unsubscribe (RFC 8058), the tracked
links' redirect, and the on-site messages the site's snippet reads (with a write key).

* ``POST /unsubscribe?token=...`` with the body ``List-Unsubscribe=One-Click``: the mail
  client's one-click unsubscribe (also the landing page's button); 200, JSON.
* ``GET /unsubscribe?token=...``: an HTML page with a button that POSTs (a GET never
  unsubscribes: link scanners open links).
* ``GET /c/<token>``: records the click (``link_clicks``) and redirects (302) to the target.
* ``GET /v1/onsite?anonymousId=...`` or ``?userId=...``: the person's on-site messages.

A bad or expired token is a 400: the one error body for a client that asks for JSON, a page
saying what to do for a browser.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tenure.deliver.channels.onsite import onsite_messages
from tenure.deliver.clicks import ClickTokenError, record_click
from tenure.deliver.unsubscribe import (
    ONE_CLICK,
    UnsubscribeError,
    read_token,
    secret_of,
    unsubscribe,
)
from tenure.identity.lookup import person_of
from tenure.service.auth import check_write_key
from tenure.service.errors import ServiceError, error_response
from tenure.service.pages import plain, state_of

router = APIRouter(tags=["public"])

Token = Annotated[str, Query(min_length=1, description="The signed token of the link.")]


class UnsubscribeAnswer(BaseModel):
    """The outcome of an unsubscribe: the identifiers withdrawn and those already out."""

    ok: bool = Field(True, description="Always true on success.")
    channel: str = Field(description="The channel unsubscribed from (email, sms).")
    flow: str = Field(description="The flow whose message carried the link.")
    unsubscribed: int = Field(description="Identifiers whose consent was withdrawn.")
    already: int = Field(description="Of those, already suppressed before.")


class OnsiteAnswer(BaseModel):
    """The on-site messages of the person an anonymous id or user id names."""

    person_id: str | None = Field(description="The person, null when nobody holds the id.")
    messages: list[dict[str, Any]] = Field(description="Their on-site messages, newest first.")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto;">
<h1>{title}</h1>
{body}
</body></html>
"""


def html_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A minimal page (``title`` and ``body`` are escaped by the callers)."""
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _refused(request: Request, exc: Exception, hint: str | None) -> Response:
    """A bad token's 400: the error body for JSON clients, a page for browsers."""
    message = str(getattr(exc, "message", exc))
    if "text/html" in request.headers.get("accept", ""):
        text = html.escape(message) + (f" {html.escape(hint)}" if hint else "")
        return html_page("This link does not work", f"<p>{text}</p>", status=400)
    return error_response(400, message, hint=hint, field="token")


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: Token) -> Response:
    """The landing page of an unsubscribe link: a button that confirms (a POST); nothing is
    changed by opening the link."""
    settings = state_of(request).settings
    try:
        read = read_token(secret_of(settings), token, _now())
    except UnsubscribeError as exc:
        return _refused(request, exc, exc.hint)
    action = html.escape(str(request.url.include_query_params(token=token)), quote=True)
    body = (
        f"<p>Stop receiving these messages ({html.escape(read.channel)})?</p>"
        f'<form method="post" action="{action}">'
        f'<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">Unsubscribe</button></form>'
    )
    return html_page("Unsubscribe", body)


#: The one-click field of a multipart/form-data body (RFC 8058 allows either encoding).
MULTIPART_ONE_CLICK = re.compile(
    r'name="?List-Unsubscribe"?\r?\n(?:[^\r\n]+\r?\n)*\r?\nOne-Click\r?\n', re.IGNORECASE
)


def one_click(body: str) -> bool:
    """Whether a POST body says ``List-Unsubscribe=One-Click``: form-encoded (as mail clients
    send it) or as a multipart/form-data field."""
    fields = parse_qs(body, keep_blank_values=True)
    if fields.get("List-Unsubscribe") == ["One-Click"]:
        return True
    return MULTIPART_ONE_CLICK.search(body) is not None


@router.post("/unsubscribe", response_model=UnsubscribeAnswer)
async def unsubscribe_post(request: Request, token: Token) -> Response:
    """The one-click unsubscribe (RFC 8058): the body ``List-Unsubscribe=One-Click``
    (form-encoded) withdraws the consent the token names; 200 once recorded."""
    body = (await request.body()).decode("utf-8", "replace").strip()
    if not one_click(body):
        raise ServiceError(
            400,
            f"The body must be {ONE_CLICK!r} (RFC 8058), got {body[:60]!r}.",
            hint="Send it as application/x-www-form-urlencoded, as mail clients do.",
            field="body",
        )
    return _unsubscribe(request, token)


def _unsubscribe(request: Request, token: str) -> Response:
    try:
        with state_of(request).store() as store:
            done = unsubscribe(store, token, _now())
    except UnsubscribeError as exc:
        return _refused(request, exc, exc.hint)
    answer = UnsubscribeAnswer(
        ok=True,
        channel=done.channel,
        flow=done.flow,
        unsubscribed=len(done.identifiers),
        already=len(done.already),
    )
    if "text/html" in request.headers.get("accept", ""):
        return html_page("Unsubscribed", "<p>You will not receive these messages again.</p>")
    return JSONResponse(answer.model_dump())


@router.get("/c/{token}", status_code=302, response_class=RedirectResponse)
def click(request: Request, token: str) -> Response:
    """A tracked link: record the click for the flow's measurement, then redirect (302)."""
    try:
        with state_of(request).store() as store:
            done = record_click(store, token, _now())
    except ClickTokenError as exc:
        return _refused(request, exc, exc.hint)
    return RedirectResponse(done.url, status_code=302)


@router.get("/v1/onsite", response_model=OnsiteAnswer)
def onsite(
    request: Request,
    authorization: Annotated[str | None, Header(description="Basic auth: the write key.")] = None,
    anonymous_id: Annotated[
        str | None, Query(alias="anonymousId", description="The visitor's anonymous id.")
    ] = None,
    user_id: Annotated[str | None, Query(alias="userId", description="The customer id.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Messages at most.")] = 20,
) -> OnsiteAnswer:
    """The on-site messages of the visitor (``tenure.deliver.channels.onsite``), read by the
    site's snippet with the write key; none for a visitor nobody knows."""
    state = state_of(request)
    check_write_key(authorization, None, state.settings.write_keys)
    if not anonymous_id and not user_id:
        raise ServiceError(
            400,
            "Name the visitor: `anonymousId` or `userId`.",
            hint="The snippet sends analytics.user().anonymousId() or the user id.",
            field="anonymousId",
        )
    identifier = f"customer_id:{user_id}" if user_id else f"anonymous_id:{anonymous_id}"
    with state.store() as store:
        person = person_of(store, identifier)
        rows = onsite_messages(store, person, limit=limit) if person else []
    return OnsiteAnswer(person_id=person, messages=[plain(r) for r in rows])

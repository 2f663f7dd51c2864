"""The admin API (``/api/...``) behind admin tokens, and the public routes beside it.

:data:`router` holds every admin route (:mod:`tenure.service.admin_people`,
:mod:`~tenure.service.admin_analytics`, :mod:`~tenure.service.admin_flows`), each behind
:func:`require_admin`, and the public routes of :mod:`tenure.service.public` (unsubscribe,
clicks, on-site messages), which take no admin token. docs/service.md, "The admin API", lists
them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from tenure.service import admin_analytics, admin_flows, admin_people, public
from tenure.service.auth import check_admin_token
from tenure.service.pages import state_of

#: The prefix of every admin route.
PREFIX = "/api"


def require_admin(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="`Bearer <admin token>` (setting admin_tokens).")
    ] = None,
) -> None:
    """Pass for an admin token; 401 without a token, 403 for a write key or a wrong one."""
    settings = state_of(request).settings
    check_admin_token(authorization, settings.admin_tokens, settings.write_keys)


#: The admin routes, each behind an admin token.
api = APIRouter(dependencies=[Depends(require_admin)])
api.include_router(admin_people.router)
api.include_router(admin_analytics.router)
api.include_router(admin_flows.router)

router = APIRouter()
router.include_router(api)
router.include_router(public.router)

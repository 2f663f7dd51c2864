"""``GET /tenure.js``: the first-party tracker a shop embeds (docs/service.md, "The snippet").

The file is ``static/tenure.js`` in the package: ``tenure.load(writeKey, {host})``, then
``tenure.page()``, ``tenure.track(event, properties)``, ``tenure.identify(userId, traits)``,
each sent to the collector (``/v1/page``, ``/v1/track``, ``/v1/identify``) in Segment's
format with one anonymous id per browser (first-party cookie ``tenure_aid``), and
``tenure.onsite(callback)``, which reads the visitor's on-site messages from ``/v1/onsite``
(:mod:`tenure.service.public`) with the write key as basic auth.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()

#: The snippet's media type and cache lifetime (an hour: a new release reaches shops soon).
MEDIA_TYPE = "application/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=3600"


@cache
def snippet_source() -> str:
    """The text of ``tenure.js`` (read once)."""
    return files("tenure.service").joinpath("static/tenure.js").read_text(encoding="utf-8")


@router.get("/tenure.js", tags=["ops"], response_class=Response)
def tenure_js() -> Response:
    """The JavaScript snippet."""
    return Response(
        snippet_source(), media_type=MEDIA_TYPE, headers={"Cache-Control": CACHE_CONTROL}
    )

"""``/health``, ``/metrics`` and the worker inside the server (issue 18, part 3)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tenure.service.state import VERSION

router = APIRouter()


@router.get("/health", tags=["ops"])
def health(request: Request) -> dict[str, object]:
    """Liveness: the process answers and owns its store."""
    state = request.app.state.tenure
    return {"ok": True, "version": VERSION, "store": state.owned.url}

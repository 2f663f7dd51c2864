"""The Segment-compatible collector (``/v1/*``): to be built (issue 18, part 1)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

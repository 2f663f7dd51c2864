"""The admin API behind admin tokens: to be built (issue 18, part 2)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

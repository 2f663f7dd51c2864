"""Analytics fixtures: the CDNOW store (``cdnow_url``, ``cdnow``) lives in tests/conftest.py."""

from __future__ import annotations

from tests.conftest import CDNOW_MASTER as CDNOW

__all__ = ["CDNOW"]

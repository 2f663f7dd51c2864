"""Tenure: an open-source customer lifecycle engine for online stores."""

from tenure.config import Settings, load_settings
from tenure.errors import TenureError
from tenure.store import Store

__version__ = "0.1.0"

__all__ = ["Settings", "Store", "TenureError", "__version__", "load_settings"]

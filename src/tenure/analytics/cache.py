"""Analytics through the store's result cache (:func:`tenure.store.cache.cached`): the admin
API's KPI and cohort routes, and the dashboard's pages, answer a repeated question from memory
until a table it read is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tenure.analytics.base import store_end
from tenure.store import Store, cached

T = TypeVar("T")


def cached_analytic(store: Store, function: Callable[..., T], /, **params: Any) -> T:
    """``function(store, **params)`` through the store's result cache, keyed by the function's
    name and ``params``. An ``as_of`` of None is resolved first (:func:`store_end`: the
    setting, the store's frozen clock, else today), so a result of the default as-of day is
    computed again when the day changes."""
    if "as_of" in params and params["as_of"] is None:
        params["as_of"] = store_end(store)
    name = f"{function.__module__}.{function.__qualname__}"
    return cached(store, name, params, lambda: function(store, **params))

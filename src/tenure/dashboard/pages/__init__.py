"""The page builders: one module per dashboard page, each ``build(store, settings, window)``
returning the :class:`~tenure.dashboard.model.Page` drawn as HTML, JSON, CSV and in the
report (``profile.build`` takes the person's identifier as well).

:data:`PAGES` lists them in menu order; :func:`build_page` builds one by its key.
"""

from __future__ import annotations

from collections.abc import Callable

from tenure.analytics.base import store_end
from tenure.config import Settings
from tenure.dashboard.model import Page, Window
from tenure.dashboard.pages import (
    advisor,
    channels,
    cohorts,
    customers,
    flows,
    health,
    overview,
    predictions,
)
from tenure.errors import NotFoundError
from tenure.store import Store

Builder = Callable[[Store, Settings, Window], Page]

#: Every page of the menu, in menu order (the profile is reached by a search, not the menu).
PAGES: dict[str, Builder] = {
    "overview": overview.build,
    "customers": customers.build,
    "cohorts": cohorts.build,
    "channels": channels.build,
    "predictions": predictions.build,
    "flows": flows.build,
    "advisor": advisor.build,
    "health": health.build,
}


class UnknownPageError(NotFoundError):
    """No dashboard page has the key asked for."""


def build_page(key: str, store: Store, settings: Settings, window: Window) -> Page:
    """The page ``key`` of :data:`PAGES` for ``window``."""
    builder = PAGES.get(key)
    if builder is None:
        raise UnknownPageError(
            f"No dashboard page named {key!r}.",
            hint=f"Pages: {', '.join(PAGES)}.",
        )
    return builder(store, settings, window)


def default_window(store: Store) -> Window:
    """The calendar month holding the store's as-of day, against the month before."""
    return Window.month(store_end(store))


__all__ = ["PAGES", "Builder", "UnknownPageError", "build_page", "default_window"]

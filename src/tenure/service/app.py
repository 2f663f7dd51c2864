"""The FastAPI application of ``tenure serve``: one process, one store, one error body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from tenure.config import Settings
from tenure.dashboard.draw import STATIC_DIR
from tenure.service import admin, collector, dashboard, errors, ops, snippet
from tenure.service.state import VERSION, ServiceState
from tenure.store import Store


def create_app(settings: Settings, *, store: Store | None = None, warm: bool = False) -> FastAPI:
    """The application over ``store`` (default: the one ``settings`` names, opened when the
    application starts and closed when it stops; a store given is the caller's to close).
    ``warm``: compute the admin API's default answers and, with the ``dashboard_warm``
    setting, the dashboard's pages of the default period in the background at start
    (:meth:`tenure.service.worker.ServiceWorker.warm`; ``tenure serve`` does)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store if store is not None else Store(settings.store_url, settings=settings)
        app.state.tenure = ServiceState(settings=settings, owned=owned)
        collector.start_collector(app.state.tenure)
        ops.start(app, owns_store=store is None)
        try:
            yield
        finally:
            ops.stop(app)  # the worker finishes its unit first
            collector.stop_collector(app.state.tenure)  # then every acknowledged event loads
            if store is None:
                owned.close()

    app = FastAPI(
        title="Tenure",
        version=VERSION,
        description="The collector (Segment's HTTP tracking API) and the admin API of a "
        "Tenure store.",
        lifespan=lifespan,
    )
    setattr(app.state, ops.WARM, warm)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
    )
    errors.install(app)
    app.include_router(collector.router)
    app.include_router(admin.router)
    app.include_router(ops.router)
    app.include_router(snippet.router)
    # the assets first: the dashboard's routes would take /dash/static/... for a page
    app.mount("/dash/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.include_router(dashboard.router)
    return app

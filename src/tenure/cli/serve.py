"""``tenure serve``: the collector, the admin API and the worker in one process that owns the
store (:mod:`tenure.service`)."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli.common import StoreOpt, app, say
from tenure.config import load_settings


@app.command("serve")
def serve_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: serve_host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default: serve_port).")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Serve the collector (Segment's HTTP tracking API), the admin API and the worker. The
    process owns the store until it stops (Ctrl-C or SIGTERM: in-flight requests finish and
    every acknowledged event is committed first)."""
    import uvicorn

    from tenure.service.app import create_app

    settings = load_settings(store_url=store)
    bind_host = host or settings.serve_host
    bind_port = settings.serve_port if port is None else port
    say(f"Serving {settings.store_url} on http://{bind_host}:{bind_port} (Ctrl-C stops).")
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )

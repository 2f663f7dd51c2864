"""``tenure serve``: the collector, the admin API and the worker in one process that owns the
store (:mod:`tenure.service`)."""

from __future__ import annotations

from typing import Annotated

import typer

from tenure.cli.common import StoreOpt, app, open_store, say, stop_signals
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
    process owns the store until it stops (Ctrl-C or SIGTERM: in-flight requests finish,
    the worker's current step too, and every acknowledged event is committed first); other
    `tenure` commands on the store are refused meanwhile (docs/service.md)."""
    import uvicorn

    from tenure.service.app import create_app
    from tenure.service.ops import SERVE_URL

    settings = load_settings(store_url=store)
    open_store(settings.store_url).close()  # held by another process: its message, no traceback
    bind_host = host or settings.serve_host
    bind_port = settings.serve_port if port is None else port
    url = f"http://{bind_host}:{bind_port}"
    application = create_app(settings, warm=True)
    setattr(application.state, SERVE_URL, url)
    say(f"Serving {settings.store_url} on {url} (Ctrl-C stops).")
    with stop_signals() as stopped:
        uvicorn.run(
            application,
            host=bind_host,
            port=bind_port,
            log_level="warning",
            timeout_graceful_shutdown=max(1, round(settings.serve_shutdown_seconds)),
        )
    if stopped.is_set():
        say(f"Stopped ({', '.join(stopped.names)}): the store {settings.store_url} is released.")

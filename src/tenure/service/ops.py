"""``/health``, ``/metrics`` and the process's lifecycle: the worker and the store's owner file.

:func:`start` (called by the application's lifespan once the state is built) records the
process as the owner of its DuckDB file (``<store>.serve.json``, :mod:`tenure.store.owner`:
another ``tenure`` command then says the server holds it) and starts the worker
(:mod:`tenure.service.worker`); :func:`stop` (before the store closes) stops the worker, its
current unit finished, and removes the owner file.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tenure.service.state import VERSION, ServiceState
from tenure.service.worker import ServiceWorker
from tenure.store.owner import remove_owner, write_owner

LOG = logging.getLogger("tenure.service")

router = APIRouter()

#: Where ``tenure serve`` puts the URL it listens on (``app.state``), for the owner file.
SERVE_URL = "serve_url"
#: Whether the application builds the dashboard's pages when it starts (``app.state``).
WARM = "warm_dashboard"


def start(app: FastAPI, *, owns_store: bool = True) -> None:
    """Record the owner file (when the application opened its store itself) and start the
    worker."""
    state: ServiceState = app.state.tenure
    path = state.owned.file if owns_store else None
    if path is not None:
        try:
            write_owner(path, url=getattr(app.state, SERVE_URL, None))
        except OSError as exc:  # the lock still holds; only the message will name no server
            LOG.warning("could not write the owner file beside %s: %s", path, exc)
        else:
            state.parts["owner_file"] = path
    worker = ServiceWorker(state)
    state.parts["worker"] = worker
    worker.start()
    if getattr(app.state, WARM, False):
        worker.warm()


def stop(app: FastAPI) -> None:
    """Stop the worker (its current unit finishes first) and remove the owner file."""
    state: ServiceState = app.state.tenure
    worker = state.parts.get("worker")
    if isinstance(worker, ServiceWorker):
        worker.stop(state.settings.serve_shutdown_seconds)
    path = state.parts.pop("owner_file", None)
    if path is not None:
        remove_owner(path, pid=os.getpid())


def queue_depth(state: ServiceState) -> float:
    """The collector's queue depth as its gauge last reported it (0 before any report)."""
    value = state.metrics.registry.get_sample_value("tenure_collector_queue_depth")
    return 0.0 if value is None else value


def messages_by_state(state: ServiceState) -> dict[str, int]:
    """The outbox's messages per state, read now (holding the store)."""
    with state.store() as store:
        if not store.exists("messages"):
            return {}
        t = store.table("messages")
        rows = t.group_by("state").aggregate(n=t.count()).to_pyarrow().to_pylist()
    return {str(r["state"]): int(r["n"]) for r in rows}


@router.get("/health", tags=["ops"])
def health(request: Request) -> dict[str, Any]:
    """Liveness and the state of the parts: the store, the worker's last runs and errors,
    the collector's queue. ``ok`` is false while a worker unit's last run failed."""
    state: ServiceState = request.app.state.tenure
    worker = state.parts.get("worker")
    shown = worker.status() if isinstance(worker, ServiceWorker) else None
    return {
        "ok": shown is None or bool(shown["ok"]),
        "version": VERSION,
        "store": state.owned.url,
        "pid": os.getpid(),
        "queue_depth": queue_depth(state),
        "worker": shown,
    }


@router.get("/metrics", tags=["ops"], response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus's text exposition format: events received, stored, rejected; the queue;
    the worker's step durations; the outbox's messages by state (read at each scrape)."""
    state: ServiceState = request.app.state.tenure
    gauge = state.metrics.messages
    try:
        counts = messages_by_state(state)
    except Exception as exc:  # a scrape never fails for the outbox: the rest is still served
        LOG.error("metrics: the messages could not be counted: %r", exc)
    else:
        gauge.clear()
        for name, n in counts.items():
            gauge.labels(state=name).set(n)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

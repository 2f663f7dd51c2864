"""The Segment-compatible collector (``/v1/*``): Segment's HTTP tracking API, durable before
it answers.

Routes ``/v1/track``, ``/v1/identify``, ``/v1/page``, ``/v1/screen``, ``/v1/alias``,
``/v1/group`` (one message, the type from the path) and ``/v1/batch`` = ``/v1/import``
(``{"batch": [...]}``, each item with its ``type``). A request is answered 200 only once its
valid messages are fsync'd in the write-ahead log (:mod:`tenure.service.wal`); the loader
(:mod:`tenure.service.loader`) moves them into the store. docs/service.md, "The collector".
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from tenure.service.auth import basic_user, check_write_key
from tenure.service.errors import ServiceError
from tenure.service.loader import Loader, line_of
from tenure.service.messages import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    TYPES,
    InvalidMessage,
    kb,
    prepare,
)
from tenure.service.state import ServiceState
from tenure.service.wal import WriteAheadLog

router = APIRouter(tags=["collector"])

#: Content types the collector reads as JSON (Segment's browser clients send ``text/plain``).
JSON_TYPES = ("application/json", "text/plain")
#: Seconds a client is asked to wait when the backlog is full.
RETRY_AFTER = 2
#: The key of the collector's parts in :attr:`ServiceState.parts`.
PART = "collector"


# -- start and stop (the application's lifespan) -------------------------------------------------
def start_collector(state: ServiceState) -> None:
    """Open the log in ``collector_dir`` (closing segments a crash left open) and start its
    writer and the loader (which loads leftover segments first)."""
    wal = WriteAheadLog(state.settings.collector_dir)
    loader = Loader(state, wal)
    state.parts[PART] = loader
    state.metrics.queue_depth.set(wal.backlog)
    wal.start()
    loader.start()


def stop_collector(state: ServiceState) -> None:
    """Stop taking events and load everything acknowledged into the store."""
    loader = state.parts.pop(PART, None)
    if isinstance(loader, Loader):
        loader.stop()


# -- the request ---------------------------------------------------------------------------------
def _check_content_type(request: Request) -> None:
    ctype = request.headers.get("content-type")
    if ctype is None:
        return
    if ctype.split(";")[0].strip().lower() not in JSON_TYPES:
        raise ServiceError(
            415,
            f"The collector reads JSON; the request's content type is {ctype[:60]!r}.",
            hint="Send `Content-Type: application/json` (or `text/plain`, as browsers do).",
        )


def _too_large(size: int | None, limit: int, what: str) -> ServiceError:
    said = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return ServiceError(
        413,
        f"The {what} is {said}; the limit is {kb(limit)} per {what}.",
        hint="Send fewer or smaller messages per request (Segment's limits: 32 KB a "
        "message, 500 KB a batch).",
    )


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The body (gunzipped if sent gzip), or 413 past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
    if declared.isdigit() and int(declared) > limit and not gzipped:
        raise _too_large(int(declared), limit, what)
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit * (20 if gzipped else 1):
            raise _too_large(None, limit, what)
        chunks.append(chunk)
    body = b"".join(chunks)
    if gzipped:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflate.decompress(body, limit + 1)
        except zlib.error:
            raise ServiceError(400, "The body is not valid gzip.", field="body") from None
        if len(body) > limit:
            raise _too_large(None, limit, what)
    elif len(body) > limit:
        raise _too_large(len(body), limit, what)
    return body


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or 400 saying where it breaks."""
    try:
        parsed = json.loads(body)
    except UnicodeDecodeError:
        raise ServiceError(400, "The body is not UTF-8 text.", field="body") from None
    except json.JSONDecodeError as exc:
        raise ServiceError(
            400,
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            field="body",
        ) from None
    if not isinstance(parsed, dict):
        raise ServiceError(400, "The body must be a JSON object.", field="body")
    return parsed


def _line(message: dict[str, Any]) -> bytes:
    """A line of ``rejected.jsonl`` (ASCII: a refused message may hold broken text)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def _rejected_line(raw: object, error: InvalidMessage, index: int, received: datetime) -> bytes:
    entry = {
        "receivedAt": received.isoformat(),
        "index": index,
        "field": error.field,
        "reason": error.message,
        "message": raw,
    }
    return _line(entry)


async def _authorized_body(request: Request, limit: int, what: str) -> dict[str, Any]:
    """The request checked in order: auth header, content type, size, JSON, write key."""
    state: ServiceState = request.app.state.tenure
    header = request.headers.get("authorization")
    if basic_user(header) is not None:
        check_write_key(header, None, state.settings.write_keys)
    _check_content_type(request)
    body = parse_json(await read_body(request, limit, what))
    key = body.pop("writeKey", None)
    if basic_user(header) is None:
        check_write_key(header, key, state.settings.write_keys)
    return body


def _check_backlog(state: ServiceState, loader: Loader, n: int) -> None:
    limit = state.settings.collector_max_backlog
    if loader.wal.backlog + n > limit:
        raise ServiceError(
            429,
            f"The collector holds {loader.wal.backlog:,} events not yet loaded into the store, "
            f"its limit (`collector_max_backlog`) is {limit:,}: retry after {RETRY_AFTER} s.",
            headers={"Retry-After": str(RETRY_AFTER)},
        )


async def _write(state: ServiceState, lines: list[bytes], rejected: list[bytes]) -> None:
    loader = state.parts.get(PART)
    if not isinstance(loader, Loader):
        raise ServiceError(503, "The collector is not running.", headers={"Retry-After": "1"})
    _check_backlog(state, loader, len(lines))
    try:
        await loader.wal.commit(lines, rejected)
    except (OSError, RuntimeError):
        raise ServiceError(
            503,
            "The events could not be written durably; nothing was acknowledged.",
            hint="Retry with the same messageId (the collector stores it once).",
            headers={"Retry-After": str(RETRY_AFTER)},
        ) from None
    state.metrics.events_durable.inc(len(lines))
    state.metrics.queue_depth.set(loader.wal.backlog)


async def receive_one(request: Request, kind: str) -> dict[str, Any]:
    """One message of type ``kind``: 200 once durable, 400 naming the field if invalid."""
    state: ServiceState = request.app.state.tenure
    body = await _authorized_body(request, MAX_MESSAGE_BYTES, "message")
    state.metrics.events_received.inc()
    try:
        message = prepare(body, kind, datetime.now(UTC))
    except InvalidMessage as exc:
        state.metrics.events_rejected.labels(reason=exc.reason).inc()
        raise ServiceError(400, exc.message, field=exc.field) from None
    await _write(state, [line_of(message)], [])
    return {"ok": True, "accepted": 1, "rejected": []}


async def receive_batch(request: Request) -> dict[str, Any]:
    """A batch: its valid messages kept (200 once durable), each invalid one listed with its
    index, field and message (and kept in ``rejected.jsonl`` with its reason)."""
    state: ServiceState = request.app.state.tenure
    body = await _authorized_body(request, MAX_BATCH_BYTES, "batch")
    items = body.get("batch")
    if not isinstance(items, list):
        raise ServiceError(400, "A batch needs `batch`, a JSON array of messages.", field="batch")
    received = datetime.now(UTC)
    state.metrics.events_received.inc(len(items))
    lines, kept, refused = [], [], []
    for index, raw in enumerate(items):
        try:
            lines.append(line_of(prepare(raw, None, received, body.get("sentAt"))))
        except InvalidMessage as exc:
            state.metrics.events_rejected.labels(reason=exc.reason).inc()
            refused.append({"index": index, "field": exc.field, "message": exc.message})
            kept.append(_rejected_line(raw, exc, index, received))
    await _write(state, lines, kept)
    return {"ok": True, "accepted": len(lines), "rejected": refused}


def _one_route(kind: str) -> None:
    async def route(request: Request) -> dict[str, Any]:
        return await receive_one(request, kind)

    route.__name__ = f"collect_{kind}"
    route.__doc__ = f"Segment's `{kind}` call: one message, answered once durable."
    router.add_api_route(f"/v1/{kind}", route, methods=["POST"])


for _kind in TYPES:
    _one_route(_kind)


@router.post("/v1/batch")
async def collect_batch(request: Request) -> dict[str, Any]:
    """Segment's batch call: ``{"batch": [...]}``; partial: see docs/service.md."""
    return await receive_batch(request)


@router.post("/v1/import")
async def collect_import(request: Request) -> dict[str, Any]:
    """Segment's import call, the same as batch."""
    return await receive_batch(request)

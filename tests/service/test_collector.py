"""The collector (issue 18): Segment's own Python SDK against a real uvicorn server over a
DuckDB file, and the HTTP contract (limits, JSON, content types, auth, partial batches)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from segment.analytics.client import Client

from tenure.ingest.identifiers import digest
from tenure.service.messages import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES
from tenure.service.wal import REJECTED
from tenure.store import Store
from tests.service.collector_live import KEY, LiveServer, live, settings_for

BASIC = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
BASIC_NO_COLON = "Basic " + base64.b64encode(KEY.encode()).decode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("collector")
    with live(settings_for(folder / "s.duckdb", folder / "wal")) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _track(**kw: Any) -> dict[str, Any]:
    return {"userId": "u1", "event": "Viewed", "messageId": str(uuid.uuid4()), **kw}


def _error(answer: httpx.Response, status: int, field: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["ok"] is False and body["error"]["status"] == status
    if field is not None:
        assert body["error"]["field"] == field, body
    return str(body["error"]["message"])


def _stored(server: LiveServer, ids: list[str]) -> dict[str, int]:
    server.wait_loaded()
    frame = server.events()
    counts = frame[frame.message_id.isin(ids)].message_id.value_counts()
    return {str(k): int(v) for k, v in counts.items()}


# -- Segment's SDK ---------------------------------------------------------------------------
def _send_every_call(client: Client, i: int) -> dict[str, Any]:
    user, kind = f"user-{i % 97}", i % 6
    if kind == 0:
        return client.track(user, "Product Viewed", {"sku": f"P{i}", "price": i / 10})[1]
    if kind == 1:
        return client.identify(user, {"email": f"{user}@example.com", "plan": "pro"})[1]
    if kind == 2:
        return client.page(user, "Shop", f"Page {i}", {"url": f"https://shop.example/{i}"})[1]
    if kind == 3:
        return client.screen(user, "App", f"Screen {i}", {"n": i})[1]
    if kind == 4:
        return client.alias(f"anon-{i}", user)[1]
    return client.group(user, f"company-{i % 7}", {"name": "Acme"})[1]


def test_segment_sdk_sends_10000_events_of_every_call_type_stored_once(
    server: LiveServer,
) -> None:
    errors: list[Any] = []
    client = Client(
        KEY,
        host=server.url,
        sync_mode=False,
        max_queue_size=20_000,
        upload_size=100,
        gzip=True,
        on_error=lambda e, batch: errors.append(e),
    )
    messages = [_send_every_call(client, i) for i in range(10_000)]
    client.flush()
    client.join()
    blocking = Client(KEY, host=server.url, sync_mode=True, on_error=errors.append)
    messages += [_send_every_call(blocking, i) for i in range(6)]
    assert not errors
    ids = [m["messageId"] for m in messages]
    stored = _stored(server, ids)
    assert len(stored) == len(set(ids)) == 10_006 and set(stored.values()) == {1}
    frame = server.events()
    types = frame[frame.message_id.isin(ids)].type.value_counts().to_dict()
    assert set(types) == {"track", "identify", "page", "screen", "alias", "group"}


def test_a_retried_message_is_stored_once_and_not_quarantined(
    server: LiveServer, http: httpx.Client
) -> None:
    message = _track()
    for sent in ("2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"):
        batch = {"batch": [{**message, "type": "track"}], "sentAt": sent}
        assert http.post("/v1/batch", json=batch, headers={"Authorization": BASIC}).is_success
    assert _stored(server, [message["messageId"]]) == {message["messageId"]: 1}
    with server.state.store() as store:
        quarantined = store.table("quarantine").count().execute()
    assert quarantined == 0


# -- the HTTP contract ---------------------------------------------------------------------------
def _padded(size: int, **kw: Any) -> dict[str, Any]:
    """A track message whose compact JSON is exactly ``size`` bytes."""
    message = _track(properties={"pad": ""}, **kw)
    base = len(json.dumps(message, separators=(",", ":")).encode())
    message["properties"]["pad"] = "x" * (size - base)
    return message


def _raw(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def test_the_message_limit_at_and_just_over_32_kb(server: LiveServer, http: httpx.Client) -> None:
    at = _padded(MAX_MESSAGE_BYTES)
    headers = {**JSON, "Authorization": BASIC}
    assert http.post("/v1/track", content=_raw(at), headers=headers).status_code == 200
    over = _raw(_padded(MAX_MESSAGE_BYTES + 1))
    message = _error(http.post("/v1/track", content=over, headers=headers), 413)
    assert "32,769 bytes" in message and "32 KB" in message
    in_batch = {
        "batch": [{**_padded(MAX_MESSAGE_BYTES + 1), "type": "track"}, _track(type="track")]
    }
    answer = http.post("/v1/batch", json=in_batch, headers=headers).json()
    assert answer["accepted"] == 1 and "32 KB" in answer["rejected"][0]["message"]
    assert _stored(server, [at["messageId"]]) == {at["messageId"]: 1}


def _batch_of(size: int) -> bytes:
    """A batch body of exactly ``size`` bytes."""
    body = {"batch": [_track(type="track") for _ in range(10)], "pad": ""}
    base = len(_raw(body))
    body["pad"] = "x" * (size - base)
    return _raw(body)


def test_the_batch_limit_at_and_just_over_500_kb(http: httpx.Client) -> None:
    headers = {**JSON, "Authorization": BASIC}
    answer = http.post("/v1/batch", content=_batch_of(MAX_BATCH_BYTES), headers=headers)
    assert answer.status_code == 200 and answer.json()["accepted"] == 10
    over = http.post("/v1/batch", content=_batch_of(MAX_BATCH_BYTES + 1), headers=headers)
    message = _error(over, 413)
    assert "512,001 bytes" in message and "500 KB" in message


def test_broken_json_and_content_types(http: httpx.Client) -> None:
    headers = {"Authorization": BASIC}
    broken = http.post("/v1/track", content=b'{"userId": "u1",', headers={**headers, **JSON})
    assert "not valid JSON" in _error(broken, 400, "body")
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert "content type" in _error(http.post("/v1/track", content=b"a=1", headers=form), 415)
    for ctype in ("text/plain", "application/json; charset=utf-8"):
        answer = http.post(
            "/v1/track", content=_raw(_track()), headers={**headers, "Content-Type": ctype}
        )
        assert answer.status_code == 200, ctype
    zipped = gzip.compress(_raw({"batch": [_track(type="track")]}))
    answer = http.post(
        "/v1/batch",
        content=zipped,
        headers={**headers, **JSON, "Content-Encoding": "gzip"},
    )
    assert answer.json()["accepted"] == 1


def test_each_form_of_the_write_key(http: httpx.Client) -> None:
    for header in (BASIC, BASIC_NO_COLON):
        assert http.post("/v1/track", json=_track(), headers={"Authorization": header}).is_success
    assert http.post("/v1/track", json={**_track(), "writeKey": KEY}).is_success
    _error(http.post("/v1/track", json=_track()), 401)
    wrong = "Basic " + base64.b64encode(b"nope:").decode()
    assert "not one of" in _error(
        http.post("/v1/track", json=_track(), headers={"Authorization": wrong}), 401
    )
    _error(http.post("/v1/track", json={**_track(), "writeKey": "nope"}), 401)
    _error(http.post("/v1/batch", json={"batch": [], "writeKey": "nope"}), 401)


@pytest.mark.parametrize(
    ("route", "message", "field"),
    [
        ("/v1/track", {"userId": "u1"}, "event"),
        ("/v1/track", {"event": "Viewed"}, "userId"),
        ("/v1/alias", {"userId": "u1"}, "previousId"),
        ("/v1/group", {"userId": "u1"}, "groupId"),
        ("/v1/identify", {"userId": "u1", "timestamp": "yesterday"}, "timestamp"),
        ("/v1/page", {"userId": "u1", "sentAt": "2026-13-01T00:00:00Z"}, "sentAt"),
        ("/v1/identify", {"userId": "u1", "traits": "not an object"}, "traits"),
        ("/v1/track", {"userId": "u1", "event": "E", "messageId": 12}, "messageId"),
    ],
)
def test_an_invalid_message_is_400_naming_the_field(
    http: httpx.Client, route: str, message: dict[str, Any], field: str
) -> None:
    _error(http.post(route, json=message, headers={"Authorization": BASIC}), 400, field)


def test_a_partial_batch_keeps_the_good_messages(server: LiveServer, http: httpx.Client) -> None:
    good = [_track(type="track"), {"type": "identify", "anonymousId": "a1", "messageId": "g2"}]
    bad = [
        {"type": "track", "userId": "u1"},
        {"type": "sing", "userId": "u1"},
        "not an object",
        {"type": "page", "userId": "u1", "timestamp": "soon"},
    ]
    body = {"batch": [good[0], *bad[:2], good[1], *bad[2:]]}
    answer = http.post("/v1/batch", json=body, headers={"Authorization": BASIC})
    assert answer.status_code == 200
    result = answer.json()
    assert result["ok"] is True and result["accepted"] == 2
    refused = [(r["index"], r["field"]) for r in result["rejected"]]
    assert refused == [(1, "event"), (2, "type"), (4, None), (5, "timestamp")]
    ids = [str(m["messageId"]) for m in good]
    assert _stored(server, ids) == dict.fromkeys(ids, 1)
    kept = (server.state.settings.collector_dir / REJECTED).read_text().splitlines()
    reasons = [json.loads(line)["reason"] for line in kept[-4:]]
    assert "`event`" in reasons[0] and "`type`" in reasons[1]
    metrics = server.state.metrics.events_rejected.labels(reason="missing_field")
    assert metrics._value.get() >= 1


def test_ids_receivedat_and_the_clock_skew_correction(
    server: LiveServer, http: httpx.Client
) -> None:
    device = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    skewed = {
        "userId": "u1",
        "event": "Skewed",
        "messageId": str(uuid.uuid4()),
        "timestamp": device.isoformat(),
        "sentAt": (device + timedelta(seconds=10)).isoformat(),
    }
    assert http.post("/v1/track", json=skewed, headers={"Authorization": BASIC}).is_success
    no_id = {"userId": "u1", "event": "NoId"}
    assert http.post("/v1/track", json=no_id, headers={"Authorization": BASIC}).is_success
    server.wait_loaded()
    frame = server.events()
    row = frame[frame.message_id == skewed["messageId"]].iloc[0]
    assert row.received_at - row.timestamp == timedelta(seconds=10)
    assert row.received_at > datetime(2026, 1, 1) and row.sent_at == datetime(2026, 1, 1, 12, 0, 10)
    assert len(frame[frame.event == "NoId"].message_id.iloc[0]) == 36


def test_overload_is_429_with_retry_after(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "s.duckdb", tmp_path / "wal", collector_max_backlog=5)
    with live(settings) as running, httpx.Client(base_url=running.url) as client:
        body = {"batch": [_track(type="track") for _ in range(6)]}
        answer = client.post("/v1/batch", json=body, headers={"Authorization": BASIC})
        assert "collector_max_backlog" in _error(answer, 429)
        assert answer.headers["Retry-After"] == "2"
        body = {"batch": body["batch"][:5]}
        assert client.post("/v1/batch", json=body, headers={"Authorization": BASIC}).is_success


def test_suppressed_persons_are_answered_counted_never_stored(tmp_path: Path) -> None:
    store = Store(f"duckdb://{tmp_path / 's.duckdb'}")
    row = {"identifier": [digest("customer_id", "gone")], "identifier_kind": ["sha256:customer_id"]}
    store.insert("suppressions", pa.table({**row, "channel": ["all"]}))
    store.close()
    with live(settings_for(tmp_path / "s.duckdb", tmp_path / "wal")) as running:
        with httpx.Client(base_url=running.url) as client:
            for user in ("gone", "kept"):
                message = {"userId": user, "event": "Viewed"}
                assert client.post("/v1/track", json=message, headers={"Authorization": BASIC})
        running.wait_loaded()
        assert list(running.events().user_id) == ["kept"]
        assert running.state.metrics.events_suppressed._value.get() == 1


def _leftover(folder: Path, name: str, events: list[dict[str, Any]], torn: bytes = b"") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = b"".join(_raw(e) + b"\n" for e in events)
    (folder / name).write_bytes(lines + torn)


def test_leftover_segments_are_loaded_at_start_and_the_rest_at_stop(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    now = datetime.now(UTC).isoformat()
    events = [{**_track(), "type": "track", "timestamp": now} for _ in range(3)]
    _leftover(wal, "000000000001.jsonl", events[:2])
    _leftover(wal, "000000000002.open", events[1:], torn=b'{"messageId": "half')
    server = LiveServer(settings_for(tmp_path / "s.duckdb", wal)).start()
    ids = [e["messageId"] for e in events]
    assert _stored(server, ids) == dict.fromkeys(ids, 1)
    later = _track()
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/v1/track", json=later, headers={"Authorization": BASIC})
    server.stop()
    assert not list(wal.glob("0*"))
    store = Store(f"duckdb://{tmp_path / 's.duckdb'}")
    assert later["messageId"] in set(store.table("events").message_id.execute())
    store.close()


def test_a_segment_replayed_after_its_import_stores_nothing_twice(tmp_path: Path) -> None:
    """A crash after the import committed and before the segment was deleted: the segment is
    loaded again at the next start, its events (another receivedAt) are already there."""
    settings = settings_for(tmp_path / "s.duckdb", tmp_path / "wal")
    events = [{**_track(), "type": "track"} for _ in range(4)]
    with live(settings) as running, httpx.Client(base_url=running.url) as client:
        body = {"batch": events}
        assert client.post("/v1/batch", json=body, headers={"Authorization": BASIC}).is_success
        running.wait_loaded()
    replay = [{**e, "receivedAt": "2026-01-01T00:00:00Z"} for e in events]
    _leftover(tmp_path / "wal", "000000000009.jsonl", replay)
    with live(settings) as running:
        ids = [e["messageId"] for e in events]
        assert _stored(running, ids) == dict.fromkeys(ids, 1)
        with running.state.store() as store:
            assert store.table("quarantine").count().execute() == 0


def test_text_that_is_not_unicode_is_refused_not_a_5xx(http: httpx.Client) -> None:
    broken = b'{"type":"track","userId":"u1","event":"\\ud800"}'
    body = b'{"batch":[' + broken + b"," + _raw(_track(type="track")) + b"]}"
    headers = {**JSON, "Authorization": BASIC}
    answer = http.post("/v1/batch", content=body, headers=headers).json()
    assert answer["accepted"] == 1 and "Unicode" in answer["rejected"][0]["message"]
    assert "Unicode" in _error(http.post("/v1/track", content=broken, headers=headers), 400)
    invalid_utf8 = http.post("/v1/track", content=b'{"userId": "\xff"}', headers=headers)
    _error(invalid_utf8, 400, "body")

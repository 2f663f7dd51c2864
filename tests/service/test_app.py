"""The service's skeleton: the one error body on every kind of error, the admin token rules,
and `/health` (issue 18)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from tenure.config import load_settings
from tenure.errors import NotFoundError
from tenure.service.app import create_app
from tenure.service.auth import basic_user, check_admin_token
from tenure.service.errors import ServiceError

SHAPE = {"status", "code", "message", "hint", "field"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = load_settings(
        store_url=f"duckdb://{tmp_path / 's.duckdb'}", write_keys=["wk"], admin_tokens=["adm"]
    )
    app = create_app(settings)
    probe = APIRouter()

    @probe.get("/probe/{kind}")
    def _probe(kind: str, n: int = 0) -> dict[str, int]:
        if kind == "tenure":
            raise NotFoundError("No person 'x'.", hint="Search by e-mail.")
        if kind == "service":
            raise ServiceError(413, "Too big.", field="batch")
        if kind == "crash":
            raise RuntimeError("secret internals")
        return {"n": n}

    app.include_router(probe)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _error(answer: object, status: int) -> dict[str, object]:
    assert answer.status_code == status  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["ok"] is False and set(body["error"]) == SHAPE
    assert body["error"]["status"] == status
    return body["error"]


def test_every_error_has_the_one_body(client: TestClient) -> None:
    assert _error(client.get("/probe/tenure"), 404)["hint"] == "Search by e-mail."
    assert _error(client.get("/probe/service"), 413)["field"] == "batch"
    assert _error(client.get("/probe/ok?n=abc"), 400)["field"] == "n"
    assert _error(client.get("/no/such/route"), 404)["code"] == "not_found"
    assert _error(client.post("/health"), 405)["code"] == "method_not_allowed"
    crash = _error(client.get("/probe/crash"), 500)
    assert "secret" not in str(crash) and crash["code"] == "internal"


def test_health_answers_with_the_store(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["ok"] is True and body["store"].endswith("s.duckdb")


def test_the_write_key_from_basic_auth_with_or_without_the_colon() -> None:
    for raw in ("wk:", "wk"):
        header = "Basic " + base64.b64encode(raw.encode()).decode()
        assert basic_user(header) == "wk"
    assert basic_user("Basic !!!") is None and basic_user(None) is None


def test_admin_token_rules() -> None:
    check_admin_token("Bearer adm", ["adm"], ["wk"])
    for header, status in (
        (None, 401),
        ("Bearer wk", 403),
        ("Basic " + base64.b64encode(b"wk:").decode(), 403),
        ("Bearer nope", 403),
        ("Token adm", 401),
    ):
        with pytest.raises(ServiceError) as caught:
            check_admin_token(header, ["adm"], ["wk"])
        assert caught.value.status == status, header

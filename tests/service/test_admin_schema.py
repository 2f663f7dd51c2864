"""Schemathesis against the app's own OpenAPI spec, with an admin token, over the demo store:
no request it generates gets a 5xx, and every documented answer conforms to its schema.

Bounded: a few examples per operation (``EXAMPLES``); the backtest (a replay of up to a year
inside the request) is left to tests/service/test_admin_api.py. The admin routes are listed
for the log (``test_the_spec_lists_the_admin_routes``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tenure.service.app import create_app
from tenure.store import Store
from tests.service.adminkit import GOOD, admin_settings, copy_demo

#: Examples per operation.
EXAMPLES = 4
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def admin_app(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = copy_demo(demo_url, tmp_path_factory.mktemp("schema"))
    with Store(url, settings=admin_settings(url)) as store:
        app = create_app(store.settings, store=store)
        with TestClient(app):  # runs the lifespan: app.state.tenure is set
            yield app


@pytest.fixture(scope="module")
def admin_schema(admin_app: FastAPI) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", admin_app)
    return schema.exclude(path_regex="backtest$")


#: What the run did: examples per operation, for the report.
RUN: dict[str, int] = {}


def run_operation(operation: Any) -> None:
    """``EXAMPLES`` generated requests of one operation, each called and validated."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        RUN[operation.label] = RUN.get(operation.label, 0) + 1
        case.call_and_validate(headers=GOOD, checks=CHECKS)

    check()


def test_no_5xx_and_answers_conform(admin_schema: Any) -> None:
    operations = [result.ok() for result in admin_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        run_operation(operation)
    assert set(RUN) == {o.label for o in operations}
    print(f"schemathesis: {sum(RUN.values())} examples over {len(RUN)} operations")


def test_the_spec_lists_the_admin_routes(admin_app: FastAPI) -> None:
    paths = admin_app.openapi()["paths"]
    assert "/api/profiles/{identifier}" in paths and "/unsubscribe" in paths
    page = paths["/api/profiles"]["get"]["responses"]["200"]["content"]["application/json"]
    assert page["schema"]["$ref"].endswith("/Page")

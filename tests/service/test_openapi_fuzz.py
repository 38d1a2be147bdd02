"""The OpenAPI document declares every error answer (401, 403, 404, 409, 413, 422, 429) as
``application/problem+json``, and schemathesis, run against the live app (uvicorn on a free
port, SQLite, a queue-only runner), finds no server error and no undocumented status, media
type, header or body. The default run is short; ``-m slow`` runs many more examples."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .support import Service, start_service

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ERRORS = {"401", "403", "404", "409", "413", "422", "429"}
FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
    "database": None,
}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("fuzz-home")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", runner="none")
    yield service
    service.server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def test_every_v1_operation_declares_problem_errors(fuzzed: Service) -> None:
    import httpx

    document = httpx.get(f"{fuzzed.url}/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/v1/") or path == "/v1/signing-keys":
                continue
            declared = set(operation["responses"])
            assert declared >= ERRORS, (method, path, ERRORS - declared)
            for status in ERRORS:
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)


@schema.parametrize()
@settings(max_examples=8, **FUZZ_SETTINGS)
def test_fuzz_the_live_api(case: schemathesis.Case, fuzzed: Service) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzed.admin_key}"}, checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=150, **FUZZ_SETTINGS)
def test_fuzz_the_live_api_longer(case: schemathesis.Case, fuzzed: Service) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzzed.admin_key}"}, checks=CHECKS)

"""The OpenAPI document declares every error answer (401, 403, 404, 409, 413, 422, 429) as
``application/problem+json``, and schemathesis, run against the live app (uvicorn on a free
port, SQLite, a queue-only runner), finds no server error and no undocumented status, media
type, header or body. The default run is short; ``-m slow`` runs many more examples."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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


def test_every_operation_has_its_own_operation_id(fuzzed: Service) -> None:
    """Client generators key methods by operation id: a shared one (GET and HEAD of a
    download) would make one of them vanish."""
    import httpx

    document = httpx.get(f"{fuzzed.url}/openapi.json").json()
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    download = document["paths"]["/v1/jobs/{job_id}/artifacts/{name}"]
    assert set(download) == {"get", "head"}


def _fuzz(service: Service, max_examples: int) -> list[str]:
    """Every operation, ``max_examples`` generated requests each; the failures found."""
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    headers = {"Authorization": f"Bearer {service.admin_key}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, **FUZZ_SETTINGS)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # a schemathesis failure group: keep going, report all
            failures.append(f"{operation.label}: {' '.join(str(exc).split())[:600]}")
    return failures


def test_fuzz_the_live_api(fuzzed: Service) -> None:
    assert _fuzz(fuzzed, max_examples=8) == []


@pytest.mark.slow
def test_fuzz_the_live_api_longer(fuzzed: Service) -> None:
    assert _fuzz(fuzzed, max_examples=150) == []

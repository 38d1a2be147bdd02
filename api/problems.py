"""RFC 9457 problem details (``application/problem+json``) for every error the API returns."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError

MEDIA_TYPE = "application/problem+json"
CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem: ``code`` is stable, ``detail`` is for people."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    request_id: str | None = None
    errors: list[ProblemError] | None = None


DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No API key, or an unknown, revoked or expired one.",
    403: "The key lacks the scope, or the action is another tenant's.",
    404: "No such object (also another tenant's).",
    405: "Method not allowed.",
    409: "The object's state does not allow it.",
    413: "The body is over the size limit.",
    415: "Unsupported media type.",
    422: "The request does not validate.",
    429: "Too many requests.",
    503: "A dependency (database, storage, broker) is unreachable.",
}
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
# Declared on every ``/v1`` operation, so generated clients and fuzzers know every answer.
V1_ERRORS = (401, 403, 404, 409, 413, 422, 429)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error answers: ``application/problem+json`` :class:`Problem`."""
    return {
        status: {
            "description": DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


def request_id_of(request_or_scope: Request | dict) -> str | None:
    scope = request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope
    return scope.get("state", {}).get("request_id")


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None,
    request_id: str | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": f"urn:sfd-unlearn:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": request_id,
        **extra,
    }


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(
        status, code, detail, instance=request.url.path, request_id=request_id_of(request), **extra
    )
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = exc.extra.pop("headers", None)
    return problem(request, exc.status, exc.code, exc.detail, headers=headers, **exc.extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return problem(
        request,
        422,
        "validation_error",
        f"{where}: {first['msg']}" if where else first["msg"],
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    return problem(request, exc.status_code, code, detail, headers=getattr(exc, "headers", None))


def _openapi_with_problems(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI document with the :class:`Problem` schema the error answers name."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            app.openapi_schema = document
        return app.openapi_schema

    return openapi


def install(app: FastAPI) -> None:
    app.openapi = _openapi_with_problems(app)  # type: ignore[method-assign]
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

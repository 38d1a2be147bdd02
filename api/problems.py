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
    410: "gone",
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
    410: "The object was deleted (its stored data is gone; the audit log keeps its record).",
    413: "The body is over the size limit.",
    415: "Unsupported media type.",
    416: "The byte range lies outside the file.",
    422: "The request does not validate.",
    429: "Too many requests.",
    503: "A dependency (database, storage, broker) is unreachable.",
}
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
# Declared on every ``/v1`` operation, so generated clients and fuzzers know every answer.
V1_ERRORS = (401, 403, 404, 409, 410, 413, 422, 429)


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
    if exc.status in (401, 403):
        from api import refusals

        await refusals.note(request, exc.status, exc.code)
    headers = exc.extra.pop("headers", None)
    return problem(request, exc.status, exc.code, exc.detail, headers=headers, **exc.extra)


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


async def require_json(request: Request) -> None:
    """A JSON body's route refuses other media types with 415 (no type: read as JSON).
    ``async``: it only reads a header, so it needs no thread-pool hop."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send the request as application/json, not {content_type[:100]}"
        )


# pydantic's names for the members of a union, which it puts into an error's location
# (``hyperparameters.batch_size.bool``): internals, dropped from what users read.
UNION_TAGS = {"bool", "int", "float", "str", "list", "dict", "none", "bytes"}
TYPE_ERRORS = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}
LOCATIONS = {"query": "query parameter", "path": "path parameter", "header": "header"}


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in UNION_TAGS or "[" in part or part.startswith(("constrained-", "function-"))
    )


def _plain_location(loc: list[Any]) -> tuple[list[Any], str]:
    """The location without pydantic's union tags, and as a user reads it."""
    cleaned = [part for part in loc if not _is_union_tag(part)]
    if cleaned and cleaned[0] == "body":
        return cleaned, ".".join(str(p) for p in cleaned[1:])
    if cleaned and cleaned[0] in LOCATIONS and len(cleaned) > 1:
        names = ".".join(str(p) for p in cleaned[1:])
        return cleaned, f"{LOCATIONS[cleaned[0]]} {names}"
    return cleaned, ".".join(str(p) for p in cleaned)


def _phrase(error: dict[str, Any]) -> str:
    """One pydantic error in words for users (no Python type names)."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    msg = str(error.get("msg", ""))
    if kind in TYPE_ERRORS:
        return f"must be {TYPE_ERRORS[kind]}"
    words = {
        "missing": "is required",
        "extra_forbidden": "is not a field of this request",
        "finite_number": "must be a finite number",
        "json_invalid": "is not valid JSON",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be greater than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "less_than": f"must be less than {ctx.get('lt')}",
        "string_too_long": f"must be at most {ctx.get('max_length')} characters",
        "too_short": f"must hold at least {ctx.get('min_length')} item(s)",
        "too_long": f"must hold at most {ctx.get('max_length')} item(s)",
        "literal_error": f"must be one of {ctx.get('expected')}",
        "enum": f"must be one of {ctx.get('expected')}",
    }
    if kind == "string_too_short":
        minimum = ctx.get("min_length")
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    if kind in words:
        return words[kind]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return msg.replace("Input should be", "must be").replace("Input", "the value")


def user_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as users should read them: one per location, union members merged
    (a type error of one member gives way to a range error of another), worded plainly."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    places: dict[tuple[str, ...], tuple[list[Any], str]] = {}
    for error in raw:
        loc, where = _plain_location(list(error.get("loc", ())))
        key = tuple(str(part) for part in loc)
        groups.setdefault(key, []).append(error)
        places[key] = (loc, where)
    out = []
    for key, errors in groups.items():
        specific = [e for e in errors if str(e.get("type")) not in TYPE_ERRORS]
        chosen = specific or errors
        phrases = list(dict.fromkeys(_phrase(e) for e in chosen))
        if len(phrases) > 1 and all(p.startswith("must be ") for p in phrases):
            if "must be a number" in phrases and "must be a whole number" in phrases:
                phrases.remove("must be a whole number")
            message = "must be " + " or ".join(p.removeprefix("must be ") for p in phrases)
        else:
            message = "; ".join(phrases)
        loc, where = places[key]
        if chosen[0].get("type") == "json_invalid":
            where, message = "", "the request body is not valid JSON"
        out.append(
            {
                "loc": loc,
                "msg": f"{where}: {message}" if where else message,
                "type": str(chosen[0].get("type", "")),
            }
        )
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = user_errors(list(exc.errors()))
    detail = errors[0]["msg"] if errors else "invalid request"
    return problem(request, 422, "validation_error", detail, errors=errors)


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

"""Domain errors: each carries a stable ``code`` and the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Gone(NotFound):
    """It existed and was deleted (a :class:`NotFound` wherever "not here" is all that
    matters, such as the dashboard's pages)."""

    status = 410
    code = "gone"
    title = "Gone"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Invalid(DomainError):
    status = 422
    code = "invalid_request"
    title = "Invalid request"


class TooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"

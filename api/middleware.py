"""Pure ASGI middleware: request ids on every response, body size limits, and a problem+json
answer (never a bare 500) for anything unexpected."""

from __future__ import annotations

import json
import logging
import re
import secrets

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import MEDIA_TYPE, problem_body

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


async def _send_problem(send: Send, scope: Scope, status: int, code: str, detail: str) -> None:
    body = problem_body(
        status,
        code,
        detail,
        instance=scope.get("path"),
        request_id=scope.get("state", {}).get("request_id"),
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestIdMiddleware:
    """Takes a sane incoming ``X-Request-Id`` or makes one; echoes it on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = (
            incoming if VALID_REQUEST_ID.match(incoming) else f"req_{secrets.token_hex(12)}"
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                message["headers"] = [*headers, (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error in %s %s (%s)", scope["method"], scope["path"], request_id
            )
            if started:
                raise
            await _send_problem(
                send_with_id, scope, 500, "internal_error", "an unexpected error occurred"
            )


class NulGuardMiddleware:
    """422 for a URL carrying a NUL byte (``%00``): no id, name or filter holds one, and
    PostgreSQL refuses them in queries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            if b"\x00" in raw or b"%00" in raw.lower() or b"%00" in query.lower():
                detail = "NUL characters are not allowed in the URL"
                await _send_problem(send, scope, 422, "validation_error", detail)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over the limit: by ``Content-Length`` at once, else while reading."""

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int, upload_path: str) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload
        self.upload_path = upload_path

    def _limit(self, scope: Scope) -> int:
        content_type = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip()
        is_upload = scope["path"] == self.upload_path and content_type not in (
            b"",
            b"application/json",
        )
        return self.max_upload if is_upload else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_problem(
                send, scope, 413, "payload_too_large", f"the request body exceeds {limit} bytes"
            )
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises an HTTPException met while reading the body.
                    raise HTTPException(413, f"the request body exceeds {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)

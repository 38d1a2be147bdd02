"""Signing in with an ``audit:read`` API key, and signing out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api import refusals
from api.dashboard import auth
from api.dashboard.render import SECURITY_HEADERS, page
from api.deps import DatabaseDep
from api.problems import request_id_of
from domain.actor import Actor
from domain.api_keys import service as api_keys
from domain.audit import service as audit
from domain.sessions import service as sessions

router = APIRouter(prefix="/dashboard")


def _cookie_flags(request: Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/dashboard",
    }


def _login_form(
    request: Request, next_path: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", status, csrf=token, next_path=auth.safe_next(next_path), error=error
    )
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_flags(request))
    return response


@router.get("", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/dashboard/jobs", status_code=303)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, next or "")


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    db: DatabaseDep,
    api_key: Annotated[str, Form(max_length=512)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Sign in; a refused key is counted in the audit log (:mod:`api.refusals`)."""
    response = await run_in_threadpool(_login, request, db, api_key, csrf, next)
    if response.status_code in (401, 403):
        code = "invalid_api_key" if response.status_code == 401 else "insufficient_scope"
        await refusals.note(request, response.status_code, code)
    return response


def _login(request: Request, db: DatabaseDep, api_key: str, csrf: str, next: str) -> Response:
    auth.check_csrf(request, request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf)
    with db.session() as session:
        key = api_keys.authenticate(session, api_key.strip()) if api_key.strip() else None
        actor = None
        if key is not None:
            actor = request.state.actor = Actor(
                tenant=key.tenant,
                name=f"key:{key.id}",
                key_id=key.id,
                scopes=frozenset(key.scopes),
                request_id=request_id_of(request),
            )
        if actor is None or not actor.has_scope(auth.REQUIRED_SCOPE):
            error = (
                "This API key is not valid."
                if actor is None
                else "This API key lacks the audit:read scope the dashboard needs."
            )
            return _login_form(request, next, error, status=401 if actor is None else 403)
        assert key is not None
        audit.record(session, actor, "dashboard.signed_in", "api_key", key.id, {})
        token, _ = sessions.start(session, key.id, key.tenant, auth.SESSION_SECONDS)
    response = RedirectResponse(auth.safe_next(next), status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=auth.SESSION_SECONDS,
        **_cookie_flags(request),
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/dashboard")
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request,
    viewer: auth.ViewerDep,
    db: DatabaseDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    auth.check_csrf(request, viewer.csrf, csrf)
    with db.session() as session:
        key_id = viewer.actor.key_id or ""
        sessions.end(session, request.cookies.get(auth.SESSION_COOKIE))
        audit.record(session, viewer.actor, "dashboard.signed_out", "api_key", key_id, {})
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/dashboard")
    response.headers.update(SECURITY_HEADERS)
    return response

"""Dashboard sessions: an ``audit:read`` API key exchanged for an HttpOnly, SameSite=Strict
cookie holding a random session token; the session lives in the database (only the token's
sha256), so signing out or revoking the key ends it. Plus CSRF checks for forms."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request

from api.deps import DatabaseDep
from api.problems import request_id_of
from domain.actor import Actor
from domain.api_keys import lookup
from domain.sessions import service as sessions

SESSION_COOKIE = "sfd_session"
LOGIN_CSRF_COOKIE = "sfd_login_csrf"
SESSION_SECONDS = 8 * 3600
REQUIRED_SCOPE = "audit:read"


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class CsrfRejected(Exception):
    """A form post without the session's CSRF token or from another origin."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, acting through their API key."""

    actor: Actor
    key_name: str
    csrf: str

    @property
    def tenant(self) -> str:
        assert self.actor.tenant is not None
        return self.actor.tenant


def current_viewer(request: Request, db: DatabaseDep) -> Viewer:
    with db.sessions() as session:
        token = sessions.resolve(session, request.cookies.get(SESSION_COOKIE))
        key = lookup.live(session, token.key_id) if token is not None else None
    if token is None or key is None or key.tenant != token.tenant:
        raise LoginRequired
    actor = Actor(
        tenant=key.tenant,
        name=f"key:{key.id}",
        key_id=key.id,
        scopes=frozenset(key.scopes),
        request_id=request_id_of(request),
    )
    if not actor.has_scope(REQUIRED_SCOPE):
        raise LoginRequired
    return Viewer(actor, key.name, token.csrf)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site (Origin or Referer)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source is None
    return urlparse(source).netloc == request.headers.get("host", request.url.netloc)


def check_csrf(request: Request, expected: str | None, submitted: str | None) -> None:
    if (
        not expected
        or not submitted
        or not hmac.compare_digest(expected, submitted)
        or not same_origin(request)
    ):
        raise CsrfRejected


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/jobs"

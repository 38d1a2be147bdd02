"""Dashboard sessions: an ``audit:read`` API key exchanged for a signed, HttpOnly,
SameSite=Strict cookie naming the key (never holding it), plus CSRF checks for forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request

from api.deps import DatabaseDep, SettingsDep
from api.problems import request_id_of
from domain.actor import Actor
from domain.api_keys import lookup
from domain.keyfiles import secret_bytes
from domain.settings import Settings

SESSION_COOKIE = "sfd_session"
LOGIN_CSRF_COOKIE = "sfd_login_csrf"
SESSION_SECONDS = 8 * 3600
REQUIRED_SCOPE = "audit:read"
KEY_FILE = "dashboard.key"


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class CsrfRejected(Exception):
    """A form post without the session's CSRF token or from another origin."""


@dataclass(frozen=True)
class SessionToken:
    key_id: str
    tenant: str
    csrf: str
    expires: int


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


def session_key(settings: Settings) -> bytes:
    return secret_bytes(settings.dashboard_secret, settings.home / KEY_FILE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def new_session(key_id: str, tenant: str) -> SessionToken:
    expires = int(time.time()) + SESSION_SECONDS
    return SessionToken(key_id, tenant, secrets.token_urlsafe(24), expires)


def encode(token: SessionToken, key: bytes) -> str:
    payload = _b64(json.dumps(asdict(token), separators=(",", ":")).encode())
    return f"{payload}.{_mac(payload, key)}"


def decode(value: str | None, key: bytes) -> SessionToken | None:
    """The token if ``value`` is signed by ``key`` and not expired, else None."""
    if not value or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(payload, key)):
        return None
    try:
        token = SessionToken(**json.loads(_unb64(payload)))
    except (ValueError, TypeError):
        return None
    return token if token.expires > time.time() else None


def current_viewer(request: Request, db: DatabaseDep, settings: SettingsDep) -> Viewer:
    token = decode(request.cookies.get(SESSION_COOKIE), session_key(settings))
    if token is None:
        raise LoginRequired
    with db.sessions() as session:
        key = lookup.live(session, token.key_id)
    if key is None or key.tenant != token.tenant:
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

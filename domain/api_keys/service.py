"""Issuing, checking, revoking and rotating API keys. The secret is shown once; only its
sha256 is kept. A tenant admin manages its own tenant's keys; a platform admin any tenant's.
Every change lands in the audit log of the tenant it touches (and the actor's, if another)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actor import PLATFORM_ADMIN, SCOPES, Actor
from domain.api_keys.models import ApiKey
from domain.audit import service as audit
from domain.db import utcnow
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.ids import new_id
from domain.pagination import Page, paginate
from domain.sessions import service as sessions

KEY_PREFIX = "sfd_"
BOOTSTRAP_KEY_ID = "key_bootstrap_admin"
TENANT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
MAX_LIFETIME = timedelta(days=3650)
MAX_GRACE_SECONDS = 7 * 86400


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise Invalid(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}"
            if unknown
            else "at least one scope is required",
            code="invalid_scopes",
        )
    return scopes


def check_tenant(tenant: str) -> str:
    if not 1 <= len(tenant) <= 64 or not set(tenant) <= TENANT_CHARS:
        raise Invalid("tenant must be 1-64 letters, digits, '-', '_' or '.'", code="invalid_tenant")
    return tenant


def _may_manage(actor: Actor, tenant: str) -> None:
    if actor.tenant != tenant and not actor.is_platform_admin:
        raise Forbidden(
            "a tenant admin manages the keys of its own tenant only", code="tenant_forbidden"
        )


def _record(session: Session, actor: Actor, action: str, key: ApiKey, data: dict) -> None:
    """In the log of the key's tenant, and in the actor's own if that is another."""
    for tenant in dict.fromkeys([key.tenant, actor.tenant]):
        if tenant is not None:
            payload = {"key_tenant": key.tenant, **data}
            audit.record(session, actor, action, "api_key", key.id, payload, tenant=tenant)


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    now = utcnow()
    if expires_at <= now or expires_at > now + MAX_LIFETIME:
        raise Invalid("expires_at must lie in the next 10 years", code="invalid_expiry")
    return expires_at


def create_key(
    session: Session,
    actor: Actor,
    *,
    tenant: str,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    rotated_from: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret (returned once, never stored)."""
    tenant, scopes = check_tenant(tenant), check_scopes(scopes)
    _may_manage(actor, tenant)
    if PLATFORM_ADMIN in scopes and not actor.is_platform_admin:
        raise Forbidden(
            "only a platform admin may issue platform:admin keys", code="scope_forbidden"
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"),
        tenant=tenant,
        name=name,
        scopes=scopes,
        secret_sha256=hash_secret(secret),
        prefix=secret[: len(KEY_PREFIX) + 6],
        created_by=actor.key_id,
        expires_at=_check_expiry(expires_at),
        rotated_from=rotated_from,
    )
    session.add(key)
    session.flush()
    data = {"scopes": key.scopes, "expires_at": _iso(key.expires_at)}
    if rotated_from:
        data["rotated_from"] = rotated_from
    _record(session, actor, "api_key.created", key, data)
    return key, secret


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def get_key(session: Session, actor: Actor, key_id: str) -> ApiKey:
    """A key the actor may manage; 404 for any other (as if it did not exist)."""
    key = session.get(ApiKey, key_id)
    if key is None or (key.tenant != actor.tenant and not actor.is_platform_admin):
        raise NotFound(f"no API key {key_id!r}", code="api_key_not_found")
    return key


def list_keys(
    session: Session, actor: Actor, *, tenant: str | None, after: str | None, limit: int
) -> Page[ApiKey]:
    """One tenant's keys (the actor's own unless a platform admin names another)."""
    tenant = tenant or actor.tenant or ""
    _may_manage(actor, tenant)
    query = select(ApiKey).where(ApiKey.tenant == tenant)
    return paginate(session, query, ApiKey.id, after=after, limit=limit)


def revoke_key(session: Session, actor: Actor, key_id: str) -> ApiKey:
    """Revoke at once (idempotent); its dashboard sessions end with it."""
    key = get_key(session, actor, key_id)
    if key.id == BOOTSTRAP_KEY_ID:
        raise Conflict(
            "the bootstrap key follows SFD_ADMIN_API_KEY; change that setting instead",
            code="bootstrap_key",
        )
    if key.revoked_at is None:
        key.revoked_at, key.revoked_by = utcnow(), actor.key_id or actor.name
        ended = sessions.end_for_key(session, key.id)
        _record(session, actor, "api_key.revoked", key, {"sessions_ended": ended})
    return key


def rotate_key(
    session: Session, actor: Actor, key_id: str, *, grace_seconds: int = 0
) -> tuple[ApiKey, str]:
    """A new key with the old one's tenant, name, scopes and expiry; the old one is revoked
    now, or (``grace_seconds``) expires then, so clients can switch over."""
    old = get_key(session, actor, key_id)
    if old.id == BOOTSTRAP_KEY_ID:
        raise Conflict(
            "the bootstrap key follows SFD_ADMIN_API_KEY; change that setting instead",
            code="bootstrap_key",
        )
    if not old.is_live(utcnow()):
        raise Conflict(f"API key {key_id} is revoked or expired", code="api_key_not_live")
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise Invalid(f"grace_seconds must be 0..{MAX_GRACE_SECONDS}", code="invalid_grace")
    key, secret = create_key(
        session,
        actor,
        tenant=old.tenant,
        name=old.name,
        scopes=old.scopes,
        expires_at=old.expires_at,
        rotated_from=old.id,
    )
    if grace_seconds == 0:
        revoke_key(session, actor, old.id)
    else:
        until = utcnow() + timedelta(seconds=grace_seconds)
        old.expires_at = min(old.expires_at or until, until)
        _record(
            session,
            actor,
            "api_key.rotated",
            old,
            {"replaced_by": key.id, "expires_at": _iso(old.expires_at)},
        )
    return key, secret


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key (not revoked, not expired) whose secret this is, or None."""
    if not secret or len(secret) > 512:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.secret_sha256 == hash_secret(secret)))
    return key if key is not None and key.is_live(utcnow()) else None


def ensure_bootstrap_admin(
    session: Session, secret: str, tenant: str, source: str = "SFD_ADMIN_API_KEY"
) -> None:
    """Make ``secret`` the platform admin key, filed under ``tenant`` and named after where it
    came from (``source``: ``SFD_ADMIN_API_KEY`` or the key file ``sfd serve`` made)."""
    digest = hash_secret(secret)
    name = f"bootstrap admin ({source})"[:200]
    key = session.get(ApiKey, BOOTSTRAP_KEY_ID)
    if key is None:
        session.add(
            ApiKey(
                id=BOOTSTRAP_KEY_ID,
                tenant=check_tenant(tenant),
                name=name,
                scopes=[PLATFORM_ADMIN],
                secret_sha256=digest,
                prefix=secret[:10],
            )
        )
    elif key.secret_sha256 != digest or key.tenant != tenant or key.scopes != [PLATFORM_ADMIN]:
        key.secret_sha256, key.tenant, key.prefix = digest, check_tenant(tenant), secret[:10]
        key.scopes = [PLATFORM_ADMIN]
    if key is not None and key.name != name:
        key.name = name

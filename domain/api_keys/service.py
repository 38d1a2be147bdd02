"""Issuing and checking API keys. The secret is shown once; only its sha256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actor import SCOPES, Actor
from domain.api_keys.models import ApiKey
from domain.audit import service as audit
from domain.errors import Invalid
from domain.ids import new_id

KEY_PREFIX = "sfd_"
BOOTSTRAP_KEY_ID = "key_bootstrap_admin"
TENANT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


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


def create_key(
    session: Session, actor: Actor, *, tenant: str, name: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """A new key and its secret (returned once, never stored)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"),
        tenant=check_tenant(tenant),
        name=name,
        scopes=check_scopes(scopes),
        secret_sha256=hash_secret(secret),
        prefix=secret[: len(KEY_PREFIX) + 6],
        created_by=actor.key_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor,
        "api_key.created",
        "api_key",
        key.id,
        {"key_tenant": key.tenant, "scopes": key.scopes},
    )
    return key, secret


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """The live key whose secret this is, or None."""
    key = session.scalar(select(ApiKey).where(ApiKey.secret_sha256 == hash_secret(secret)))
    return key if key is not None and key.revoked_at is None else None


def ensure_bootstrap_admin(session: Session, secret: str, tenant: str) -> None:
    """Make ``secret`` (from ``SFD_ADMIN_API_KEY``) an admin key of ``tenant``."""
    digest = hash_secret(secret)
    key = session.get(ApiKey, BOOTSTRAP_KEY_ID)
    if key is None:
        session.add(
            ApiKey(
                id=BOOTSTRAP_KEY_ID,
                tenant=check_tenant(tenant),
                name="bootstrap admin (SFD_ADMIN_API_KEY)",
                scopes=["admin"],
                secret_sha256=digest,
                prefix=secret[:10],
            )
        )
    elif key.secret_sha256 != digest or key.tenant != tenant:
        key.secret_sha256, key.tenant, key.prefix = digest, check_tenant(tenant), secret[:10]

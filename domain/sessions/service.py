"""Starting, resolving and ending dashboard sessions. The cookie holds a random token; the
row (by the token's sha256) says whose session it is and whether it still holds."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.sessions.models import DashboardSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, key_id: str, tenant: str, seconds: int) -> tuple[str, DashboardSession]:
    """A new session for ``key_id``; the token (for the cookie) is returned once."""
    token = secrets.token_urlsafe(32)
    row = DashboardSession(
        token_sha256=_digest(token),
        key_id=key_id,
        tenant=tenant,
        csrf=secrets.token_urlsafe(24),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=seconds),
    )
    session.add(row)
    return token, row


def resolve(session: Session, token: str | None) -> DashboardSession | None:
    """The live session of ``token``: not ended, not expired."""
    if not token or len(token) > 128:
        return None
    row = session.get(DashboardSession, _digest(token))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return row


def end(session: Session, token: str | None) -> None:
    if token and len(token) <= 128:
        session.execute(
            update(DashboardSession)
            .where(DashboardSession.token_sha256 == _digest(token))
            .values(ended_at=utcnow())
        )


def end_for_key(session: Session, key_id: str) -> int:
    """End every live session of ``key_id`` (its key was revoked); how many."""
    result = session.execute(
        update(DashboardSession)
        .where(DashboardSession.key_id == key_id, DashboardSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return result.rowcount or 0

"""Idempotency-Key semantics (as Stripe's): the same key and body replay the first response,
the same key with another body is refused (422), a duplicate still in flight conflicts (409)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.db import Database, utcnow
from domain.errors import Conflict, Invalid
from domain.idempotency.models import IdempotencyKey

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def begin(
    db: Database, tenant: str, key: str, request_sha256: str, ttl_seconds: int
) -> Replay | None:
    """Reserve ``key`` (committed at once); a :class:`Replay` if it already completed."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid(
            "Idempotency-Key must be 1-255 printable characters", code="invalid_idempotency_key"
        )
    for _ in range(2):
        try:
            with db.session() as session:
                session.add(IdempotencyKey(tenant=tenant, key=key, request_sha256=request_sha256))
            return None
        except IntegrityError:
            pass
        with db.session() as session:
            row = session.get(IdempotencyKey, (tenant, key))
            if row is None:
                continue
            if row.created_at < utcnow() - timedelta(seconds=ttl_seconds):
                session.delete(row)
                continue
            if row.request_sha256 != request_sha256:
                raise Invalid(
                    "this Idempotency-Key was used with a different request body",
                    code="idempotency_key_reused",
                )
            if row.response_status is None:
                raise Conflict(
                    "a request with this Idempotency-Key is still in progress",
                    code="idempotency_request_in_progress",
                )
            return Replay(row.response_status, row.response_body or {})
    raise Conflict(
        "this Idempotency-Key is contended; retry", code="idempotency_request_in_progress"
    )


def complete(session: Session, tenant: str, key: str, status: int, body: dict[str, Any]) -> None:
    """Store the response, in the same transaction as the work it describes."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.tenant == tenant, IdempotencyKey.key == key)
        .values(response_status=status, response_body=body)
    )


def abandon(db: Database, tenant: str, key: str) -> None:
    """Forget a reservation whose request failed, so the client may retry with the key."""
    with db.session() as session:
        session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.tenant == tenant, IdempotencyKey.key == key)
        )

"""Audit events and chain verification."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from domain.audit.models import AuditEvent
from domain.audit.service import Verification
from domain.db import unix


class AuditEventOut(BaseModel):
    id: int
    object: Literal["audit.event"] = "audit.event"
    created_at: int
    action: str
    actor: str
    actor_key_id: str | None
    object_type: str
    object_id: str
    request_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.seq,
            created_at=unix(event.created_at) or 0,
            action=event.action,
            actor=event.actor,
            actor_key_id=event.actor_key_id,
            object_type=event.object_type,
            object_id=event.object_id,
            request_id=event.request_id,
            data=event.data,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


class VerificationOut(BaseModel):
    object: Literal["audit.verification"] = "audit.verification"
    valid: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    reason: str | None

    @classmethod
    def of(cls, result: Verification) -> VerificationOut:
        return cls(
            valid=result.valid,
            checked=result.checked,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
            first_broken_seq=result.first_broken_seq,
            reason=result.reason,
        )

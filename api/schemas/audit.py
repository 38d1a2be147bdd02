"""Audit events and chain verification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel

from domain.audit.models import AuditEvent
from domain.audit.verification import ChainStatus, TenantView
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


class CheckpointOut(BaseModel):
    seq: int
    hash: str
    created_at: str
    key: str
    keyid: str


class ChainOut(BaseModel):
    """The whole chain's state: platform admins only."""

    head_seq: int
    head_hash: str
    checked: int
    first_broken_seq: int | None
    reason: str | None
    checkpoint: CheckpointOut | None


class VerificationOut(BaseModel):
    """A tenant's view: only its own events are counted or named."""

    object: Literal["audit.verification"] = "audit.verification"
    valid: bool
    events: int
    last_event_id: int | None
    anchored_through_event_id: int | None
    checkpoint_at: str | None
    first_broken_id: int | None
    reason: str | None
    chain: ChainOut | None = None

    @classmethod
    def of(cls, view: TenantView, status: ChainStatus | None = None) -> VerificationOut:
        chain = None
        if status is not None:
            chain = ChainOut(
                head_seq=status.head_seq,
                head_hash=status.head_hash,
                checked=status.checked,
                first_broken_seq=status.first_broken_seq,
                reason=status.reason,
                checkpoint=CheckpointOut(**asdict(status.checkpoint))
                if status.checkpoint
                else None,
            )
        return cls(**asdict(view), chain=chain)

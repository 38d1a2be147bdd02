"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from domain.db import utcnow
from domain.hashing import sha256_json
from domain.pagination import Page, paginate

HEAD_ID = 1
VERIFY_BATCH = 1000


def _chained_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(timespec="microseconds"),
        "tenant": event.tenant,
        "actor_key_id": event.actor_key_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "request_id": event.request_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    return sha256_json(_chained_fields(event))


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    data: dict[str, Any] | None = None,
    *,
    tenant: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; appends are serialised by the head row.
    It goes to the log of ``tenant`` (default: the actor's), the tenant the action touches.
    The caller's pending rows are written first, so the head row stays locked (until the
    commit) for as few statements as possible."""
    session.flush()
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
        .execution_options(synchronize_session=False)
    ).one()
    event = AuditEvent(
        seq=seq,
        created_at=utcnow(),
        tenant=tenant if tenant is not None else actor.tenant,
        actor_key_id=actor.key_id,
        actor=actor.name,
        action=action,
        object_type=object_type,
        object_id=object_id,
        request_id=actor.request_id,
        data=data or {},
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=event.hash))
    return event


def list_events(
    session: Session,
    tenant: str,
    *,
    action: str | None = None,
    object_id: str | None = None,
    after: int | None = None,
    limit: int = 20,
) -> Page[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.tenant == tenant)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    return paginate(session, query, AuditEvent.seq, after=after, limit=limit)


@dataclass
class Verification:
    valid: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None
    last_seq: int = 0


def verify(
    session: Session,
    *,
    start_seq: int = 0,
    start_hash: str = GENESIS_HASH,
) -> Verification:
    """Recompute the chain after row ``start_seq`` (whose hash is ``start_hash``; from the
    start by default) up to the head row; name the first row whose hash or link does not
    match."""
    head_seq, head_hash = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
    ).one()
    expected_seq, prev_hash, checked = start_seq + 1, start_hash, 0

    def broken(seq: int, reason: str) -> Verification:
        last = expected_seq - 1
        return Verification(False, checked, head_seq, head_hash, seq, reason, last)

    query = (
        select(AuditEvent)
        .where(AuditEvent.seq > start_seq, AuditEvent.seq <= head_seq)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    for event in session.scalars(query):
        if event.seq != expected_seq:
            return broken(expected_seq, f"row {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return broken(event.seq, "prev_hash does not match the previous row's hash")
        if event_hash(event) != event.hash:
            return broken(event.seq, "the row's contents do not match its hash")
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
        session.expunge(event)
    last = expected_seq - 1
    if last != head_seq or prev_hash != head_hash:
        return broken(last + 1, f"rows after {last} are missing (head is at {head_seq})")
    return Verification(True, checked, head_seq, head_hash, None, None, last)

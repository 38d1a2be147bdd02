"""Verifying the audit chain against its newest signed checkpoint, incrementally, and
describing the result to a tenant without showing it anything of other tenants."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.audit import service
from domain.audit.anchor import AnchorStore, Checkpoint
from domain.audit.models import GENESIS_HASH, AuditEvent
from domain.signing import SignatureProblem


@dataclass(frozen=True)
class ChainStatus:
    """The whole chain's state (platform view)."""

    valid: bool
    checked: int  # rows recomputed by this call
    head_seq: int
    head_hash: str
    checkpoint: Checkpoint | None  # the newest signed checkpoint
    first_broken_seq: int | None = None
    reason: str | None = None


class AuditVerifier:
    """Checks the rows against the newest signed checkpoint. After a valid run it starts the
    next one from that checkpoint (incremental); ``full=True`` starts from the first row."""

    def __init__(self, anchor: AnchorStore) -> None:
        self.anchor = anchor
        self._lock = threading.Lock()
        self._start = (0, GENESIS_HASH)

    def verify(self, session: Session, *, full: bool = False) -> ChainStatus:
        with self._lock:
            start_seq, start_hash = (0, GENESIS_HASH) if full else self._start
            try:
                checkpoint = self.anchor.latest()
            except SignatureProblem as exc:
                result = service.verify(session, start_seq=start_seq, start_hash=start_hash)
                return ChainStatus(
                    False, result.checked, result.head_seq, result.head_hash, None, None, str(exc)
                )
            result = service.verify(session, start_seq=start_seq, start_hash=start_hash)
            missing = _first_missing(session, start_seq)

            def status(broken: int | None = None, reason: str | None = None) -> ChainStatus:
                valid = broken is None and result.valid
                return ChainStatus(
                    valid,
                    result.checked,
                    result.head_seq,
                    result.head_hash,
                    checkpoint,
                    broken if broken is not None else result.first_broken_seq,
                    reason or result.reason,
                )

            if missing is not None:
                # An incremental run recomputes only the newer rows; a deleted older row still
                # shows as a gap in the numbering (a count on the index).
                return status(
                    missing,
                    f"row {missing} is missing from the rows verified before: rows were removed",
                )
            if not result.valid:
                return status()
            if checkpoint is None:
                return status()
            if checkpoint.seq > result.last_seq:
                return status(
                    result.last_seq + 1,
                    f"the log ends at row {result.last_seq}, but a signed checkpoint "
                    f"({checkpoint.created_at}) covers row {checkpoint.seq}: rows were removed",
                )
            row = session.get(AuditEvent, checkpoint.seq)
            if row is None or service.event_hash(row) != checkpoint.hash:
                return status(
                    checkpoint.seq,
                    f"row {checkpoint.seq} differs from its signed checkpoint "
                    f"({checkpoint.created_at}): the log was rewritten",
                )
            self._start = (checkpoint.seq, checkpoint.hash)
            return status()


def _first_missing(session: Session, upto: int) -> int | None:
    """The first absent row number in ``1..upto`` (rows are numbered without gaps)."""
    if upto == 0:
        return None
    present = session.scalar(select(func.count()).where(AuditEvent.seq <= upto))
    if present == upto:
        return None
    if session.get(AuditEvent, 1) is None:
        return 1
    seq = AuditEvent.__table__.c.seq
    gaps = select(seq + 1).where(seq < upto, (seq + 1).not_in(select(seq))).subquery()
    return session.scalar(select(func.min(gaps.c[0])))


@dataclass(frozen=True)
class TenantView:
    """What a tenant may see of a verification: only its own events."""

    valid: bool
    events: int  # the tenant's events in the verified log
    last_event_id: int | None
    anchored_through_event_id: int | None  # the tenant's newest event a checkpoint covers
    checkpoint_at: str | None
    first_broken_id: int | None  # only when the broken row is the tenant's own
    reason: str | None


def tenant_view(session: Session, status: ChainStatus, tenant: str) -> TenantView:
    mine = select(func.count(), func.max(AuditEvent.seq)).where(
        AuditEvent.tenant == tenant, AuditEvent.seq <= status.head_seq
    )
    events, last = session.execute(mine).one()
    anchored = None
    if status.checkpoint is not None:
        anchored = session.scalar(
            select(func.max(AuditEvent.seq)).where(
                AuditEvent.tenant == tenant, AuditEvent.seq <= status.checkpoint.seq
            )
        )
    broken, reason = None, None
    if not status.valid:
        owner = None
        if status.first_broken_seq is not None:
            owner = session.scalar(
                select(AuditEvent.tenant).where(AuditEvent.seq == status.first_broken_seq)
            )
        if owner == tenant:
            broken, reason = status.first_broken_seq, status.reason
        else:
            reason = (
                "the audit log does not verify at a row outside this tenant "
                "(a platform admin sees which)"
            )
    return TenantView(
        status.valid,
        int(events or 0),
        last,
        anchored,
        status.checkpoint.created_at if status.checkpoint else None,
        broken,
        reason,
    )

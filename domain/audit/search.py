"""Searching a tenant's audit events (actor, action, object, date) and exporting them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from domain.audit.models import AuditEvent
from domain.pagination import Page, paginate

EXPORT_BATCH = 500


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # substring of the actor, e.g. a key id
    action: str | None = None  # prefix, e.g. ``job.`` or ``job.succeeded``
    object_id: str | None = None  # substring of the object id
    created_from: datetime | None = None
    created_before: datetime | None = None


def _query(tenant: str, where: AuditFilter) -> Select:
    query = select(AuditEvent).where(AuditEvent.tenant == tenant)
    if where.actor:
        query = query.where(AuditEvent.actor.contains(where.actor, autoescape=True))
    if where.action:
        query = query.where(AuditEvent.action.startswith(where.action, autoescape=True))
    if where.object_id:
        query = query.where(AuditEvent.object_id.contains(where.object_id, autoescape=True))
    if where.created_from:
        query = query.where(AuditEvent.created_at >= where.created_from)
    if where.created_before:
        query = query.where(AuditEvent.created_at < where.created_before)
    return query


def search_events(
    session: Session, tenant: str, where: AuditFilter, *, after: int | None, limit: int
) -> Page[AuditEvent]:
    """The tenant's events matching ``where``, newest first."""
    return paginate(session, _query(tenant, where), AuditEvent.seq, after=after, limit=limit)


def export_events(session: Session, tenant: str, where: AuditFilter) -> Iterator[AuditEvent]:
    """Every matching event, oldest first, read in batches."""
    query = _query(tenant, where).order_by(AuditEvent.seq)
    yield from session.scalars(query.execution_options(yield_per=EXPORT_BATCH))


def find_event(session: Session, tenant: str, action: str, object_id: str) -> AuditEvent | None:
    """The tenant's latest event ``action`` on ``object_id`` (e.g. a job's ``job.succeeded``)."""
    query = select(AuditEvent).where(
        AuditEvent.tenant == tenant,
        AuditEvent.action == action,
        AuditEvent.object_id == object_id,
    )
    return session.scalar(query.order_by(AuditEvent.seq.desc()).limit(1))

"""Finding jobs for people: filters by state, model and creation date; counts per model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.jobs.models import Job
from domain.pagination import Page, paginate


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    model_id: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


def search_jobs(
    session: Session, tenant: str, where: JobFilter, *, after: str | None, limit: int
) -> Page[Job]:
    """The tenant's jobs matching ``where``, newest first."""
    query = select(Job).where(Job.tenant == tenant, Job.deleted_at.is_(None))
    if where.status:
        query = query.where(Job.status == where.status)
    if where.model_id:
        query = query.where(Job.model_id == where.model_id)
    if where.created_from:
        query = query.where(Job.created_at >= where.created_from)
    if where.created_before:
        query = query.where(Job.created_at < where.created_before)
    return paginate(session, query, Job.id, after=after, limit=limit)


def counts_by_model(session: Session, tenant: str) -> dict[str, dict[str, int]]:
    """``{model_id: {status: number of the tenant's jobs}}``."""
    query = (
        select(Job.model_id, Job.status, func.count())
        .where(Job.tenant == tenant)
        .group_by(Job.model_id, Job.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for model_id, status, count in session.execute(query):
        counts.setdefault(model_id, {})[status] = count
    return counts

"""Per-tenant quotas: queued jobs and steps per period (checked when a job is submitted) and
running jobs (checked when a worker claims one). Counts come from the job rows, the source of
truth; on PostgreSQL a per-tenant advisory lock serialises the check and the write."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, func, not_, select, text
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.errors import TooManyRequests
from domain.jobs import states
from domain.jobs.models import Job
from domain.settings import Settings

QUEUED_RETRY_SECONDS = 30  # a hint: queued jobs leave the queue as workers free up
LOCK_NAMESPACE = "sfd-tenant:"


@dataclass(frozen=True)
class Quota:
    """One tenant's limits; 0 means none."""

    max_queued_jobs: int
    max_running_jobs: int
    max_steps_per_period: int


def quota_for(settings: Settings, tenant: str) -> Quota:
    """The deployment's defaults with the tenant's overrides from ``SFD_TENANT_QUOTAS``."""
    defaults = {
        "max_queued_jobs": settings.max_queued_jobs_per_tenant,
        "max_running_jobs": settings.max_running_jobs_per_tenant,
        "max_steps_per_period": settings.max_steps_per_period,
    }
    return Quota(**{**defaults, **settings.tenant_quotas.get(tenant, {})})


def lock_tenant(session: Session, tenant: str) -> None:
    """Serialise quota checks of ``tenant`` until the transaction ends (PostgreSQL; SQLite
    serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": LOCK_NAMESPACE + tenant},
        )


def running_jobs(session: Session, tenant: str) -> int:
    query = select(func.count()).where(Job.tenant == tenant, Job.status.in_(states.ACTIVE))
    return session.scalar(query) or 0


def check_submission(session: Session, settings: Settings, tenant: str, steps: int) -> None:
    """Raise 429 (``quota_queued_jobs`` or ``quota_steps``, with ``Retry-After``) if one more
    job of ``steps`` steps would exceed the tenant's quota. Call it under :func:`lock_tenant`."""
    quota = quota_for(settings, tenant)
    if quota.max_queued_jobs:
        queued = session.scalar(
            select(func.count()).where(Job.tenant == tenant, Job.status == states.QUEUED)
        )
        if (queued or 0) >= quota.max_queued_jobs:
            raise TooManyRequests(
                f"tenant {tenant} already has {queued} queued jobs (quota "
                f"{quota.max_queued_jobs}); wait for some to start",
                code="quota_queued_jobs",
                headers={"Retry-After": str(QUEUED_RETRY_SECONDS)},
            )
    if quota.max_steps_per_period:
        _check_steps(session, settings, tenant, steps, quota.max_steps_per_period)


def _check_steps(session: Session, settings: Settings, tenant: str, steps: int, limit: int) -> None:
    now = utcnow()
    since = now - timedelta(seconds=settings.quota_period_seconds)
    never_ran = and_(Job.status == states.CANCELLED, Job.started_at.is_(None))
    used, oldest = session.execute(
        select(func.coalesce(func.sum(Job.steps), 0), func.min(Job.created_at)).where(
            Job.tenant == tenant, Job.created_at >= since, not_(never_ran)
        )
    ).one()
    if used + steps <= limit:
        return
    retry = settings.quota_period_seconds
    if oldest is not None and steps <= limit:
        retry = max(1, math.ceil((oldest - since).total_seconds()))
    raise TooManyRequests(
        f"{used} of tenant {tenant}'s {limit} steps per {settings.quota_period_seconds} s are "
        f"used; this job needs {steps}",
        code="quota_steps",
        headers={"Retry-After": str(retry)},
    )

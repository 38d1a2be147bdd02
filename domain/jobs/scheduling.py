"""Which queued jobs run next: fair across tenants, not first come first served.

Each pick goes to the tenant with the smallest share: its job starts in the last
``SFD_FAIR_SHARE_WINDOW_SECONDS`` divided by its weight (``SFD_TENANT_WEIGHTS``, default 1);
ties go to the tenant served least recently, then to the oldest job. A tenant at its running
quota is skipped. So a tenant with 200 queued jobs cannot make another wait behind them: the
other's first job takes the next free slot. The result is a hint; the claim decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import Job
from domain.quotas.service import quota_for
from domain.settings import Settings

NEVER = datetime.min.replace(tzinfo=utcnow().tzinfo)


@dataclass
class _Tenant:
    weight: float
    started: int
    last_started: datetime
    running: int
    limit: int  # running-jobs quota, 0: none
    queue: list[str]

    def share(self) -> float:
        return self.started / self.weight

    def full(self) -> bool:
        return self.limit > 0 and self.running >= self.limit


def next_fair(
    session: Session,
    limit: int,
    *,
    exclude: Iterable[str] = (),
    weights: dict[str, float] | None = None,
    running_limit: Callable[[str], int] = lambda tenant: 0,
    window_seconds: int = 3600,
) -> list[str]:
    """Up to ``limit`` queued job ids, in the order they should start. ``exclude``: jobs
    already handed to a runner; those not claimed yet count as starts (and running jobs) of
    their tenants, so a slot freed before a spawned job process claims its job does not go to
    the same tenant again."""
    excluded = list(exclude)
    queued = select(Job.tenant, Job.id).where(Job.status == states.QUEUED)
    if excluded:
        queued = queued.where(Job.id.not_in(excluded))
    # Each tenant's oldest ``limit`` queued jobs are all any pick can need.
    rank = func.row_number().over(partition_by=Job.tenant, order_by=Job.id).label("rank")
    ranked = queued.add_columns(rank).subquery()
    rows = session.execute(
        select(ranked.c.tenant, ranked.c.id).where(ranked.c.rank <= limit).order_by(ranked.c.id)
    ).all()
    if not rows:
        return []
    names = sorted({tenant for tenant, _ in rows})
    since = utcnow() - timedelta(seconds=window_seconds)
    served = {
        tenant: (count, last)
        for tenant, count, last in session.execute(
            select(Job.tenant, func.count(), func.max(Job.started_at))
            .where(Job.tenant.in_(names), Job.started_at >= since)
            .group_by(Job.tenant)
        )
    }
    running = dict(
        session.execute(
            select(Job.tenant, func.count())
            .where(Job.tenant.in_(names), Job.status.in_(states.ACTIVE))
            .group_by(Job.tenant)
        ).all()
    )
    handed = (
        dict(
            session.execute(
                select(Job.tenant, func.count())
                .where(Job.id.in_(excluded), Job.status == states.QUEUED)
                .group_by(Job.tenant)
            ).all()
        )
        if excluded
        else {}
    )
    now = utcnow()
    tenants = {
        name: _Tenant(
            weight=(weights or {}).get(name, 1.0),
            started=served.get(name, (0, None))[0] + handed.get(name, 0),
            last_started=now if name in handed else served.get(name, (0, None))[1] or NEVER,
            running=running.get(name, 0) + handed.get(name, 0),
            limit=running_limit(name),
            queue=[],
        )
        for name in names
    }
    for tenant, job_id in rows:
        tenants[tenant].queue.append(job_id)
    return _pick(tenants, limit)


def _pick(tenants: dict[str, _Tenant], limit: int) -> list[str]:
    picked: list[str] = []
    now = utcnow()
    while len(picked) < limit:
        ready = [t for t in tenants.values() if t.queue and not t.full()]
        if not ready:
            break
        best = min(ready, key=lambda t: (t.share(), t.last_started, t.queue[0]))
        picked.append(best.queue.pop(0))
        best.started, best.running, best.last_started = best.started + 1, best.running + 1, now
    return picked


def next_jobs(
    session: Session, settings: Settings, limit: int, exclude: Iterable[str] = ()
) -> list[str]:
    """:func:`next_fair` with the deployment's weights, quotas and window."""
    return next_fair(
        session,
        limit,
        exclude=exclude,
        weights=settings.tenant_weights,
        running_limit=running_limit(settings),
        window_seconds=settings.fair_share_window_seconds,
    )


def running_limit(settings: Settings) -> Callable[[str], int]:
    """A tenant's running-jobs quota (0: none)."""
    return lambda tenant: quota_for(settings, tenant).max_running_jobs

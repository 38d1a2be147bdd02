"""Jobs as runners see them: claim, hold a lease, report progress, finish, and reap.

Every runner (the embedded one, issue 4's Celery workers) goes through these functions; the
job row is the source of truth and every change is a conditional UPDATE, so two workers can
never both hold a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import Job, JobEvent
from domain.jobs.transitions import transition
from domain.jobs.verdict import failed_criteria, verdict_of
from domain.quotas import service as quotas


def claim(
    session: Session,
    job_id: str,
    worker_id: str,
    lease_seconds: int,
    *,
    max_gpus: int | None = None,
    running_limit: Callable[[str], int] = lambda tenant: 0,
) -> Job | None:
    """Take a queued job for ``worker_id``; None if it is not queued (taken or cancelled), asks
    for more than ``max_gpus`` GPUs, or its tenant already runs ``running_limit(tenant)`` jobs
    (0: no limit)."""
    now = utcnow()
    job = session.get(Job, job_id)
    if job is None or (max_gpus is not None and job.gpus > max_gpus):
        return None
    limit = running_limit(job.tenant)
    if limit:
        quotas.lock_tenant(session, job.tenant)
        if quotas.running_jobs(session, job.tenant) >= limit:
            return None
    previous = transition(
        session,
        job_id,
        {states.QUEUED},
        states.RUNNING,
        values={
            "worker_id": worker_id,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "attempt": Job.attempt + 1,
            "started_at": now,
            "error_code": None,
            "error_message": None,
        },
        event={"worker_id": worker_id},
    )
    if previous is None:
        return None
    session.refresh(job)
    audit.record(
        session,
        Actor.worker(worker_id, job.tenant),
        "job.started",
        "job",
        job_id,
        {"attempt": job.attempt},
    )
    return job


def heartbeat(session: Session, job_id: str, worker_id: str, lease_seconds: int) -> str | None:
    """Renew the lease; the job's state (``running``/``cancelling``), or None if it was lost."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.status.in_(states.ACTIVE))
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        .returning(Job.status)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


def record_progress(
    session: Session,
    job_id: str,
    worker_id: str,
    progress: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    message: str | None = None,
) -> bool:
    """Store a progress report (and its metrics or log line); False if the job was lost."""
    values: dict[str, Any] = {
        "progress_step": progress["step"],
        "progress_total": progress["total"],
        "progress_phase": progress["phase"],
        "eta_seconds": progress.get("eta_seconds"),
    }
    if progress.get("losses"):
        values["latest_losses"] = progress["losses"]
    if metrics:
        values["latest_metrics"] = metrics
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.status.in_(states.ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(JobEvent(job_id=job_id, type="progress", data=progress))
    if metrics:
        session.add(
            JobEvent(job_id=job_id, type="metrics", data={"step": progress["step"], **metrics})
        )
    if message:
        log(session, job_id, message)
    return True


def log(session: Session, job_id: str, message: str, level: str = "info") -> None:
    session.add(JobEvent(job_id=job_id, type="log", data={"level": level, "message": message}))


def succeed(
    session: Session, job: Job, worker_id: str, report: dict[str, Any], artifacts: dict[str, str]
) -> bool:
    """``running -> succeeded`` with the final metrics and the report's verdict; False if
    cancelled or lost meanwhile. The verdict gets its own audit row (``job.verdict``), just
    before ``job.succeeded``: the completion stays the job's last row, the one certificates
    name and the audit checkpoint they are issued at covers.

    ``artifacts`` maps names to sha256 for the audit log; the caller adds the rows.
    """
    verdict = verdict_of(report)
    previous = transition(
        session,
        job.id,
        {states.RUNNING},
        states.SUCCEEDED,
        worker_id=worker_id,
        values={
            "latest_metrics": report,
            "verdict": verdict,
            "progress_step": job.progress_total,
            "eta_seconds": 0,
        },
    )
    if previous is None:
        return False
    actor = Actor.worker(worker_id, job.tenant)
    audit.record(
        session,
        actor,
        "job.verdict",
        "job",
        job.id,
        {"verdict": verdict, "failed": failed_criteria(report), "probes": job.probes},
    )
    audit.record(
        session,
        actor,
        "job.succeeded",
        "job",
        job.id,
        {"artifacts_sha256": artifacts, "generator_sha256": report.get("generator_sha256")},
    )
    return True


def fail(session: Session, job: Job, worker_id: str | None, code: str, message: str) -> str | None:
    """End a job with an error; one being cancelled ends ``cancelled``. The new state or None."""
    return _end(session, job, worker_id, code, message)


def cancel(session: Session, job: Job, worker_id: str | None) -> str | None:
    """``cancelling -> cancelled`` (the worker stopped); the new state or None."""
    return _end(session, job, worker_id, None, None)


def _end(
    session: Session, job: Job, worker_id: str | None, code: str | None, message: str | None
) -> str | None:
    actor = Actor.worker(worker_id, job.tenant) if worker_id else Actor.system(job.tenant)
    if code is not None:
        error = {"error_code": code, "error_message": message[:4000] if message else None}
        if transition(
            session, job.id, {states.RUNNING}, states.FAILED, worker_id=worker_id, values=error
        ):
            audit.record(session, actor, "job.failed", "job", job.id, {"error_code": code})
            return states.FAILED
    if transition(session, job.id, {states.CANCELLING}, states.CANCELLED, worker_id=worker_id):
        audit.record(session, actor, "job.cancelled", "job", job.id, {})
        return states.CANCELLED
    return None


def release(
    session: Session, job: Job, worker_id: str | None, max_attempts: int, reason: str
) -> str | None:
    """Give back a job whose worker is gone: re-queued, failed after ``max_attempts``, or
    cancelled if a cancel was pending. The new state, or None if it moved meanwhile."""
    if job.status == states.CANCELLING:
        return cancel(session, job, worker_id)
    if job.attempt >= max_attempts:
        return fail(
            session,
            job,
            worker_id,
            "attempts_exhausted",
            f"{reason}; gave up after {job.attempt} attempt(s)",
        )
    if transition(
        session,
        job.id,
        {states.RUNNING},
        states.QUEUED,
        worker_id=worker_id,
        values={"worker_id": None, "lease_expires_at": None},
        event={"reason": reason},
    ):
        log(session, job.id, f"re-queued: {reason}", level="warning")
        return states.QUEUED
    return None


@dataclass
class Reaped:
    job_id: str
    state: str


def reap(
    session: Session,
    max_attempts: int,
    *,
    worker_is_dead: Callable[[str], bool] | None = None,
) -> list[Reaped]:
    """Release every active job whose lease expired or whose worker is known to be dead."""
    now = utcnow()
    reaped: list[Reaped] = []
    active: Iterable[Job] = session.scalars(select(Job).where(Job.status.in_(states.ACTIVE)))
    for job in list(active):
        expired = job.lease_expires_at is not None and job.lease_expires_at < now
        dead = (
            worker_is_dead is not None
            and job.worker_id is not None
            and worker_is_dead(job.worker_id)
        )
        if not (expired or dead):
            continue
        reason = "the worker's lease expired" if expired else "the worker process is gone"
        state = release(session, job, job.worker_id, max_attempts, reason)
        if state is not None:
            reaped.append(Reaped(job.id, state))
    return reaped


def next_queued(
    session: Session, limit: int, exclude: Iterable[str] = (), max_gpus: int | None = None
) -> list[str]:
    """Ids of the oldest queued jobs, of at most ``max_gpus`` GPUs (a hint: the claim decides)."""
    query = select(Job.id).where(Job.status == states.QUEUED)
    if max_gpus is not None:
        query = query.where(Job.gpus <= max_gpus)
    excluded = list(exclude)
    if excluded:
        query = query.where(Job.id.not_in(excluded))
    return list(session.scalars(query.order_by(Job.id).limit(limit)))


def count_queued(session: Session) -> int:
    """How many jobs wait for a worker (the reaper tops the broker queue up to this)."""
    query = select(func.count()).select_from(Job).where(Job.status == states.QUEUED)
    return session.scalar(query) or 0

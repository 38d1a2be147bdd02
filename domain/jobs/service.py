"""Jobs as callers of the API see them: create, read, list, cancel, history."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.audit import service as audit
from domain.base_models import service as base_models
from domain.db import utcnow
from domain.errors import Conflict, Gone, NotFound
from domain.ids import new_id
from domain.jobs import states
from domain.jobs.models import Job, JobEvent
from domain.jobs.transitions import transition
from domain.jobs.validation import JobRequest, resolved_steps, validate
from domain.pagination import Page, paginate
from domain.quotas import service as quotas
from domain.settings import Settings
from domain.webhooks import service as webhooks
from domain.workers import service as workers


def create_job(
    session: Session, settings: Settings, actor: Actor, request: JobRequest, request_sha256: str
) -> Job:
    """Validate ``request`` against its model and queue it."""
    assert actor.tenant is not None
    # FOR SHARE: a concurrent DELETE /v1/models/{id} waits for this job, then sees it.
    model = base_models.get_visible(session, actor.tenant, request.model, lock=True)
    request = replace(request, steps=resolved_steps(request, model, settings))
    # The embedded runner runs every job on this host: only the setting bounds its gpus.
    fleet = None if settings.runner == "embedded" else workers.largest_live_gpus(session, settings)
    validate(request, model, settings, fleet)
    quotas.lock_tenant(session, actor.tenant)
    quotas.check_submission(session, settings, actor.tenant, request.steps)
    job = Job(
        id=new_id("job"),
        tenant=actor.tenant,
        created_by_key_id=actor.key_id,
        model_id=model.id,
        unsafe=list(request.unsafe),
        surrogate=list(request.surrogate) if request.surrogate is not None else None,
        surrogate_mode=request.surrogate_mode,
        steps=request.steps,
        seed=request.seed,
        eval_samples_per_class=request.eval_samples_per_class,
        hyperparameters=dict(request.hyperparameters),
        options=dict(request.options),
        job_metadata=dict(request.metadata),
        probes=request.probes or settings.probes,
        policy=dict(request.policy),
        gpus=request.gpus,
        request_sha256=request_sha256,
        status=states.QUEUED,
        progress_step=0,
        progress_total=request.steps,
        attempt=0,
    )
    session.add(job)
    session.flush()
    session.add(JobEvent(job_id=job.id, type="state", data={"from": None, "to": states.QUEUED}))
    webhooks.job_event(session, job.tenant, job.id, None, states.QUEUED)
    audit.record(
        session,
        actor,
        "job.created",
        "job",
        job.id,
        {"request_sha256": request_sha256, "model_id": model.id, "model_sha256": model.sha256},
    )
    return job


def get_job(session: Session, tenant: str, job_id: str, *, deleted: bool = False) -> Job:
    """The tenant's job; 404 for another tenant's, 410 once deleted (unless ``deleted``)."""
    job = session.scalar(select(Job).where(Job.id == job_id, Job.tenant == tenant))
    if job is None:
        raise NotFound(f"no job {job_id!r}", code="job_not_found")
    if job.deleted_at is not None and not deleted:
        raise Gone(
            f"job {job_id} was deleted on {job.deleted_at:%Y-%m-%d %H:%M} UTC",
            code="job_deleted",
        )
    return job


def list_jobs(
    session: Session, tenant: str, *, status: str | None, after: str | None, limit: int
) -> Page[Job]:
    query = select(Job).where(Job.tenant == tenant, Job.deleted_at.is_(None))
    if status is not None:
        query = query.where(Job.status == status)
    return paginate(session, query, Job.id, after=after, limit=limit)


def request_cancel(session: Session, actor: Actor, job_id: str) -> Job:
    """Queued jobs are cancelled at once; running ones go to ``cancelling`` for the worker."""
    assert actor.tenant is not None
    job = get_job(session, actor.tenant, job_id)
    if job.status == states.CANCELLING:
        return job
    requested = {"cancel_requested_at": utcnow()}
    previous = transition(
        session, job_id, {states.QUEUED}, states.CANCELLED, values=requested
    ) or transition(session, job_id, {states.RUNNING}, states.CANCELLING, values=requested)
    if previous is None:
        session.refresh(job)
        if job.status == states.CANCELLING:
            return job
        raise Conflict(f"job {job_id} is already {job.status}", code="job_not_cancellable")
    audit.record(session, actor, "job.cancel_requested", "job", job_id, {"from": previous})
    if previous == states.QUEUED:
        audit.record(session, actor, "job.cancelled", "job", job_id, {})
    session.refresh(job)
    return job


def list_events(
    session: Session, tenant: str, job_id: str, *, after: int | None, limit: int
) -> Page[JobEvent]:
    """A job's history, oldest first."""
    get_job(session, tenant, job_id)
    query = select(JobEvent).where(JobEvent.job_id == job_id)
    return paginate(session, query, JobEvent.seq, after=after, limit=limit, descending=False)

"""Deleting a job's stored files, or all of a job's stored data, and expiring old artifacts.

Objects go first, then the rows are marked in one transaction with the audit event: a failure
in between leaves rows that say "present" for files that are gone (a retry finishes the job),
never rows that say "deleted" for files that are still stored. Rows stay as tombstones:
the audit log and certificates name them, and the log itself is never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.artifacts.models import Artifact
from domain.audit import service as audit
from domain.db import Database, utcnow
from domain.errors import Conflict
from domain.idempotency.models import IdempotencyKey
from domain.jobs import service as jobs
from domain.jobs import states
from domain.jobs.models import Job, JobEvent
from domain.settings import Settings
from domain.storage import Storage

EXPIRY_BATCH = 100


def job_prefix(job_id: str) -> str:
    """Every object a job stores lies under this prefix (attempts' artifacts, checkpoints)."""
    return f"jobs/{job_id}/"


def purge_objects(storage: Storage, job_id: str) -> int:
    """Delete every stored object of ``job_id``; how many there were."""
    keys = [info.key for info in storage.list(job_prefix(job_id))]
    for key in keys:
        storage.delete(key)
    return len(keys)


def _finished(session: Session, actor: Actor, job_id: str) -> Job:
    assert actor.tenant is not None
    job = jobs.get_job(session, actor.tenant, job_id)
    if job.status not in states.TERMINAL:
        raise Conflict(
            f"job {job_id} is {job.status}; cancel it or wait for it to end first",
            code="job_active",
        )
    return job


def _mark_files(session: Session, job_id: str, when: datetime) -> dict[str, str]:
    """Mark the job's not yet deleted artifact rows deleted; ``{name: sha256}`` of those."""
    files = list(
        session.scalars(
            select(Artifact).where(Artifact.job_id == job_id, Artifact.deleted_at.is_(None))
        )
    )
    for artifact in files:
        artifact.deleted_at = when
    return {artifact.name: artifact.sha256 for artifact in files}


def _delete_files(
    db: Database, storage: Storage, actor: Actor, job: Job, reason: str
) -> datetime | None:
    """Delete ``job``'s stored files and record it; when, or None if nothing was left."""
    objects = purge_objects(storage, job.id)
    with db.session() as session:
        now = utcnow()
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.artifacts_deleted_at.is_(None))
            .values(artifacts_deleted_at=now)
            .execution_options(synchronize_session=False)
        )
        files = _mark_files(session, job.id, now)
        if not (files or objects):
            return None
        audit.record(
            session,
            actor,
            "job.artifacts_deleted",
            "job",
            job.id,
            {"reason": reason, "artifacts_sha256": files, "objects": objects},
            tenant=job.tenant,
        )
        return now


def delete_artifacts(db: Database, storage: Storage, actor: Actor, job_id: str) -> Job:
    """``DELETE /v1/jobs/{id}/artifacts``: the job's stored files go, its record stays."""
    with db.session() as session:
        job = _finished(session, actor, job_id)
    _delete_files(db, storage, actor, job, "request")
    with db.sessions() as session:
        return jobs.get_job(session, job.tenant, job_id)


def delete_job(db: Database, storage: Storage, actor: Actor, job_id: str) -> None:
    """``DELETE /v1/jobs/{id}``: all the job's stored data goes (files, request, report,
    history, idempotency record); a tombstone row keeps its id, state, timestamps, hashes
    and the artifacts' sha256, which the audit log names."""
    with db.session() as session:
        job = _finished(session, actor, job_id)
    objects = purge_objects(storage, job.id)
    with db.session() as session:
        now = utcnow()
        claimed = session.execute(
            update(Job)
            .where(Job.id == job.id, Job.deleted_at.is_(None))
            .values(
                deleted_at=now,
                unsafe=[],
                surrogate=None,
                hyperparameters={},
                options={},
                job_metadata={},
                policy={},
                latest_losses=None,
                latest_metrics=None,
                error_message=None,
                progress_phase=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:  # deleted concurrently: that call recorded it
            return
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.artifacts_deleted_at.is_(None))
            .values(artifacts_deleted_at=now)
            .execution_options(synchronize_session=False)
        )
        files = _mark_files(session, job.id, now)
        events = session.execute(delete(JobEvent).where(JobEvent.job_id == job.id)).rowcount
        replies = session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant == job.tenant,
                IdempotencyKey.response_body["id"].as_string() == job.id,
            )
        ).rowcount
        audit.record(
            session,
            actor,
            "job.deleted",
            "job",
            job.id,
            {
                "artifacts_sha256": files,
                "objects": objects,
                "events": events,
                "idempotency_records": replies,
            },
            tenant=job.tenant,
        )


@dataclass(frozen=True)
class Expired:
    job_id: str
    deleted_at: datetime | None


def expire(
    db: Database, storage: Storage, settings: Settings, now: datetime | None = None
) -> list[Expired]:
    """Delete the files of jobs that ended more than ``SFD_ARTIFACT_RETENTION_DAYS`` ago
    (one batch; the sweeper calls it until nothing is left). Nothing when the setting is 0."""
    if settings.artifact_retention_days <= 0:
        return []
    cutoff = (now or utcnow()) - timedelta(days=settings.artifact_retention_days)
    with db.sessions() as session:
        due = list(
            session.scalars(
                select(Job)
                .where(
                    Job.status.in_(states.TERMINAL),
                    Job.finished_at < cutoff,
                    Job.artifacts_deleted_at.is_(None),
                )
                .order_by(Job.finished_at)
                .limit(EXPIRY_BATCH)
            )
        )
    return [
        Expired(job.id, _delete_files(db, storage, Actor.system(job.tenant), job, "retention"))
        for job in due
    ]

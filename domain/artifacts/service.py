"""Recording a finished job's files and handing them out."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.artifacts.models import Artifact
from domain.audit import service as audit
from domain.errors import Gone, NotFound
from domain.ids import new_id
from domain.jobs import service as jobs
from domain.jobs.models import Job

CONTENT_TYPES = {
    "generator.tar": "application/x-tar",
    "report.json": "application/json",
    "samples.png": "image/png",
    "robustness.png": "image/png",
}


def add(
    session: Session, job: Job, name: str, size: int, sha256: str, storage_key: str
) -> Artifact:
    artifact = Artifact(
        id=new_id("file"),
        job_id=job.id,
        tenant=job.tenant,
        name=name,
        size=size,
        sha256=sha256,
        content_type=CONTENT_TYPES[name],
        storage_key=storage_key,
    )
    session.add(artifact)
    return artifact


def list_for_job(session: Session, tenant: str, job_id: str) -> list[Artifact]:
    jobs.get_job(session, tenant, job_id)
    query = select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.name)
    return list(session.scalars(query))


def get(session: Session, tenant: str, job_id: str, name: str) -> Artifact:
    jobs.get_job(session, tenant, job_id)
    artifact = session.scalar(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound(f"job {job_id} has no artifact {name!r}", code="artifact_not_found")
    if artifact.deleted_at is not None:
        raise Gone(
            f"artifact {name} of job {job_id} was deleted on "
            f"{artifact.deleted_at:%Y-%m-%d %H:%M} UTC",
            code="artifact_deleted",
        )
    return artifact


def record_download(
    session: Session, actor: Actor, artifact: Artifact, via: str, byte_range: str | None = None
) -> None:
    """``artifact.downloaded`` (``byte_range``: the ``Content-Range`` of a partial one)."""
    data = {"job_id": artifact.job_id, "name": artifact.name, "sha256": artifact.sha256, "via": via}
    if byte_range is not None:
        data["range"] = byte_range
    audit.record(session, actor, "artifact.downloaded", "artifact", artifact.id, data)

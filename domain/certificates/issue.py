"""Building a succeeded job's certificate from the domain: job, model, artifacts, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.api_keys import lookup as api_keys
from domain.artifacts import service as artifacts
from domain.audit import search as audit
from domain.base_models import service as base_models
from domain.certificates.signing import sign, signing_key
from domain.errors import Conflict
from domain.jobs import service as jobs
from domain.jobs import states
from domain.jobs.report import certified_metrics
from domain.settings import Settings

KIND = "unlearning.certificate"
VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def build(session: Session, tenant: str, job_id: str) -> dict[str, Any]:
    """The unsigned certificate of ``job_id`` (404 for another tenant's, 409 unless
    succeeded). It is deterministic: the same job always yields the same document."""
    job = jobs.get_job(session, tenant, job_id)
    if job.status != states.SUCCEEDED:
        raise Conflict(
            f"job {job_id} is {job.status}; only succeeded jobs have a certificate",
            code="certificate_unavailable",
        )
    model = base_models.get_visible(session, tenant, job.model_id)
    files = artifacts.list_for_job(session, tenant, job_id)
    completion = audit.find_event(session, tenant, "job.succeeded", job_id)
    report = job.latest_metrics or {}
    requester = api_keys.names(session, tenant, [job.created_by_key_id])
    return {
        "object": KIND,
        "version": VERSION,
        "id": f"cert_{job.id.removeprefix('job_')}",
        "issuer": "sfd-unlearn",
        "tenant": job.tenant,
        "job_id": job.id,
        "requester": {
            "api_key_id": job.created_by_key_id,
            "api_key_name": requester.get(job.created_by_key_id or ""),
        },
        "input_model": {
            "id": model.id,
            "name": model.name,
            "sha256": model.sha256,
            "teacher_sha256": report.get("teacher_sha256"),
        },
        "forget": {
            "unsafe_concepts": list(job.unsafe),
            "safe_surrogates": list(job.surrogate) if job.surrogate else None,
            "surrogate_mode": job.surrogate_mode,
            "request_sha256": job.request_sha256,
        },
        "training": {"steps": job.steps, "seed": job.seed, "attempt": job.attempt},
        "output": {
            "generator_sha256": report.get("generator_sha256"),
            "artifacts": [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in files],
        },
        "evaluator": report.get("evaluator"),
        "metrics": certified_metrics(report),
        "time_window": {
            "requested_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "completed_at": _iso(job.finished_at),
        },
        "audit": {
            "action": "job.succeeded",
            "seq": completion.seq if completion else None,
            "hash": completion.hash if completion else None,
        },
    }


def issue(session: Session, settings: Settings, tenant: str, job_id: str) -> dict[str, Any]:
    """The signed certificate of ``job_id``."""
    return sign(build(session, tenant, job_id), signing_key(settings))

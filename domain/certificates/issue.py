"""Building a succeeded job's certificate from the domain: job, model, artifacts, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.api_keys import lookup as api_keys
from domain.artifacts import service as artifacts
from domain.audit import search as audit
from domain.audit import service as audit_log
from domain.audit.anchoring import Anchoring
from domain.base_models import service as base_models
from domain.certificates import attestation
from domain.certificates.evidence import certified_robustness, certified_verdict, statement
from domain.db import utcnow
from domain.errors import Conflict
from domain.jobs import service as jobs
from domain.jobs import states
from domain.jobs.report import certified_metrics

KIND = "unlearning.certificate"
VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds").replace("+00:00", "Z")


def build(session: Session, tenant: str, job_id: str) -> dict[str, Any]:
    """The evidence of ``job_id`` (the attestation's predicate; 404 for another tenant's, 409
    unless succeeded). It is deterministic: the same job always yields the same document."""
    job = jobs.get_job(session, tenant, job_id)
    if job.status != states.SUCCEEDED:
        raise Conflict(
            f"job {job_id} is {job.status}; only succeeded jobs have a certificate",
            code="certificate_unavailable",
        )
    model = base_models.get_for_job(session, tenant, job.model_id)
    files = artifacts.list_for_job(session, tenant, job_id)
    completion = audit.find_event(session, tenant, "job.succeeded", job_id)
    report = job.latest_metrics or {}
    requester = api_keys.names(session, tenant, [job.created_by_key_id])
    verdict = certified_verdict(job.verdict, report)
    robustness = certified_robustness(report)
    predicate: dict[str, Any] = {
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
        "metadata": dict(job.job_metadata or {}),
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
        "statement": statement(
            list(job.unsafe), model.name, verdict, robustness, report.get("forget_rate")
        ),
        "verdict": verdict,
        "robustness": robustness,
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
    if job.artifacts_deleted_at is not None:  # the hashes stay: the evidence outlives the files
        predicate["retention"] = {"artifacts_deleted_at": _iso(job.artifacts_deleted_at)}
    return predicate


def issue(session: Session, anchoring: Anchoring, tenant: str, job_id: str) -> dict[str, Any]:
    """The signed certificate of ``job_id``: issued only while the audit log verifies against
    its signed checkpoints and holds the job's ``job.succeeded`` row; it names the chain head
    it was issued at, which is checkpointed first."""
    predicate = build(session, tenant, job_id)
    head = anchoring.checkpoint()  # raises Conflict if the log does not verify
    completion = predicate["audit"]
    if completion["seq"] is None or head is None or head.seq < completion["seq"]:
        raise Conflict(
            "the audit log does not verify or lacks this job's completion; no certificate "
            "is issued until it does",
            code="audit_unverifiable",
        )
    completion["head"] = {
        "seq": head.seq,
        "hash": head.hash,
        "checkpoint": head.key,
        "checkpointed_at": head.created_at,
        "keyid": head.keyid,
    }
    predicate["issued_at"] = _iso(utcnow())
    return attestation.sign(predicate, anchoring.keyring)


def record_view(session: Session, actor: Actor, job_id: str, via: str) -> None:
    """``certificate.viewed``: who fetched the job's certificate, and how (api, dashboard)."""
    audit_log.record(session, actor, "certificate.viewed", "job", job_id, {"via": via})

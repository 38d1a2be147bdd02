"""The ``jobs`` and ``job_events`` tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.types import BigIntId, JSONType


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_tenant_status_id", "tenant", "status", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    created_by_key_id: Mapped[str | None] = mapped_column(String(40))
    model_id: Mapped[str] = mapped_column(String(40))
    unsafe: Mapped[list[str]] = mapped_column(JSONType)
    surrogate: Mapped[list[str] | None] = mapped_column(JSONType)
    surrogate_mode: Mapped[str] = mapped_column(String(16))
    steps: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    eval_samples_per_class: Mapped[int] = mapped_column(Integer)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONType)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    job_metadata: Mapped[dict[str, str]] = mapped_column("metadata", JSONType)
    probes: Mapped[str] = mapped_column(String(8))
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    request_sha256: Mapped[str] = mapped_column(String(64))
    gpus: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    status: Mapped[str] = mapped_column(String(16), index=True)
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer)
    progress_phase: Mapped[str | None] = mapped_column(String(16))
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    latest_losses: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    latest_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    verdict: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retention and deletion: when the stored files went, and when the whole job was purged
    # (its request, report and history; the row stays as a tombstone the audit log names).
    artifacts_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    worker_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(Integer, default=0)


class JobEvent(Base):
    """One entry of a job's history: ``state``, ``progress``, ``metrics`` or ``log``."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_seq", "job_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)

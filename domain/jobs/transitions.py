"""Atomic state changes: a conditional UPDATE that only one caller can win."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.jobs import states
from domain.jobs.models import Job, JobEvent
from domain.webhooks import service as webhooks


def transition(
    session: Session,
    job_id: str,
    sources: set[str] | frozenset[str],
    target: str,
    *,
    worker_id: str | None = None,
    values: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
) -> str | None:
    """Move ``job_id`` from one of ``sources`` to ``target``; the previous state, or None.

    With ``worker_id`` only the worker holding the job may move it. The state event and
    the webhook deliveries reporting it are written in the same transaction.
    """
    for source in sources:
        if not states.allowed(source, target):
            raise ValueError(f"illegal job transition {source} -> {target}")
    values = dict(values or {})
    if target in states.TERMINAL:
        values.setdefault("finished_at", utcnow())
        values.update(worker_id=None, lease_expires_at=None)
    for source in sorted(sources):
        query = update(Job).where(Job.id == job_id, Job.status == source)
        if worker_id is not None:
            query = query.where(Job.worker_id == worker_id)
        result = session.execute(
            query.values(status=target, **values).execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.add(
                JobEvent(
                    job_id=job_id,
                    type="state",
                    data={"from": source, "to": target, **(event or {})},
                )
            )
            tenant = session.scalar(select(Job.tenant).where(Job.id == job_id))
            extra = {k: values[k] for k in ("verdict", "error_code") if values.get(k)}
            webhooks.job_event(session, tenant or "", job_id, source, target, **extra)
            session.flush()
            return source
    return None

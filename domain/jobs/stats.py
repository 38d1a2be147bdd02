"""Aggregates over all tenants' jobs for monitoring (``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from domain.jobs import states
from domain.jobs.models import Job


def jobs_by_state(session: Session) -> dict[str, int]:
    """Every state's job count (zero included)."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    counts = dict.fromkeys(states.STATES, 0)
    counts.update({status: count for status, count in rows})
    return counts


@dataclass
class Durations:
    """A cumulative histogram of run times (last attempt's start to the end) of one end state."""

    count: int
    total_seconds: float
    buckets: list[tuple[float, int]]


def _run_seconds(session: Session) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86_400.0


def durations(session: Session, bounds: Sequence[float]) -> dict[str, Durations]:
    """Run-time histograms of finished jobs by end state (jobs that never started left out)."""
    seconds = _run_seconds(session)
    query = (
        select(
            Job.status,
            func.count(),
            func.coalesce(func.sum(seconds), 0.0),
            *(func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds),
        )
        .where(Job.status.in_(states.TERMINAL), Job.started_at.is_not(None))
        .group_by(Job.status)
    )
    return {
        status: Durations(count, float(total), list(zip(bounds, map(int, le), strict=True)))
        for status, count, total, *le in session.execute(query)
    }


def worker_heartbeats(session: Session, lease_seconds: int) -> dict[str, datetime]:
    """Each worker holding a job, with the time it last renewed its lease."""
    rows = session.execute(
        select(Job.worker_id, func.max(Job.lease_expires_at))
        .where(Job.status.in_(states.ACTIVE), Job.worker_id.is_not(None))
        .group_by(Job.worker_id)
    )
    return {
        worker: expires - timedelta(seconds=lease_seconds)
        for worker, expires in rows
        if expires is not None
    }

"""The guarantees under the workers, on the real PostgreSQL and Redis: racing claims have one
winner, and the reaper re-queues a lost job (publishing a wake-up) or fails it at the cap."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from domain.actor import Actor
from domain.base_models import service as base_models
from domain.db import Database, utcnow
from domain.jobs import lifecycle, service
from domain.jobs.models import Job
from domain.jobs.validation import JobRequest
from domain.migrate import upgrade
from domain.settings import Settings
from worker.broker import queue_depth
from worker.celery_app import create_celery
from worker.reaper import reap_once

from .fleet import fleet_settings


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, pg_database: Callable[[], str], redis_url: str
) -> Settings:
    return fleet_settings(tmp_path_factory.mktemp("claims"), pg_database(), redis_url)


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Database]:
    upgrade(settings.resolved_database_url)
    database = Database(settings.resolved_database_url)
    with database.session() as session:
        base_models.ensure_bundled(session)
    yield database
    database.dispose()


def queue_job(db: Database, settings: Settings) -> str:
    actor = Actor(tenant="acme", name="test", scopes=frozenset({"admin"}))
    request = JobRequest(model="digits", unsafe=["0"], surrogate=["1"], steps=3)
    with db.session() as session:
        return service.create_job(session, settings, actor, request, "0" * 64).id


def test_racing_claims_have_one_winner(db: Database, settings: Settings) -> None:
    job_id = queue_job(db, settings)
    contenders = 8
    barrier = threading.Barrier(contenders)
    winners: list[str] = []

    def contend(worker_id: str) -> None:
        with db.session() as session:
            barrier.wait()
            if lifecycle.claim(session, job_id, worker_id, 3600) is not None:
                winners.append(worker_id)

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    with db.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.worker_id == winners[0] and job.attempt == 1


def expire(db: Database, job_id: str, attempt: int) -> None:
    """The job is running on a worker that stopped renewing its lease."""
    with db.session() as session:
        lifecycle.claim(session, job_id, "celery:gone@host:1", 30)
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(attempt=attempt, lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def test_reaper_requeues_and_wakes_or_fails_at_the_cap(db: Database, settings: Settings) -> None:
    celery = create_celery(settings)
    lost, doomed = queue_job(db, settings), queue_job(db, settings)
    expire(db, lost, attempt=1)
    expire(db, doomed, attempt=settings.max_attempts)

    report = reap_once(settings, db, celery)

    assert {(r.job_id, r.state) for r in report.released} == {
        (lost, "queued"),
        (doomed, "failed"),
    }
    assert report.woken == [lost]
    assert queue_depth(celery, settings.celery_queue) == 1
    with db.sessions() as session:
        failed = session.get(Job, doomed)
        assert failed is not None and failed.error_code == "attempts_exhausted"
        assert "gave up after 3 attempt(s)" in (failed.error_message or "")
    assert reap_once(settings, db, celery).woken == []  # the waiting message covers it
    celery.close()

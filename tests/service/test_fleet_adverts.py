"""Worker adverts on real PostgreSQL: which nodes are live, the most GPUs a live one offers,
the job API sizing ``gpus`` by them (not with the embedded runner), and ``GET /v1/workers``
for platform admins only. The adverts of a real ``sfd worker``: tests/workers/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from domain.db import Database, utcnow
from domain.migrate import upgrade
from domain.settings import Settings
from domain.workers import service as workers
from domain.workers.models import Worker

from .support import Service, assert_problem, start_service

JOB = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 1}


def advert(name: str, gpus: int) -> workers.Advert:
    device = "cuda" if gpus else "cpu"
    return workers.Advert(name, device, gpus, max(gpus, 1), utcnow() - timedelta(hours=1))


def age(db: Database, name: str, seconds: float) -> None:
    """Make the node's last advert ``seconds`` old."""
    with db.session() as session:
        seen = utcnow() - timedelta(seconds=seconds)
        session.execute(update(Worker).where(Worker.name == name).values(seen_at=seen))


@pytest.fixture
def db(pg_database: Callable[[], str]) -> Iterator[Database]:
    url = pg_database()
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_only_live_adverts_count(db: Database) -> None:
    settings = Settings(worker_advert_seconds=10)  # live: seen in the last 30 s
    with db.session() as session:
        assert workers.largest_live_gpus(session, settings) == 0
        for name, gpus in [("cpu@a", 0), ("gpu@b", 2), ("gpu@c", 8)]:
            workers.advertise(session, advert(name, gpus))
    with db.session() as session:
        assert workers.largest_live_gpus(session, settings) == 8
    age(db, "gpu@c", 31)
    with db.session() as session:
        assert workers.largest_live_gpus(session, settings) == 2
        workers.advertise(session, advert("gpu@c", 8))  # its next advert: live again
    with db.session() as session:
        assert workers.largest_live_gpus(session, settings) == 8
        assert session.query(Worker).count() == 3  # refreshed, not duplicated
        workers.withdraw(session, "gpu@c")
    with db.session() as session:
        assert workers.largest_live_gpus(session, settings) == 2
        assert session.get(Worker, "gpu@c") is None


def test_nodes_gone_for_a_day_are_forgotten(db: Database) -> None:
    with db.session() as session:
        for name in ("a", "b", "c", "d"):
            workers.advertise(session, advert(name, 1))
    age(db, "a", 3600)
    age(db, "b", 86_500)
    with db.session() as session:
        first = workers.list_workers(session, after=None, limit=2)
        rest = workers.list_workers(session, after=first.data[-1].name, limit=2)
    assert [w.name for w in first.data] == ["a", "c"] and first.has_more
    assert [w.name for w in rest.data] == ["d"] and not rest.has_more
    with db.session() as session:
        workers.advertise(session, advert("d", 1))  # any advert deletes the day-old rows
    with db.session() as session:
        assert session.get(Worker, "b") is None and session.get(Worker, "a") is not None


@pytest.fixture(scope="module")
def queue_only(
    tmp_path_factory: pytest.TempPathFactory, pg_database: Callable[[], str]
) -> Iterator[Service]:
    """An API that only queues (``SFD_RUNNER=none``): workers elsewhere run the jobs."""
    home = tmp_path_factory.mktemp("queue-only")
    running = start_service(
        home, pg_database(), runner="none", max_job_gpus=2, worker_advert_seconds=10
    )
    yield running
    running.server.stop()


def test_the_api_allows_what_the_largest_live_worker_offers(queue_only: Service) -> None:
    db = Database(queue_only.settings.resolved_database_url)
    try:
        with db.session() as session:
            workers.advertise(session, advert("gpu@big", 4))
        with queue_only.client() as client:
            accepted = client.post("/v1/jobs", json={**JOB, "gpus": 4})
            assert accepted.status_code == 201, accepted.text
            refused = assert_problem(client.post("/v1/jobs", json={**JOB, "gpus": 5}), 422)
            age(db, "gpu@big", 31)
            floor = assert_problem(client.post("/v1/jobs", json={**JOB, "gpus": 3}), 422)
            listed = client.get("/v1/workers").json()
    finally:
        with db.session() as session:
            workers.withdraw(session, "gpu@big")
        db.dispose()
    assert refused["code"] == "invalid_gpus"
    assert refused["detail"] == (
        "gpus must be between 1 and 4 (the largest live worker offers 4; SFD_MAX_JOB_GPUS is 2)"
    )
    assert floor["detail"] == (
        "gpus must be between 1 and 2 (the largest live worker offers 0; SFD_MAX_JOB_GPUS is 2)"
    )
    (node,) = listed["data"]
    assert node["name"] == "gpu@big" and node["gpus"] == 4 and node["live"] is False
    assert node["object"] == "worker" and node["device"] == "cuda" and node["slots"] == 4


def test_workers_are_for_platform_admins_only(queue_only: Service) -> None:
    tenant_admin = queue_only.new_key("acme", ["admin"])
    reader = queue_only.new_key("acme", ["jobs:read", "audit:read"])
    with queue_only.client() as client:
        assert client.get("/v1/workers").status_code == 200
        with queue_only.client(tenant_admin) as other:
            assert_problem(other.get("/v1/workers"), 403, "insufficient_scope")
        with queue_only.client(reader) as other:
            assert_problem(other.get("/v1/workers"), 403, "insufficient_scope")
    with queue_only.client("sfd_not_a_key") as anonymous:
        assert_problem(anonymous.get("/v1/workers"), 401)


def test_the_embedded_runner_keeps_to_the_setting(tmp_path: Path) -> None:
    service = start_service(tmp_path, f"sqlite:///{tmp_path / 'sfd.db'}", max_job_gpus=2)
    try:
        db = Database(service.settings.resolved_database_url)
        with db.session() as session:
            workers.advertise(session, advert("gpu@big", 4))  # not the embedded runner's
        db.dispose()
        with service.client() as client:
            refused = assert_problem(client.post("/v1/jobs", json={**JOB, "gpus": 3}), 422)
    finally:
        service.server.stop()
    assert refused["detail"] == "gpus must be between 1 and 2 (SFD_MAX_JOB_GPUS is 2)"

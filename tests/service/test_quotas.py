"""Quotas, the per-key rate limit and fair scheduling, against PostgreSQL (app role), Redis
and SQLite: 429 with Retry-After for too many queued jobs, too many steps or too many
requests; the queue starts the next job fairly across tenants."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from api.server import BackgroundServer
from domain.db import Database
from domain.jobs import lifecycle, scheduling
from tests.redis_db import redis_test_url

from .support import (
    Service,
    assert_problem,
    start_service,
    submit,
    upload_new_teacher,
    wait_for,
)

REDIS_URL = redis_test_url()
LONG = {"steps": 20_000}
QUOTAS = {
    "big": {"max_queued_jobs": 500},
    "stepper": {"max_steps_per_period": 100},
    "limited": {"max_running_jobs": 1},
}


@pytest.fixture(scope="module")
def queue_only(
    tmp_path_factory: pytest.TempPathFactory, pg_app_database: Callable[[], tuple[str, str]]
) -> Iterator[Service]:
    """PostgreSQL as the app role; this API only queues (nothing runs on its own)."""
    home = tmp_path_factory.mktemp("quota-home")
    owner_url, app_url = pg_app_database()
    service = start_service(
        home,
        app_url,
        owner_url=owner_url,
        runner="none",
        rate_limit="",
        max_queued_jobs_per_tenant=3,
        tenant_quotas=QUOTAS,
        tenant_weights={"heavy": 3},
    )
    yield service
    service.server.stop()


def _key(service: Service, tenant: str) -> str:
    return service.new_key(tenant, ["jobs:read", "jobs:write"])


def test_queued_jobs_quota_is_per_tenant(queue_only: Service) -> None:
    with (
        queue_only.client(_key(queue_only, "small")) as small,
        queue_only.client(_key(queue_only, "other")) as other,
    ):
        jobs = [submit(small, **LONG) for _ in range(3)]
        body = assert_problem(small.post("/v1/jobs", json=_body()), 429, "quota_queued_jobs")
        assert "3 queued jobs" in body["detail"]
        assert int(small.post("/v1/jobs", json=_body()).headers["retry-after"]) > 0
        submit(other, **LONG)  # another tenant's queue is its own
        small.post(f"/v1/jobs/{jobs[0]['id']}/cancel")
        submit(small, **LONG)
        _cancel_queued(small)
        _cancel_queued(other)


def test_steps_quota_per_period(queue_only: Service) -> None:
    with queue_only.client(_key(queue_only, "stepper")) as client:
        first = submit(client, steps=60)
        response = client.post("/v1/jobs", json=_body(steps=50))
        body = assert_problem(response, 429, "quota_steps")
        assert "60 of tenant stepper's 100 steps" in body["detail"]
        assert 0 < int(response.headers["retry-after"]) <= 86_400
        client.post(f"/v1/jobs/{first['id']}/cancel")  # never ran: its steps are not spent
        submit(client, steps=50)
        _cancel_queued(client)


def test_a_job_naming_no_steps_runs_and_is_charged_its_models_default(
    queue_only: Service, tmp_path: Path
) -> None:
    key = queue_only.new_key("defaults", ["jobs:read", "jobs:write", "models:write"])
    with queue_only.client(key) as client:
        unnamed = {key: value for key, value in _body().items() if key != "steps"}
        digits = client.post("/v1/jobs", json=unnamed)
        assert digits.status_code == 201, digits.text
        assert (digits.json()["steps"], digits.json()["progress"]["total"]) == (2000, 2000)
        theirs = upload_new_teacher(client, tmp_path, seed=31)
        assert submit(client, model=theirs["id"], steps=None)["steps"] == 400
        hardened = submit(client, steps=None, hyperparameters={"harden": True})
        assert hardened["steps"] == 2000  # its pool trains in the warm start too
        _cancel_queued(client)
    with queue_only.client(_key(queue_only, "stepper")) as client:  # 100 steps a period
        body = assert_problem(client.post("/v1/jobs", json=_body(steps=None)), 429, "quota_steps")
        assert body["detail"].endswith("this job needs 2000")


def _cancel_queued(client: httpx.Client) -> None:
    while queued := client.get("/v1/jobs", params={"status": "queued", "limit": 100}).json()[
        "data"
    ]:
        for job in queued:
            client.post(f"/v1/jobs/{job['id']}/cancel")


def _body(**overrides: object) -> dict:
    return {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", **LONG, **overrides}


def _start_in_order(service: Service, slots: int) -> list[str]:
    """Run the scheduler slot by slot, as a worker with one slot would: pick, claim, end."""
    settings = service.settings
    db = Database(service.owner_url or "")
    started: list[str] = []
    try:
        for _ in range(slots):
            with db.session() as session:
                [job_id] = scheduling.next_jobs(session, settings, 1)
                job = lifecycle.claim(session, job_id, "sim", 60)
                assert job is not None
                started.append(job.tenant)
            with db.session() as session:
                lifecycle.fail(session, job, "sim", "simulated", "one slot's turn is over")
    finally:
        db.dispose()
    return started


def test_a_tenant_with_200_queued_jobs_does_not_starve_another(queue_only: Service) -> None:
    with (
        queue_only.client(_key(queue_only, "big")) as big,
        queue_only.client(_key(queue_only, "late")) as late,
    ):
        for _ in range(200):
            submit(big, **LONG)
        _start_in_order(queue_only, 2)  # "big" has been served before "late" arrives
        submit(late, **LONG)
        order = _start_in_order(queue_only, 3)
        assert "late" in order[:2], order
        _cancel_queued(big)


def test_weights_and_running_quota(queue_only: Service) -> None:
    with (
        queue_only.client(_key(queue_only, "heavy")) as heavy,
        queue_only.client(_key(queue_only, "light")) as light,
        queue_only.client(_key(queue_only, "limited")) as limited,
    ):
        for client in (heavy, light, heavy, light, heavy, light):
            submit(client, **LONG)
        order = _start_in_order(queue_only, 4)
        assert order.count("heavy") == 3 and order.count("light") == 1, order
        _cancel_queued(heavy)
        _cancel_queued(light)

        first, second = submit(limited, **LONG), submit(limited, **LONG)
        db = Database(queue_only.owner_url or "")
        try:
            with db.session() as session:
                claimed = lifecycle.claim(session, first["id"], "sim", 60)
                assert claimed is not None
            settings = queue_only.settings
            limit = scheduling.running_limit(settings)
            with db.session() as session:
                assert second["id"] not in scheduling.next_jobs(session, settings, 10)
                limited = lifecycle.claim(session, second["id"], "sim", 60, running_limit=limit)
                assert limited is None
                assert lifecycle.claim(session, second["id"], "sim", 60) is not None  # no quota
        finally:
            db.dispose()


def test_jobs_handed_to_a_runner_count_before_their_claim(queue_only: Service) -> None:
    """The embedded runner asks again while a spawned process has not claimed its job yet:
    that job counts as a start of its tenant, so the next slot goes to the other tenant."""
    with (
        queue_only.client(_key(queue_only, "eager")) as eager,
        queue_only.client(_key(queue_only, "patient")) as patient,
    ):
        first, _ = submit(eager, **LONG), submit(eager, **LONG)
        theirs = submit(patient, **LONG)
        db = Database(queue_only.owner_url or "")
        try:
            with db.session() as session:
                settings = queue_only.settings
                assert scheduling.next_jobs(session, settings, 1) == [first["id"]]
                handed = scheduling.next_jobs(session, settings, 1, exclude=[first["id"]])
                assert handed == [theirs["id"]]
        finally:
            db.dispose()
        _cancel_queued(eager)
        _cancel_queued(patient)


def test_the_embedded_runner_starts_the_other_tenants_job_next(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """One job slot: tenant A holds it and has more queued; B's job is next, not A's."""
    home: Path = tmp_path_factory.mktemp("fair-embedded")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", embedded_concurrency=1)
    try:
        with service.client() as a, service.client(_key(service, "tenant-b")) as b:
            running = submit(a, **LONG)
            waiting = [submit(a, **LONG) for _ in range(3)]
            wait_for(a, running["id"], {"running"}, timeout=120)
            theirs = submit(b, **LONG)
            a.post(f"/v1/jobs/{running['id']}/cancel")
            wait_for(b, theirs["id"], {"running"}, timeout=120)
            assert all(a.get(f"/v1/jobs/{j['id']}").json()["status"] == "queued" for j in waiting)
            b.post(f"/v1/jobs/{theirs['id']}/cancel")
            _cancel_queued(a)
    finally:
        service.server.stop()


def _hammer(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    out = []
    for i in range(count):
        with httpx.Client(base_url=urls[i % len(urls)], timeout=30) as client:
            out.append(client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}))
    return out


def test_rate_limit_counted_in_redis_across_api_processes(
    tmp_path_factory: pytest.TempPathFactory, pg_app_database: Callable[[], tuple[str, str]]
) -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()
    home = tmp_path_factory.mktemp("rate-home")
    owner_url, app_url = pg_app_database()
    first = start_service(
        home,
        app_url,
        owner_url=owner_url,
        runner="none",
        rate_limit="10/day",  # a sliding window: a short one could roll over mid-test
        rate_limit_storage_url=REDIS_URL,
    )
    second = BackgroundServer(first.settings).start()
    try:
        key = _key(first, "chatty")
        answers = _hammer([first.url, second.url], key, 12)
        assert [r.status_code for r in answers] == [200] * 10 + [429] * 2
        body = assert_problem(answers[-1], 429, "rate_limited")
        assert "10 per 1 day" in body["detail"]
        assert 0 < int(answers[-1].headers["retry-after"]) <= 86_400
        assert _hammer([first.url], first.admin_key, 1)[0].status_code == 200  # per key
    finally:
        second.stop()
        first.server.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_rate_limit_in_process_when_embedded(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("rate-embedded")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", rate_limit="5/day")
    try:
        assert service.settings.resolved_rate_limit_storage_url == "memory://"
        answers = _hammer([service.url], service.admin_key, 6)
        assert [r.status_code for r in answers] == [200] * 5 + [429]
        assert_problem(answers[-1], 429, "rate_limited")
    finally:
        service.server.stop()

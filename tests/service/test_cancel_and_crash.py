"""Cancel while queued and while running; a job process that dies fails its job, not the API."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.db import Database
from domain.jobs.models import Job

from .support import (
    Service,
    assert_problem,
    start_service,
    submit,
    upload_teacher,
    wait_for,
)


@pytest.fixture(scope="module")
def single_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service that runs one job at a time, so a second job stays queued."""
    home = tmp_path_factory.mktemp("single-slot")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", embedded_concurrency=1)
    yield service
    service.server.stop()


def wait_until_training(client, job_id: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"]["step"] >= 1:
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never started training")


def test_cancel_queued_then_running(single_slot: Service, teacher_tar: Path) -> None:
    with single_slot.client() as client:
        model = upload_teacher(client, teacher_tar)
        running = submit(client, model=model["id"], steps=10_000)
        wait_until_training(client, running["id"])
        queued = submit(client, model=model["id"])
        assert client.get(f"/v1/jobs/{queued['id']}").json()["status"] == "queued"

        cancelled = client.post(f"/v1/jobs/{queued['id']}/cancel").json()
        assert cancelled["status"] == "cancelled" and cancelled["attempt"] == 0
        assert cancelled["finished_at"] is not None
        assert_problem(client.post(f"/v1/jobs/{queued['id']}/cancel"), 409, "job_not_cancellable")

        cancelling = client.post(f"/v1/jobs/{running['id']}/cancel").json()
        assert cancelling["status"] in ("cancelling", "cancelled")
        assert cancelling["cancel_requested_at"] is not None
        done = wait_for(client, running["id"], {"cancelled"}, timeout=120)
        assert done["progress"]["step"] < 10_000
        events = client.get(f"/v1/jobs/{running['id']}/events?limit=100").json()["data"]
        states = [(e["data"]["from"], e["data"]["to"]) for e in events if e["type"] == "state"]
        assert states[-2:] == [("running", "cancelling"), ("cancelling", "cancelled")]
        assert client.get(f"/v1/jobs/{running['id']}/artifacts").json()["data"] == []
        actions = [
            e["action"]
            for e in client.get(f"/v1/audit/events?object_id={running['id']}").json()["data"]
        ]
        assert actions[:2] == ["job.cancelled", "job.cancel_requested"]
        assert client.get("/v1/audit/verify").json()["valid"]


def test_a_killed_job_process_fails_the_job_and_the_api_lives(
    single_slot: Service, teacher_tar: Path
) -> None:
    db = Database(single_slot.settings.resolved_database_url)
    with single_slot.client() as client:
        model = upload_teacher(client, teacher_tar)
        job = submit(client, model=model["id"], steps=10_000)
        wait_until_training(client, job["id"])
        with db.sessions() as session:
            worker_id = session.get(Job, job["id"]).worker_id
        os.kill(int(worker_id.rsplit(":", 1)[1]), signal.SIGKILL)
        failed = wait_for(client, job["id"], {"failed"}, timeout=60)
        assert failed["error"]["code"] == "worker_crashed"
        assert "-9" in failed["error"]["message"]
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/jobs").status_code == 200
    db.dispose()

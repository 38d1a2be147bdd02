"""Jobs on Celery workers: submit over HTTP -> a worker runs it -> artifacts in S3 -> download;
duplicate deliveries run a job once; a cancel reaches the worker running the job."""

from __future__ import annotations

import hashlib
import json

import httpx
from minio import Minio

from worker.broker import wake
from worker.celery_app import create_celery
from worker.threads import threads_per_job

from .fleet import ARTIFACTS, Fleet, events, state_changes, submit, wait_for, wait_until_step


def test_submit_run_download_from_s3(fleet: Fleet) -> None:
    with fleet.client() as client:
        job = submit(client, metadata={"ticket": "DSR-7"})
        done = wait_for(client, job["id"], {"succeeded"})
        assert done["attempt"] == 1
        listed = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        assert {a["name"] for a in listed} == ARTIFACTS
        for artifact in listed:
            grant = client.get(
                f"/v1/jobs/{job['id']}/artifacts/{artifact['name']}", params={"redirect": False}
            ).json()
            body = httpx.get(grant["url"], timeout=60).content  # the presigned S3 URL
            assert hashlib.sha256(body).hexdigest() == artifact["sha256"] == grant["sha256"]
            assert len(body) == artifact["size"]
        history = events(client, job["id"])
    assert state_changes(history) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]
    started = [e["data"]["message"] for e in history if e["type"] == "log"]
    assert any(m.startswith("attempt 1 started on celery:w") for m in started), started

    settings = fleet.settings
    s3 = Minio(
        settings.s3_endpoint or "",
        access_key="testing",
        secret_key="testing",
        secure=False,
    )
    keys = {
        obj.object_name
        for obj in s3.list_objects("sfd-workers", prefix=f"fleet/jobs/{job['id']}/", recursive=True)
    }
    prefix = f"fleet/jobs/{job['id']}"
    assert {f"{prefix}/attempt-1/{name}" for name in ("generator.tar", "report.json")} <= keys
    # The job ran on the threads its worker gave it (tests/conftest.py sets SFD_JOB_THREADS).
    report = json.loads(s3.get_object("sfd-workers", f"{prefix}/attempt-1/report.json").read())
    assert report["cpu_threads"] == threads_per_job(fleet.settings.job_threads, 1)


def test_duplicate_deliveries_run_a_job_once(fleet: Fleet) -> None:
    """Both workers get a message for the same job at once; the row lets exactly one run it."""
    celery = create_celery(fleet.settings)
    with fleet.client() as client:
        job = submit(client)
        for _ in range(3):
            wake(celery, job["id"], fleet.settings.celery_queue)
        done = wait_for(client, job["id"], {"succeeded"})
        history = events(client, job["id"])
        audit = client.get("/v1/audit/events", params={"object_id": job["id"]}).json()["data"]
    celery.close()
    assert done["attempt"] == 1
    assert state_changes(history).count(("queued", "running")) == 1
    assert [e["action"] for e in audit].count("job.started") == 1


def test_cancel_reaches_the_running_worker(fleet: Fleet) -> None:
    with fleet.client() as client:
        job = submit(client, steps=10_000)
        running = wait_until_step(client, job["id"], 1)
        cancelling = client.post(f"/v1/jobs/{job['id']}/cancel").json()
        assert cancelling["status"] in ("cancelling", "cancelled")
        done = wait_for(client, job["id"], {"cancelled"}, timeout=60)
        assert done["progress"]["step"] < 10_000
        assert client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"] == []
        history = events(client, job["id"])
    assert running["attempt"] == 1
    assert state_changes(history)[-2:] == [("running", "cancelling"), ("cancelling", "cancelled")]

"""A worker node SIGKILLed mid-job: the reaper re-queues the job when its lease expires and the
other node finishes it from the last checkpoint, with one final artifact set and a consistent
history."""

from __future__ import annotations

from minio import Minio

from domain.db import Database
from domain.jobs.models import Job

from .fleet import ARTIFACTS, Fleet, events, state_changes, submit, wait_for, wait_until_step


def test_killed_worker_job_resumes_from_checkpoint_elsewhere(fleet: Fleet) -> None:
    every = fleet.settings.checkpoint_every
    db = Database(fleet.settings.resolved_database_url)
    with fleet.client() as client:
        job = submit(client, steps=16)
        wait_until_step(client, job["id"], every + 1)  # a checkpoint is in S3
        with db.sessions() as session:
            lost_worker = session.get(Job, job["id"]).worker_id
        assert lost_worker is not None
        victim = fleet.node_running(lost_worker)
        victim.kill()
        done = wait_for(client, job["id"], {"succeeded"}, timeout=180)
        history = events(client, job["id"])
        artifacts = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        audit = client.get("/v1/audit/events", params={"object_id": job["id"]}).json()["data"]
        assert client.get("/v1/audit/verify").json()["valid"]
    db.dispose()

    assert done["attempt"] == 2
    assert state_changes(history) == [
        (None, "queued"),
        ("queued", "running"),
        ("running", "queued"),
        ("queued", "running"),
        ("running", "succeeded"),
    ]
    requeue = next(
        e
        for e in history
        if e["type"] == "state" and e["data"]["to"] == "queued" and e["data"]["from"] == "running"
    )
    assert requeue["data"]["reason"] == "the worker's lease expired"
    second_start = next(
        i
        for i, e in enumerate(history)
        if e["type"] == "state" and e["data"]["from"] == "queued" and e["id"] > requeue["id"]
    )
    logs = [e["data"]["message"] for e in history[second_start:] if e["type"] == "log"]
    assert "resuming from the checkpoint of an earlier attempt (attempt 2)" in logs
    assert not any(lost_worker in m for m in logs)
    resumed = [
        e["data"]["step"]
        for e in history[second_start:]
        if e["type"] == "progress" and e["data"]["phase"] == "train"
    ]
    assert resumed and min(resumed) >= every  # no training step was redone from scratch

    assert {a["name"] for a in artifacts} == ARTIFACTS
    actions = [e["action"] for e in audit]
    assert actions.count("job.started") == 2 and actions.count("job.succeeded") == 1
    s3 = Minio(fleet.settings.s3_endpoint or "", "testing", "testing", secure=False)
    keys = [
        obj.object_name.rsplit(f"{job['id']}/", 1)[1]
        for obj in s3.list_objects("sfd-workers", prefix=f"fleet/jobs/{job['id']}/", recursive=True)
    ]
    assert sorted(keys) == [
        "attempt-2/generator.tar",
        "attempt-2/report.json",
        "attempt-2/robustness.png",
        "attempt-2/samples.png",
        "checkpoint/checkpoint.safetensors",
    ]

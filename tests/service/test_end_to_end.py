"""Submit -> poll -> succeeded -> download (sha256 matches) -> load the generator -> generate,
on SQLite with a local folder and on PostgreSQL with S3 (presigned downloads)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
import torch

from sfd_core.generator import OneStepGenerator
from worker.threads import threads_per_job

from .support import ARTIFACTS, Service, finished_job


@pytest.fixture(scope="session")
def shared_job(service: Service, teacher_tar: Path) -> dict:
    return finished_job(service, teacher_tar)


def test_registered_model_is_described(shared_job: dict) -> None:
    model = shared_job["model"]
    assert model["object"] == "model" and model["id"].startswith("model_")
    assert model["kind"] == "class" and model["class_names"] == [str(i) for i in range(10)]
    assert model["sample_shape"] == [1, 8, 8] and len(model["sha256"]) == 64


def test_job_reports_progress_metrics_and_timestamps(shared_job: dict) -> None:
    job = shared_job["job"]
    assert job["object"] == "unlearning.job" and job["id"].startswith("job_")
    assert job["progress"]["step"] == job["progress"]["total"] == 10
    assert job["attempt"] == 1 and job["error"] is None
    assert job["metadata"] == {"ticket": "DSR-1"}
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    assert job["metrics"]["teacher_sha256"] == shared_job["model"]["sha256"]


def test_download_matches_sha256_and_generator_generates(
    service: Service, shared_job: dict, tmp_path: Path
) -> None:
    job_id = shared_job["job"]["id"]
    with service.client() as client:
        listing = client.get(f"/v1/jobs/{job_id}/artifacts").json()["data"]
        assert {a["name"] for a in listing} == ARTIFACTS
        for artifact in listing:
            response = client.get(artifact["download_url"], follow_redirects=True)
            assert response.status_code == 200
            assert hashlib.sha256(response.content).hexdigest() == artifact["sha256"]
            assert len(response.content) == artifact["size"]
            (tmp_path / artifact["name"]).write_bytes(response.content)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["steps"] == 10
    # The job ran on the threads its runner gave it (tests/conftest.py sets SFD_JOB_THREADS).
    slots = service.settings.embedded_concurrency
    assert report["cpu_threads"] == threads_per_job(service.settings.job_threads, slots)
    with tarfile.open(tmp_path / "generator.tar") as archive:  # extracts to generator/
        archive.extractall(tmp_path, filter="data")
    generator = OneStepGenerator.from_pretrained(tmp_path / "generator")
    images = generator.generate(["0", "1", "7"], seed=3)
    assert images.shape == (3, 1, 8, 8)
    assert torch.isfinite(images).all() and images.abs().max() <= 1


def test_s3_downloads_are_presigned_and_local_ones_streamed(
    service: Service, shared_job: dict
) -> None:
    job_id = shared_job["job"]["id"]
    with service.client() as client:
        response = client.get(f"/v1/jobs/{job_id}/artifacts/report.json")
        presigned = client.get(
            f"/v1/jobs/{job_id}/artifacts/report.json", params={"redirect": False}
        )
    if service.settings.resolved_storage_url.startswith("s3://"):
        assert response.status_code == 307
        assert "X-Amz-Signature" in response.headers["location"]
        assert presigned.json()["object"] == "artifact.download"
    else:
        assert response.status_code == 200
        assert response.headers["etag"].strip('"') == hashlib.sha256(response.content).hexdigest()
        assert response.headers["repr-digest"].startswith("sha-256=:")


def test_event_history_and_live_stream(service: Service, shared_job: dict) -> None:
    job_id = shared_job["job"]["id"]
    with service.client() as client:
        events = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 100}).json()["data"]
        types = {e["type"] for e in events}
        assert {"state", "progress", "log"} <= types
        transitions = [(e["data"]["from"], e["data"]["to"]) for e in events if e["type"] == "state"]
        assert transitions == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        page = client.get(f"/v1/jobs/{job_id}/events", params={"limit": 2}).json()
        assert page["has_more"] and len(page["data"]) == 2
        after = client.get(
            f"/v1/jobs/{job_id}/events", params={"after": page["data"][-1]["id"], "limit": 100}
        ).json()["data"]
        assert [e["id"] for e in after] == [e["id"] for e in events[2:]]
        with client.stream("GET", f"/v1/jobs/{job_id}/events?stream=true") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            text = "".join(stream.iter_text())
    assert text.count("event: state") == 3
    assert text.rstrip().endswith('data: {"status": "succeeded"}')


def test_audit_log_records_the_job_and_verifies(service: Service, shared_job: dict) -> None:
    job_id = shared_job["job"]["id"]
    with service.client() as client:
        events = client.get("/v1/audit/events", params={"object_id": job_id, "limit": 100}).json()
        actions = [e["action"] for e in events["data"]]
        assert actions == ["job.succeeded", "job.verdict", "job.started", "job.created"]
        succeeded = events["data"][0]["data"]
        artifacts = client.get(f"/v1/jobs/{job_id}/artifacts").json()["data"]
        assert succeeded["artifacts_sha256"] == {a["name"]: a["sha256"] for a in artifacts}
        downloads = client.get("/v1/audit/events", params={"action": "artifact.downloaded"}).json()
        assert downloads["data"] and all("sha256" in e["data"] for e in downloads["data"])
        verification = client.get("/v1/audit/verify").json()
    assert verification["valid"] and verification["events"] >= 5
    assert verification["chain"]["checked"] >= 0  # the bootstrap key is the platform admin

"""Retention and deletion: a job's stored files, a whole job and a model can be deleted, old
artifacts expire after ``SFD_ARTIFACT_RETENTION_DAYS``; each deletion is in the audit log (which
is never deleted) and the certificate says when the files went. On SQLite with a local folder
and on PostgreSQL (app role) with S3 through the minio client."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from domain.db import Database, utcnow
from domain.storage import ObjectNotFound, open_storage
from tests.dashboard.conftest import sign_in

from .support import Service, assert_problem, start_service, submit, upload_new_teacher, wait_for

QUICK = {"steps": 3, "eval_samples_per_class": 2, "probes": "off"}


def _finished(client: httpx.Client, **overrides: object) -> dict:
    job = submit(client, **{**QUICK, **overrides})
    return wait_for(client, job["id"], {"succeeded"})


def _stored(service: Service, job_id: str) -> list[str]:
    return [info.key for info in open_storage(service.settings).list(f"jobs/{job_id}/")]


def _audit(client: httpx.Client, action: str, object_id: str) -> list[dict]:
    params = {"action": action, "object_id": object_id, "limit": 100}
    return client.get("/v1/audit/events", params=params).json()["data"]


def _db(service: Service) -> Database:
    return Database(service.owner_url or service.settings.resolved_database_url)


def test_deleting_a_jobs_artifacts(service: Service) -> None:
    with service.client() as client:
        running = submit(client, steps=20_000)
        job = _finished(client)
        assert_problem(client.delete(f"/v1/jobs/{running['id']}/artifacts"), 409, "job_active")
        client.post(f"/v1/jobs/{running['id']}/cancel")
        files = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        assert files and _stored(service, job["id"])

        response = client.delete(f"/v1/jobs/{job['id']}/artifacts")
        assert response.status_code == 204, response.text
        assert _stored(service, job["id"]) == []
        listed = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        assert {a["sha256"] for a in listed} == {a["sha256"] for a in files}
        assert all(a["deleted_at"] for a in listed)
        assert client.get(f"/v1/jobs/{job['id']}").json()["artifacts_deleted_at"]
        gone = client.get(f"/v1/jobs/{job['id']}/artifacts/report.json", params={"redirect": False})
        assert_problem(gone, 410, "artifact_deleted")

        [event] = _audit(client, "job.artifacts_deleted", job["id"])
        assert event["data"]["reason"] == "request"
        assert event["data"]["artifacts_sha256"] == {a["name"]: a["sha256"] for a in files}
        assert client.delete(f"/v1/jobs/{job['id']}/artifacts").status_code == 204
        assert len(_audit(client, "job.artifacts_deleted", job["id"])) == 1  # nothing left

        envelope = client.get(f"/v1/jobs/{job['id']}/certificate")
        assert envelope.status_code == 200, envelope.text
        predicate = json.loads(base64.b64decode(envelope.json()["payload"]))["predicate"]
        assert predicate["retention"]["artifacts_deleted_at"].startswith(str(utcnow().year))
        assert {a["sha256"] for a in predicate["output"]["artifacts"]} == {
            a["sha256"] for a in files
        }
        assert client.get("/v1/audit/verify").json()["valid"]
    with httpx.Client(base_url=service.url, timeout=60) as browser:
        assert sign_in(browser, service.admin_key).status_code == 303
        page = browser.get(f"/dashboard/jobs/{job['id']}/certificate")
        assert page.status_code == 200 and "artifacts deleted on" in page.text


def test_deleting_a_whole_job(service: Service) -> None:
    with service.client() as client:
        headers = {"Idempotency-Key": f"forget-{time.time_ns()}"}
        body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", **QUICK}
        created = client.post("/v1/jobs", json=body, headers=headers)
        assert created.status_code == 201, created.text
        job = wait_for(client, created.json()["id"], {"succeeded"})
        artifacts = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]

        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        for path in ("", "/events", "/artifacts", "/certificate"):
            assert_problem(client.get(f"/v1/jobs/{job['id']}{path}"), 410, "job_deleted")
        assert_problem(client.delete(f"/v1/jobs/{job['id']}"), 410, "job_deleted")
        listed = client.get("/v1/jobs", params={"limit": 100}).json()["data"]
        assert job["id"] not in {j["id"] for j in listed}
        assert _stored(service, job["id"]) == []
        again = client.post("/v1/jobs", json=body, headers=headers)  # the reply was forgotten
        assert again.status_code == 201 and again.json()["id"] != job["id"]
        client.post(f"/v1/jobs/{again.json()['id']}/cancel")

        [event] = _audit(client, "job.deleted", job["id"])
        assert event["data"]["artifacts_sha256"] == {a["name"]: a["sha256"] for a in artifacts}
        assert event["data"]["events"] > 0 and event["data"]["idempotency_records"] == 1
        assert _audit(client, "job.created", job["id"])  # the log itself is never deleted
        assert client.get("/v1/audit/verify").json()["valid"]
    db = _db(service)
    try:
        with db.sessions() as session:
            row = session.execute(
                sa.text("SELECT unsafe, metadata, latest_metrics FROM jobs WHERE id = :id"),
                {"id": job["id"]},
            ).one()
            events = session.execute(
                sa.text("SELECT count(*) FROM job_events WHERE job_id = :id"), {"id": job["id"]}
            ).scalar()
    finally:
        db.dispose()
    assert [json.loads(v) if isinstance(v, str) else v for v in row] == [[], {}, None]
    assert events == 0


def test_deleting_a_model(service: Service, teacher_tar: Path) -> None:
    with service.client() as client:
        name = f"to-forget-{time.time_ns()}"
        model = client.post(
            "/v1/models",
            content=teacher_tar.read_bytes(),
            params={"name": name},
            headers={"Content-Type": "application/x-tar"},
        ).json()
        job = submit(client, model=model["id"], steps=20_000)
        assert_problem(client.delete(f"/v1/models/{model['id']}"), 409, "model_in_use")
        client.post(f"/v1/jobs/{job['id']}/cancel")
        wait_for(client, job["id"], {"cancelled"})

        assert client.delete(f"/v1/models/{model['id']}").status_code == 204
        assert_problem(client.get(f"/v1/models/{model['id']}"), 410, "model_deleted")
        assert_problem(client.delete(f"/v1/models/{model['id']}"), 410, "model_deleted")
        listed = client.get("/v1/models", params={"limit": 100}).json()["data"]
        assert model["id"] not in {m["id"] for m in listed}
        with pytest.raises(ObjectNotFound):
            open_storage(service.settings).stat(f"models/{model['id']}/model.tar")
        body = {"model": model["id"], "unsafe_concept": "0", "safe_surrogate": "1"}
        assert_problem(client.post("/v1/jobs", json=body), 410, "model_deleted")
        [event] = _audit(client, "model.deleted", model["id"])
        assert event["data"]["archive_deleted"] and event["data"]["sha256"] == model["sha256"]
        assert client.get(f"/v1/jobs/{job['id']}").json()["model"] == model["id"]

        again = upload_teacher_named(client, teacher_tar, name)  # the name is free again
        assert again["id"] != model["id"]
        assert_problem(client.delete("/v1/models/digits"), 403, "model_not_deletable")


def test_deleting_a_model_removes_this_hosts_copy(service: Service, tmp_path: Path) -> None:
    with service.client() as client:
        model = upload_new_teacher(client, tmp_path, time.time_ns() % 2**31)
        copy = service.settings.cache_dir / "models" / model["sha256"]
        copy.mkdir(parents=True, exist_ok=True)  # the upload or a job's fetch leaves it
        assert client.delete(f"/v1/models/{model['id']}").status_code == 204
    assert not copy.exists()


def upload_teacher_named(client: httpx.Client, teacher_tar: Path, name: str) -> dict:
    response = client.post(
        "/v1/models",
        content=teacher_tar.read_bytes(),
        params={"name": name},
        headers={"Content-Type": "application/x-tar"},
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def retaining_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Files are kept one day; the sweep runs every half second."""
    home = tmp_path_factory.mktemp("retention-home")
    service = start_service(
        home,
        f"sqlite:///{home / 'sfd.db'}",
        artifact_retention_days=1,
        retention_sweep_seconds=0.5,
    )
    yield service
    service.server.stop()


def test_artifacts_expire_after_the_retention_period(retaining_service: Service) -> None:
    service = retaining_service
    with service.client() as client:
        old, recent = _finished(client), _finished(client)
        db = _db(service)
        try:
            with db.session() as session:
                session.execute(
                    sa.text("UPDATE jobs SET finished_at = :when WHERE id = :id"),
                    {"when": utcnow() - timedelta(days=2), "id": old["id"]},
                )
        finally:
            db.dispose()
        deadline = time.monotonic() + 30
        while not client.get(f"/v1/jobs/{old['id']}").json()["artifacts_deleted_at"]:
            assert time.monotonic() < deadline, "the retention sweep did not run"
            time.sleep(0.2)
        assert _stored(service, old["id"]) == []
        assert _stored(service, recent["id"]) != []
        assert client.get(f"/v1/jobs/{recent['id']}").json()["artifacts_deleted_at"] is None
        [event] = _audit(client, "job.artifacts_deleted", old["id"])
        assert event["actor"] == "system" and event["data"]["reason"] == "retention"
        assert client.get("/v1/audit/verify").json()["valid"]

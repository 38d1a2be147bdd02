"""A tenant never sees another tenant's models, jobs, artifacts or audit events: 404, not 403."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import Service, assert_problem, finished_job, submit, upload_teacher

OTHER_SCOPES = ["jobs:read", "jobs:write", "models:write", "audit:read"]


@pytest.fixture(scope="module")
def acme(sqlite_service: Service, teacher_tar: Path) -> dict:
    return finished_job(sqlite_service, teacher_tar)


@pytest.fixture(scope="module")
def globex_key(sqlite_service: Service) -> str:
    return sqlite_service.new_key("globex", OTHER_SCOPES)


def test_every_route_hides_another_tenants_objects(
    sqlite_service: Service, acme: dict, globex_key: str
) -> None:
    job_id, model_id = acme["job"]["id"], acme["model"]["id"]
    routes = [
        ("GET", f"/v1/jobs/{job_id}", "job_not_found"),
        ("POST", f"/v1/jobs/{job_id}/cancel", "job_not_found"),
        ("GET", f"/v1/jobs/{job_id}/events", "job_not_found"),
        ("GET", f"/v1/jobs/{job_id}/events?stream=true", "job_not_found"),
        ("GET", f"/v1/jobs/{job_id}/artifacts", "job_not_found"),
        ("GET", f"/v1/jobs/{job_id}/artifacts/generator.tar", "job_not_found"),
        ("GET", f"/v1/jobs/{job_id}/artifacts/report.json?redirect=false", "job_not_found"),
        ("GET", f"/v1/models/{model_id}", "model_not_found"),
    ]
    with sqlite_service.client(globex_key) as globex, sqlite_service.client() as owner:
        for method, path, code in routes:
            assert_problem(globex.request(method, path), 404, code)
            assert owner.request("GET", path.replace("/cancel", "")).status_code in (200, 307)
        body = {"model": model_id, "unsafe_concept": "0", "safe_surrogate": "1"}
        assert_problem(globex.post("/v1/jobs", json=body), 404, "model_not_found")
        assert job_id not in {j["id"] for j in globex.get("/v1/jobs?limit=100").json()["data"]}
        assert model_id not in {m["id"] for m in globex.get("/v1/models?limit=100").json()["data"]}
        audit = globex.get("/v1/audit/events?limit=100").json()["data"]
        assert all(e["object_id"] not in (job_id, model_id) for e in audit)
        assert globex.get("/v1/audit/events", params={"object_id": job_id}).json()["data"] == []


def test_the_other_way_round_and_idempotency_keys_are_per_tenant(
    sqlite_service: Service, teacher_tar: Path, globex_key: str, acme: dict
) -> None:
    with sqlite_service.client(globex_key) as globex, sqlite_service.client() as acme_client:
        model = upload_teacher(globex, teacher_tar)
        assert model["owned_by"] == "globex"
        headers = {"Idempotency-Key": "shared-key"}
        body = {"model": model["id"], "unsafe_concept": "3", "safe_surrogate": "8", "steps": 5000}
        theirs = globex.post("/v1/jobs", json=body, headers=headers).json()
        globex.post(f"/v1/jobs/{theirs['id']}/cancel")
        assert_problem(acme_client.get(f"/v1/jobs/{theirs['id']}"), 404, "job_not_found")
        assert_problem(acme_client.get(f"/v1/models/{model['id']}"), 404, "model_not_found")
        ours = submit(acme_client, model=acme["model"]["id"], steps=5000)
        acme_client.post(f"/v1/jobs/{ours['id']}/cancel")
        replay = globex.post("/v1/jobs", json=body, headers=headers)
        assert replay.json()["id"] == theirs["id"]
        assert replay.headers["idempotent-replayed"] == "true"
        listed = {j["id"] for j in acme_client.get("/v1/jobs?limit=100").json()["data"]}
        assert theirs["id"] not in listed and ours["id"] in listed


def test_bundled_models_are_visible_to_every_tenant(
    sqlite_service: Service, globex_key: str
) -> None:
    with sqlite_service.client(globex_key) as globex, sqlite_service.client() as acme_client:
        theirs = {
            m["id"]
            for m in globex.get("/v1/models?limit=100").json()["data"]
            if m["owned_by"] == "system"
        }
        ours = {
            m["id"]
            for m in acme_client.get("/v1/models?limit=100").json()["data"]
            if m["owned_by"] == "system"
        }
    assert theirs == ours
    assert "digits" in theirs


def test_api_keys_listing_is_per_tenant(sqlite_service: Service) -> None:
    globex_admin = sqlite_service.new_key("globex", ["admin"])
    with sqlite_service.client(globex_admin) as globex, sqlite_service.client() as acme_client:
        theirs = {k["tenant"] for k in globex.get("/v1/api_keys?limit=100").json()["data"]}
        ours = {k["tenant"] for k in acme_client.get("/v1/api_keys?limit=100").json()["data"]}
    assert theirs == {"globex"} and ours == {"acme"}

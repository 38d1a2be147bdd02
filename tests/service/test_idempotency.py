"""Idempotency-Key: concurrent duplicates create one job; replays return the first response;
the same key with another body is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from .support import Service, assert_problem, upload_teacher


def test_concurrent_duplicates_create_one_job(service: Service, teacher_tar: Path) -> None:
    with service.client() as client:
        model = upload_teacher(client, teacher_tar)
    body = {"model": model["id"], "unsafe_concept": "2", "safe_surrogate": "5", "steps": 10_000}
    headers = {"Idempotency-Key": f"dup-{model['id']}"}

    def post(_: int) -> httpx.Response:
        with service.client() as client:
            return client.post("/v1/jobs", json=body, headers=headers)

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(post, range(12)))
    created = [r for r in responses if r.status_code == 201]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(created) + len(conflicts) == len(responses), [r.text for r in responses]
    assert created and len({r.json()["id"] for r in created}) == 1
    for response in conflicts:
        assert_problem(response, 409, "idempotency_request_in_progress")
    job_id = created[0].json()["id"]

    with service.client() as client:
        replay = client.post("/v1/jobs", json=body, headers=headers)
        assert replay.status_code == 201 and replay.json() == created[0].json()
        assert replay.headers["idempotent-replayed"] == "true"
        changed = client.post("/v1/jobs", json={**body, "seed": 7}, headers=headers)
        assert_problem(changed, 422, "idempotency_key_reused")
        mine = [
            j for j in client.get("/v1/jobs?limit=100").json()["data"] if j["model"] == model["id"]
        ]
        assert [j["id"] for j in mine] == [job_id]
        client.post(f"/v1/jobs/{job_id}/cancel")


def test_a_failed_request_frees_its_key(service: Service) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    with service.client() as client:
        bad = client.post(
            "/v1/jobs", json={"model": "model_nope", "unsafe_concept": "0"}, headers=headers
        )
        assert_problem(bad, 404, "model_not_found")
        again = client.post(
            "/v1/jobs", json={"model": "model_nope2", "unsafe_concept": "0"}, headers=headers
        )
        assert_problem(again, 404, "model_not_found")

"""``/readyz`` checks the broker in Celery mode; ``/metrics`` reports jobs by state, job run
times, busy workers' heartbeats, the broker queue and HTTP latencies."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from api.server import BackgroundServer, free_port

from .fleet import Fleet, submit, wait_for, wait_until_step


def scrape(client: httpx.Client) -> dict[str, list[Sample]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def test_metrics_follow_a_running_job(fleet: Fleet) -> None:
    with fleet.client() as client:
        assert client.get("/readyz").json()["broker"] == "ok"
        job = submit(client, steps=10_000)
        wait_until_step(client, job["id"], 1)
        metrics = scrape(client)
        client.post(f"/v1/jobs/{job['id']}/cancel")
        wait_for(client, job["id"], {"cancelled"}, timeout=60)
        after = scrape(client)

    jobs = {s.labels["state"]: s.value for s in metrics["sfd_jobs"]}
    assert jobs["running"] >= 1 and set(jobs) >= {"queued", "succeeded", "failed"}
    beats = metrics["sfd_worker_last_heartbeat_timestamp_seconds"]
    assert beats and all(s.labels["worker"].startswith("celery:w") for s in beats)
    assert max(s.value for s in beats) > time.time() - 10
    assert [s.value for s in metrics["sfd_broker_up"]] == [1]
    assert metrics["sfd_queue_depth"][0].labels["queue"] == fleet.settings.celery_queue
    routes = {s.labels["route"] for s in metrics["sfd_http_request_duration_seconds"]}
    assert "/v1/jobs/{job_id}" in routes and "/v1/jobs" in routes

    cancelled = [
        s
        for s in after["sfd_job_duration_seconds"]
        if s.labels.get("state") == "cancelled" and s.name.endswith("_count")
    ]
    assert cancelled and cancelled[0].value >= 1


def test_readyz_fails_when_the_broker_is_down(fleet: Fleet) -> None:
    settings = fleet.settings.model_copy(
        update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    with BackgroundServer(settings) as server, httpx.Client(base_url=server.url) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "broker_unavailable"
        up = scrape(client)["sfd_broker_up"]
    assert [s.value for s in up] == [0]

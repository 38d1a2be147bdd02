"""A real ``sfd worker --gpus 0,1,2`` node advertises itself, and the API sizes ``gpus`` by it.

With ``SFD_MAX_JOB_GPUS=1`` the API takes a 3-GPU job while the node is live, refuses 4, and
after the node's warm shutdown (its row deleted) refuses 3 again. The node consumes another
queue, so the accepted job is never claimed on this host without GPUs (its pool processes only
pin ``CUDA_VISIBLE_DEVICES`` and wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from .fleet import TINY_JOB, fleet_settings, start_fleet, start_node

JOB = {**TINY_JOB, "hyperparameters": {"batch_size": 12}}  # shards: one per GPU, 3 or 4


def live_workers(client: httpx.Client, timeout: float) -> list[dict]:
    """The live nodes, once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/v1/workers")
        assert response.status_code == 200, response.text
        live = [w for w in response.json()["data"] if w["live"]]
        if live or time.monotonic() > deadline:
            return live
        time.sleep(0.5)


@pytest.mark.timeout(2400)  # three pool processes import torch: minutes under load
def test_the_api_allows_the_gpus_a_live_worker_advertises(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    settings = fleet_settings(
        tmp_path, pg_database(), redis_url, max_job_gpus=1, worker_advert_seconds=1
    )
    fleet = start_fleet(settings, [], tmp_path)
    try:
        node = start_node(
            settings, "gpus", tmp_path, beat=False, options=("--gpus=0,1,2", "--queues=elsewhere")
        )
        fleet.nodes.append(node)
        with fleet.client() as client:
            (advert,) = live_workers(client, timeout=600)
            accepted = client.post("/v1/jobs", json={**JOB, "gpus": 3})
            assert accepted.status_code == 201, accepted.text
            client.post(f"/v1/jobs/{accepted.json()['id']}/cancel").raise_for_status()
            too_many = client.post("/v1/jobs", json={**JOB, "gpus": 4})
            node.wait_ready(processes=3, timeout=1200)
            time.sleep(3.5)  # past the live window: only the node's own refreshes keep it live
            still = live_workers(client, timeout=0)
            main_maps = Path(f"/proc/{node.process.pid}/maps").read_text()
            node.stop()
            assert node.process.returncode == 0, node.text()[-3000:]
            after = client.get("/v1/workers").json()["data"]
            gone = client.post("/v1/jobs", json={**JOB, "gpus": 3})
    finally:
        fleet.stop()
    assert advert["name"].startswith("gpus@")
    assert (advert["device"], advert["gpus"], advert["slots"]) == ("cuda", 3, 3)
    assert advert["started_at"] <= advert["seen_at"]
    assert [w["name"] for w in still] == [advert["name"]]
    assert "libtorch" not in main_maps  # the advertising main process never loads torch
    assert too_many.status_code == 422 and too_many.json()["code"] == "invalid_gpus"
    assert too_many.json()["detail"] == (
        "gpus must be between 1 and 3 (the largest live worker offers 3; SFD_MAX_JOB_GPUS is 1)"
    )
    assert after == []
    assert gone.status_code == 422 and gone.json()["code"] == "invalid_gpus"
    assert "between 1 and 1" in gone.json()["detail"]

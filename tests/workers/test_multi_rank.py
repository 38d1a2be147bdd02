"""Jobs of several GPUs on Celery workers (PostgreSQL, Redis, real ``sfd worker`` nodes).

A CPU node runs a ``gpus: 2`` job as two torchrun ranks (gloo) to success. A ``--gpus 0,1``
node claims a 2-GPU job only with both GPUs free and starts its ranks on them, while a 1-GPU
job waits for a slot whose GPU is not lent out. (This host has no GPU: the 2-GPU job's ranks
fail on CUDA, which ends that job and frees the GPUs; what is checked is the scheduling.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .fleet import Fleet, events, fleet_settings, start_fleet, start_node, submit, wait_for

TWO_RANKS = {"gpus": 2, "hyperparameters": {"batch_size": 8}, "probes": "off"}
SLOW = pytest.mark.timeout(2400)  # worker nodes and ranks each import torch: minutes under load


@pytest.fixture(scope="module")
def two_gpu_fleet(
    tmp_path_factory: pytest.TempPathFactory, pg_database: Callable[[], str], redis_url: str
) -> Iterator[Fleet]:
    home: Path = tmp_path_factory.mktemp("multi-rank-fleet")
    settings = fleet_settings(home, pg_database(), redis_url, max_job_gpus=2, lease_seconds=10)
    running = start_fleet(settings, [], home)  # each test starts its own node
    yield running
    running.stop()


def logs(client, job_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["data"]["message"] for e in events(client, job_id) if e["type"] == "log"]


@SLOW
def test_a_two_rank_job_runs_on_a_cpu_worker(two_gpu_fleet: Fleet, tmp_path: Path) -> None:
    node = start_node(two_gpu_fleet.settings, "cpu", tmp_path)
    two_gpu_fleet.nodes.append(node)
    node.wait_ready(timeout=1200)
    with two_gpu_fleet.client() as client:
        job = submit(client, steps=4, **TWO_RANKS)
        done = wait_for(client, job["id"], {"succeeded"}, timeout=900)
        artifacts = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        messages = logs(client, job["id"])
    assert done["metrics"]["processes"] == 2
    assert {a["name"] for a in artifacts} == {"generator.tar", "report.json", "samples.png"}
    assert any(m.endswith("(cpu, 2 ranks)") for m in messages)


@SLOW
def test_a_gpu_worker_claims_a_two_gpu_job_only_with_both_gpus_free(
    two_gpu_fleet: Fleet, tmp_path: Path
) -> None:
    for other in two_gpu_fleet.nodes:
        other.stop()  # only the GPU node takes jobs now
    node = start_node(two_gpu_fleet.settings, "gpus", tmp_path, options=("--gpus=0,1",))
    try:
        node.wait_ready(processes=2, timeout=1200)
        with two_gpu_fleet.client() as client:
            big = submit(client, steps=4, **TWO_RANKS)
            wait_for(client, big["id"], {"running"}, timeout=300)
            small = submit(client, steps=2, probes="off")
            failed = wait_for(client, big["id"], {"failed"}, timeout=600)
            wait_for(client, small["id"], {"failed"}, timeout=300)  # no CUDA here either
            # While the 2-GPU job held both GPUs, the 1-GPU job was not claimed.
            small_history = events(client, small["id"])
            claimed_at = next(e["id"] for e in small_history if e["type"] == "state"
                              and e["data"]["to"] == "running")  # fmt: skip
            big_ended = next(e["id"] for e in events(client, big["id"]) if e["type"] == "state"
                             and e["data"]["to"] == "failed")  # fmt: skip
            big_logs = logs(client, big["id"])
    finally:
        node.stop()
    assert any("(cuda, GPUs 0,1, 2 ranks)" in m or "(cuda, GPUs 1,0, 2 ranks)" in m
               for m in big_logs), big_logs  # fmt: skip
    assert failed["error"]["code"] == "engine_error"  # no CUDA on this host
    assert claimed_at > big_ended

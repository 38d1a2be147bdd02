"""Jobs of ``gpus: 2`` over the embedded runner: two torchrun ranks (gloo, on the CPU) per job.

The job succeeds and its generator loads; a cancel stops both ranks mid-run; a rank killed
mid-run ends the attempt, and the retry resumes from the checkpoint.
"""

from __future__ import annotations

import os
import signal
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from domain.db import Database
from domain.jobs import lifecycle
from domain.migrate import alembic_config, upgrade
from sfd_core import OneStepGenerator

from .support import Service, assert_problem, start_service, submit, wait_for

TWO_RANKS = {"gpus": 2, "hyperparameters": {"batch_size": 8, "warmup_pairs": 1024}, "probes": "off"}
# Each attempt starts a job process and two ranks, each importing torch: about 10 s on an idle
# machine, many minutes on an oversubscribed one.
SLOW = pytest.mark.timeout(2400)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("multi-rank")
    running = start_service(
        home,
        f"sqlite:///{home / 'sfd.db'}",
        embedded_concurrency=1,
        max_job_gpus=2,
        checkpoint_every=2,
    )
    yield running
    running.server.stop()


def rank_processes(job_id: str) -> dict[int, int]:
    """``{rank: pid}`` of the job's live rank processes (``python -m sfd_core.launch``)."""
    ranks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"sfd_core.launch" in command and any(job_id.encode() in part for part in command):
            rank = next((v for v in environ if v.startswith(b"RANK=")), None)
            if rank is not None:
                ranks[int(rank[5:])] = int(entry.name)
    return ranks


def wait_until_step(client, job_id: str, step: int) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"]["step"] >= step:
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reached step {step}")


def progress_steps(client, job_id: str) -> list[int]:  # type: ignore[no-untyped-def]
    history = client.get(f"/v1/jobs/{job_id}/events?limit=100").json()["data"]
    return [e["data"]["step"] for e in history if e["type"] == "progress"]


def test_more_gpus_than_the_fleet_offers_are_refused(service: Service) -> None:
    with service.client() as client:
        response = client.post("/v1/jobs", json={"model": "digits", "unsafe_concept": "0",
                                                 "safe_surrogate": "1", "gpus": 3})  # fmt: skip
        problem = assert_problem(response, 422, "invalid_gpus")
    assert "between 1 and 2" in problem["detail"]


@SLOW
def test_a_two_rank_job_succeeds_and_its_generator_loads(service: Service, tmp_path) -> None:
    with service.client() as client:
        job = submit(client, steps=4, eval_samples_per_class=2, **TWO_RANKS)
        assert job["gpus"] == 2
        done = wait_for(client, job["id"], {"succeeded"}, timeout=1800)
        assert done["metrics"]["processes"] == 2
        assert done["metrics"]["hyperparameters"]["shards"] == 2
        assert 4 in progress_steps(client, job["id"])
        download = client.get(f"/v1/jobs/{job['id']}/artifacts/generator.tar")
        download.raise_for_status()
    (tmp_path / "generator.tar").write_bytes(download.content)
    with tarfile.open(tmp_path / "generator.tar") as archive:
        archive.extractall(tmp_path, filter="data")
    images = OneStepGenerator.from_pretrained(tmp_path / "generator").generate(["1"], seed=0)
    assert images.shape == (1, 1, 8, 8)


@SLOW
def test_cancel_stops_both_ranks(service: Service) -> None:
    with service.client() as client:
        job = submit(client, steps=10_000, **TWO_RANKS)
        wait_until_step(client, job["id"], 1)
        assert set(rank_processes(job["id"])) == {0, 1}
        client.post(f"/v1/jobs/{job['id']}/cancel").raise_for_status()
        done = wait_for(client, job["id"], {"cancelled"}, timeout=300)
    assert done["progress"]["step"] < 10_000
    deadline = time.monotonic() + 60
    while rank_processes(job["id"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert rank_processes(job["id"]) == {}


@SLOW
def test_a_killed_rank_ends_the_attempt_and_the_retry_resumes(service: Service) -> None:
    with service.client() as client:
        job = submit(client, steps=8, eval_samples_per_class=2, **TWO_RANKS)
        wait_until_step(client, job["id"], 3)  # the step-2 checkpoint is stored
        os.kill(rank_processes(job["id"])[1], signal.SIGKILL)
        done = wait_for(client, job["id"], {"succeeded"}, timeout=1800)
        history = client.get(f"/v1/jobs/{job['id']}/events?limit=100").json()["data"]
    assert done["attempt"] == 2
    requeued = [
        e for e in history if e["type"] == "state" and e["data"]["to"] == "queued"
        and e["data"]["from"] == "running"
    ]  # fmt: skip
    assert len(requeued) == 1 and requeued[0]["data"]["reason"].startswith("a rank was lost")
    later = [e for e in history if e["id"] > requeued[0]["id"]]
    logs = [e["data"]["message"] for e in later if e["type"] == "log"]
    assert "resuming from the checkpoint of an earlier attempt (attempt 2)" in logs
    resumed = [e["data"]["step"] for e in later if e["type"] == "progress"]
    assert resumed and min(resumed) > 2  # steps 1 and 2 were not trained again


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0008_gpus(backend: str, tmp_path: Path, pg_database: Callable[[], str]) -> None:
    """Jobs from before read as one-GPU jobs; a claim with fewer GPUs free passes them by."""
    url = pg_database() if backend == "postgres" else f"sqlite:///{tmp_path / 'sfd.db'}"
    upgrade(url, "0005_model_names")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO jobs (id, tenant, model_id, unsafe, surrogate, surrogate_mode, steps, "
                "seed, eval_samples_per_class, hyperparameters, options, metadata, probes, "
                "policy, request_sha256, status, progress_step, progress_total, attempt, "
                "created_at) VALUES ('job_old', 'acme', 'digits', '[\"0\"]', '[\"1\"]', "
                "'fixed', 1, 0, 1, '{}', '{}', '{}', 'off', '{}', :sha, 'queued', 0, 1, 0, "
                "CURRENT_TIMESTAMP)"
            ),
            {"sha": "0" * 64},
        )
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        assert lifecycle.next_queued(session, 5, max_gpus=1) == ["job_old"]
        session.execute(sa.text("UPDATE jobs SET gpus = 2 WHERE id = 'job_old'"))
    with db.session() as session:
        assert lifecycle.next_queued(session, 5, max_gpus=1) == []
        assert lifecycle.claim(session, "job_old", "w", 60, max_gpus=1) is None
        job = lifecycle.claim(session, "job_old", "w", 60, max_gpus=2)
        assert job is not None and job.gpus == 2
    db.dispose()
    command.downgrade(alembic_config(url), "0005_model_names")
    assert "gpus" not in {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    engine.dispose()

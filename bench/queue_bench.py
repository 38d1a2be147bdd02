"""Queue benchmark for the Celery mode (issue 4's targets); prints one JSON line.

With 2 worker nodes (``sfd worker``, one pool process each) on the real PostgreSQL and Redis:
- queue latency (submit -> a worker has claimed the job) p50/p99, one job at a time on an idle
  fleet;
- a burst of N small jobs submitted at once: all finish, none runs twice; makespan and the
  backlog wait p50/p99;
- a node SIGKILLed mid-job: delay until another worker has claimed the job again, and until it
  trains again from the checkpoint.

Run from the repository root: ``.venv/bin/python -m bench.queue_bench [--jobs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import redis
from sqlalchemy import func, select

from domain.db import Database
from domain.jobs.models import Job, JobEvent
from tests.workers.fleet import (
    create_database,
    drop_database,
    fleet_settings,
    start_fleet,
    submit,
    wait_for,
    wait_until_step,
)

# DB 6 of the shared Redis is this benchmark's (the worker tests use 5).
REDIS_URL = "redis://127.0.0.1:6379/6"
T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def claim_delays(db: Database, job_ids: list[str]) -> list[float]:
    """Seconds from each job's creation to its (last) claim, from the database clock."""
    with db.sessions() as session:
        jobs = session.scalars(select(Job).where(Job.id.in_(job_ids))).all()
        return [(job.started_at - job.created_at).total_seconds() for job in jobs]


def runs_per_job(db: Database, job_ids: list[str]) -> dict[str, int]:
    """How many times each job was claimed (``queued -> running`` events)."""
    with db.sessions() as session:
        rows = session.execute(
            select(JobEvent.job_id, func.count())
            .where(JobEvent.job_id.in_(job_ids), JobEvent.type == "state")
            .where(JobEvent.data["to"].as_string() == "running")
            .group_by(JobEvent.job_id)
        )
        return dict(rows.all())


def reclaimed_at(db: Database, job_id: str) -> float | None:
    """``time.monotonic()`` once a second attempt holds the job, else None."""
    with db.sessions() as session:
        job = session.get(Job, job_id)
        return time.monotonic() if job is not None and job.attempt >= 2 else None


def first_progress_after_reclaim(db: Database, job_id: str) -> tuple[float, int] | None:
    """(now, step) once the second attempt has reported training progress, else None."""
    with db.sessions() as session:
        history = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        ).all()
    claims = [e.seq for e in history if e.type == "state" and e.data["to"] == "running"]
    if len(claims) < 2:
        return None
    steps = [
        e.data["step"]
        for e in history
        if e.seq > claims[1] and e.type == "progress" and e.data["phase"] == "train"
    ]
    return (time.monotonic(), steps[0]) if steps else None


def poll(probe: Callable[[], T | None], timeout: float = 180) -> T:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the job was not resumed")
        time.sleep(0.05)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12, help="Jobs in the burst.")
    parser.add_argument("--idle-samples", type=int, default=20, help="Jobs for queue latency.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    database = create_database("sfd_queue_bench")
    home = Path(tempfile.mkdtemp(prefix="sfd-queue-bench-"))
    settings = fleet_settings(home, database, REDIS_URL)
    fleet = start_fleet(settings, ["w1", "w2"], home)
    db = Database(settings.resolved_database_url)
    try:
        with fleet.client() as client:
            idle_ids = []
            for _ in range(args.idle_samples):
                job = submit(client, steps=1)
                wait_for(client, job["id"], {"succeeded"})
                idle_ids.append(job["id"])
            idle = claim_delays(db, idle_ids)

            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                burst = list(pool.map(lambda _: submit(client, steps=2)["id"], range(args.jobs)))
            finished = [wait_for(client, job_id, {"succeeded", "failed"}) for job_id in burst]
            makespan = time.monotonic() - started
            backlog = claim_delays(db, burst)
            runs = runs_per_job(db, burst)

            job = submit(client, steps=24)
            wait_until_step(client, job["id"], settings.checkpoint_every + 1)
            with db.sessions() as session:
                worker_id = session.get(Job, job["id"]).worker_id
            fleet.node_running(worker_id).kill()
            killed = time.monotonic()
            claimed_again = poll(lambda: reclaimed_at(db, job["id"])) - killed
            training_again, first_step = poll(lambda: first_progress_after_reclaim(db, job["id"]))
            training_again -= killed
            resumed = wait_for(client, job["id"], {"succeeded"})
    finally:
        db.dispose()
        fleet.stop()
        drop_database(database)
        redis.Redis.from_url(REDIS_URL).flushdb()  # this benchmark's own Redis database

    print(
        json.dumps(
            {
                "workers": 2,
                "queue_latency_idle_s": {
                    "n": len(idle),
                    "p50": round(statistics.median(idle), 3),
                    "p99": round(percentile(idle, 0.99), 3),
                },
                "burst": {
                    "jobs": args.jobs,
                    "succeeded": sum(j["status"] == "succeeded" for j in finished),
                    "ran_more_than_once": sorted(k for k, n in runs.items() if n != 1),
                    "never_ran": sorted(set(burst) - set(runs)),
                    "makespan_s": round(makespan, 1),
                    "wait_p50_s": round(statistics.median(backlog), 2),
                    "wait_p99_s": round(percentile(backlog, 0.99), 2),
                },
                "worker_loss": {
                    "lease_seconds": settings.lease_seconds,
                    "claimed_again_after_s": round(claimed_again, 1),
                    "training_again_after_s": round(training_again, 1),
                    "resumed_at_step": first_step,
                    "final": resumed["status"],
                    "attempt": resumed["attempt"],
                },
            }
        )
    )


if __name__ == "__main__":
    main()

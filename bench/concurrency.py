"""Two jobs at once on the embedded runner vs the same two jobs one after the other.

    .venv/bin/python bench/concurrency.py [--steps 100]

Runs the real API (uvicorn) with the embedded runner on a fresh SQLite home three times, each
with two identical digits jobs submitted together: concurrency 1 (one job after the other, each
with all the cores), concurrency 2 with the cores shared (``SFD_JOB_THREADS`` unset: one thread
each on 2 cores), and concurrency 2 with every job taking all the cores (the old behaviour,
oversubscribed). Prints one JSON line: the makespan of each (submit to both succeeded) and the
ratios to concurrency 1. Issue 11's target: concurrency 2 <= 1.2x. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from pathlib import Path

import httpx

from api.server import BackgroundServer
from domain.settings import Settings
from worker.threads import available_cores

TERMINAL = {"succeeded", "failed", "cancelled"}


def makespan(steps: int, concurrency: int, job_threads: int) -> float:
    """Seconds from submitting two jobs together until both have succeeded."""
    admin_key = "sfd_admin_" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            admin_api_key=admin_key,
            embedded_concurrency=concurrency,
            job_threads=job_threads,
            probes="off",
        )
        with BackgroundServer(settings) as server:
            headers = {"Authorization": f"Bearer {admin_key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                body = {
                    "model": "digits",
                    "unsafe_concept": "0",
                    "safe_surrogate": "1",
                    "steps": steps,
                    "eval_samples_per_class": 20,
                }
                started = time.monotonic()
                ids = [client.post("/v1/jobs", json=body).json()["id"] for _ in range(2)]
                while True:
                    jobs = [client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
                    if all(job["status"] in TERMINAL for job in jobs):
                        break
                    time.sleep(0.5)
                seconds = time.monotonic() - started
                failed = [job for job in jobs if job["status"] != "succeeded"]
                if failed:
                    raise SystemExit(f"a job did not succeed: {failed[0]}")
                return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    cores = available_cores()
    one_after_other = makespan(args.steps, 1, 0)
    shared = makespan(args.steps, 2, 0)
    oversubscribed = makespan(args.steps, 2, cores)
    print(
        json.dumps(
            {
                "cores": cores,
                "steps": args.steps,
                "seconds_concurrency_1": round(one_after_other, 1),
                "seconds_concurrency_2_shared_cores": round(shared, 1),
                "seconds_concurrency_2_all_cores_each": round(oversubscribed, 1),
                "ratio_shared": round(shared / one_after_other, 3),
                "ratio_oversubscribed": round(oversubscribed / one_after_other, 3),
                "target_ratio_max": 1.2,
            }
        )
    )


if __name__ == "__main__":
    main()

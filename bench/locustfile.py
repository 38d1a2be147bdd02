"""The mixed workload of ``bench/load_mixed.py`` for locust: 80% ``GET /v1/jobs/{id}``, 15%
``POST /v1/jobs`` (the API only queues: ``SFD_RUNNER=none``), 5% ``GET /v1/jobs``. Each user
sends one request a second whatever the answers' speed (``constant_throughput``), so the
arrival rate is the number of users: an open-loop load while users suffice.
``LOAD_MODE=post`` instead sends POSTs back to back (the saturation run). Users are locust's
``FastHttpUser`` (geventhttpclient): the load generator shares the machine with the API, and
the default ``HttpUser`` (python-requests) costs several times the CPU per request."""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant, constant_throughput, task

KEY = os.environ["LOAD_API_KEY"]
JOB_IDS = os.environ["LOAD_JOB_IDS"].split(",")
BODY = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 10}
POST_ONLY = os.environ.get("LOAD_MODE") == "post"


class Client(FastHttpUser):
    wait_time = constant(0) if POST_ONLY else constant_throughput(1)
    default_headers = {"Authorization": f"Bearer {KEY}"}

    @task(0 if POST_ONLY else 80)
    def get_job(self) -> None:
        self.client.get(f"/v1/jobs/{random.choice(JOB_IDS)}", name="GET /v1/jobs/{id}")

    @task(15)
    def post_job(self) -> None:
        self.client.post("/v1/jobs", json=BODY, name="POST /v1/jobs")

    @task(0 if POST_ONLY else 5)
    def list_jobs(self) -> None:
        self.client.get("/v1/jobs?limit=20", name="GET /v1/jobs")

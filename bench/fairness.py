"""The fair queue on the real service (issue 14: "with tenant A holding 200 queued jobs, tenant
B's first job starts within 2 job slots"); prints one JSON line.

    .venv/bin/python bench/fairness.py [--queued 200] [--concurrency 2] [--starts 12]

Each scenario gets a fresh PostgreSQL database and ``sfd serve`` on it (``SFD_RUNNER=none``:
POST only queues, so the queue is full before anything starts). Tenants ``team-a`` and
``team-b`` post jobs over HTTP with their own API keys. Then the real embedded runner
(``worker.embedded.EmbeddedRunner``, what ``sfd serve`` runs: it picks with
``domain.jobs.scheduling.next_jobs`` and each job process claims with ``lifecycle.claim``)
runs real jobs (digits, ``--job-steps`` steps, probes off) in ``--concurrency`` slots. The
start order is ``jobs.started_at``; slots are 1-based (slot n: the n-th job started).

- ``cold``: A posts ``--queued`` jobs, B posts 1, then the runner starts: B's first slot.
- ``busy``: the runner serves A's queue; after A's ``--warm`` starts B posts 1: how many
  starts after B's post until B's first, B's included (1: the next free slot).
- ``weights_1_1``, ``weights_1_3``: A posts ``--queued``, B ``--b-jobs``; weights
  (``SFD_TENANT_WEIGHTS``) 1:1 and 1:3: B's share of the first ``--starts`` starts.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from load_mixed import ADMIN, free_port, start_api

from domain.db import Database
from domain.settings import Settings
from worker.embedded import EmbeddedRunner

A, B = "team-a", "team-b"
JOB = {
    "model": "digits",
    "unsafe_concept": "0",
    "safe_surrogate": "1",
    "probes": "off",
    "eval_samples_per_class": 2,
}


class Scenario:
    """A fresh database, the API on it, a key per tenant; the runner once :meth:`run` starts."""

    def __init__(self, home: Path, args: argparse.Namespace, weights: dict[str, float]) -> None:
        self.args, self.home = args, home
        self.database = f"sfd_fair_{secrets.token_hex(4)}"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"
        self.weights = weights
        self.runner: EmbeddedRunner | None = None
        self.db: Database | None = None
        self.api: subprocess.Popen | None = None
        self.http = httpx.Client(timeout=60)

    def __enter__(self) -> Scenario:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        try:
            admin = "sfd_admin_" + secrets.token_hex(16)
            port = free_port()
            env = {"SFD_STORAGE_URL": (self.home / "artifacts").as_uri()}
            self.api = start_api(self.home, self.database, 1, port, admin, env)
            self.http.base_url = httpx.URL(f"http://127.0.0.1:{port}")
            self.keys = {tenant: self._key(admin, tenant) for tenant in (A, B)}
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if self.runner is not None:
            self.runner.close()
        if self.db is not None:
            self.db.dispose()
        self.http.close()
        if self.api is not None:
            os.killpg(self.api.pid, signal.SIGTERM)
            self.api.wait(timeout=60)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _key(self, admin: str, tenant: str) -> str:
        body = {"name": tenant, "tenant": tenant, "scopes": ["jobs:read", "jobs:write"]}
        response = self.http.post(
            "/v1/api_keys", json=body, headers={"Authorization": f"Bearer {admin}"}
        )
        response.raise_for_status()
        return response.json()["secret"]

    def post(self, tenant: str, count: int) -> None:
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        for _ in range(count):
            body = JOB | {"steps": self.args.job_steps}
            self.http.post("/v1/jobs", json=body, headers=headers).raise_for_status()

    def run(self) -> None:
        settings = Settings(
            home=self.home,
            database_url=self.url,
            storage_url=(self.home / "artifacts").as_uri(),
            embedded_concurrency=self.args.concurrency,
            tenant_weights=self.weights,
        )
        self.db = Database(settings.resolved_database_url)
        self.runner = EmbeddedRunner(settings, self.db)
        self.runner.start()

    def starts(self) -> list[tuple[str, float]]:
        """(tenant, unix time) of every job start so far, in order."""
        with psycopg.connect(ADMIN.rsplit("/", 1)[0] + f"/{self.database}") as conn:
            rows = conn.execute(
                "SELECT tenant, extract(epoch FROM started_at) FROM jobs "
                "WHERE started_at IS NOT NULL ORDER BY started_at"
            ).fetchall()
        return [(tenant, float(at)) for tenant, at in rows]

    def until(self, done: Callable[[list[tuple[str, float]]], bool]) -> list[tuple[str, float]]:
        deadline = time.monotonic() + self.args.timeout
        while not done(started := self.starts()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out; starts so far: {[t for t, _ in started]}")
            time.sleep(0.5)
        return started


def first_slot(started: list[tuple[str, float]], tenant: str) -> int:
    return next(i for i, (who, _) in enumerate(started, 1) if who == tenant)


def cold(home: Path, args: argparse.Namespace) -> dict[str, object]:
    with Scenario(home, args, {}) as scenario:
        scenario.post(A, args.queued)
        scenario.post(B, 1)
        scenario.run()
        started = scenario.until(lambda s: any(t == B for t, _ in s))
    return {"a_queued": args.queued, "b_first_slot": first_slot(started, B)}


def busy(home: Path, args: argparse.Namespace) -> dict[str, object]:
    with Scenario(home, args, {}) as scenario:
        scenario.post(A, args.queued)
        scenario.run()
        scenario.until(lambda s: len(s) >= args.warm)
        posted = time.time()
        scenario.post(B, 1)
        started = scenario.until(lambda s: any(t == B for t, _ in s))
    after = [(tenant, at) for tenant, at in started if at >= posted]
    return {
        "a_started_before_b_posted": len(started) - len(after),
        "b_first_slot_after_post": first_slot(after, B),
        "b_first_slot_overall": first_slot(started, B),
    }


def weighted(home: Path, args: argparse.Namespace, b_weight: float) -> dict[str, object]:
    with Scenario(home, args, {A: 1.0, B: b_weight}) as scenario:
        scenario.post(A, args.queued)
        scenario.post(B, args.b_jobs)
        scenario.run()
        started = scenario.until(lambda s: len(s) >= args.starts)[: args.starts]
    order = "".join("A" if tenant == A else "B" for tenant, _ in started)
    return {
        "weights": {A: 1.0, B: b_weight},
        "b_first_slot": first_slot(started, B),
        "b_share": round(order.count("B") / len(order), 3),
        "order": order,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queued", type=int, default=200, help="tenant A's queued jobs")
    parser.add_argument("--b-jobs", type=int, default=20, help="tenant B's jobs (weights)")
    parser.add_argument("--concurrency", type=int, default=2, help="runner slots")
    parser.add_argument("--warm", type=int, default=3, help="A's starts before B posts (busy)")
    parser.add_argument("--starts", type=int, default=6, help="starts observed (weights)")
    parser.add_argument("--job-steps", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per scenario")
    args = parser.parse_args()
    figures: dict[str, object] = {"bench": "fairness", "concurrency": args.concurrency}
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, Callable[[Path], dict[str, object]]] = {
            "cold": lambda home: cold(home, args),
            "busy": lambda home: busy(home, args),
            "weights_1_1": lambda home: weighted(home, args, 1.0),
            "weights_1_3": lambda home: weighted(home, args, 3.0),
        }
        for name, scenario in runs.items():
            home = Path(tmp) / name
            home.mkdir()
            figures[name] = scenario(home)
            print(f"fairness {name}: {json.dumps(figures[name])}", file=sys.stderr, flush=True)
    figures["seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

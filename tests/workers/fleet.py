"""A real Celery deployment for the worker tests and the queue benchmark: PostgreSQL, Redis,
the API over HTTP with ``SFD_RUNNER=celery``, and ``sfd worker`` nodes as subprocesses."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.server import BackgroundServer
from domain.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
# `sfd worker` as cli/main.py wires it: a Typer app with the worker command registered.
WORKER_CLI = (
    "import typer; from cli.worker import register; app = typer.Typer(); "
    "app.callback()(lambda: None); register(app); app()"
)
TINY_JOB = {
    "model": "digits",
    "unsafe_concept": "0",
    "safe_surrogate": "1",
    "steps": 3,
    "hyperparameters": {"batch_size": 16, "warmup_pairs": 1024},  # a long job draws no more
    "eval_samples_per_class": 1,
    "probes": "quick",
}
TERMINAL = {"succeeded", "failed", "cancelled"}
# What a succeeded job with attack probes publishes.
ARTIFACTS = {"generator.tar", "report.json", "robustness.png", "samples.png"}
READY_LINE = "sfd pool process"


def create_database(prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fleet_settings(home: Path, database: str, broker_url: str, **overrides: Any) -> Settings:
    """Settings shared by the API and its workers: short leases so a lost worker shows fast."""
    values: dict[str, Any] = {
        "home": home,
        "database_url": PG_URL.format(name=database),
        "storage_url": (home / "artifacts").as_uri(),
        "runner": "celery",
        "broker_url": broker_url,
        "celery_queue": f"sfd-test-{secrets.token_hex(4)}",
        "admin_api_key": "sfd_admin_" + secrets.token_hex(16),
        "admin_tenant": "acme",
        "lease_seconds": 5,
        "checkpoint_every": 3,
        "job_time_limit_seconds": 600,
        "probes": "quick",
        **overrides,
    }
    return Settings(**values)


@dataclass
class Node:
    """One ``sfd worker`` node (its own process group: main, pool processes, reaper)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, processes: int = 1, timeout: float = 300) -> None:
        """Wait until ``processes`` pool processes have loaded the engine."""
        deadline = time.monotonic() + timeout
        while self.text().count(READY_LINE) < processes:
            if not self.alive() or time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} did not start:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole node, as a lost host would be."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM to the main process, as ``docker stop`` does)."""
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


def start_node(
    settings: Settings,
    name: str,
    log_dir: Path,
    *,
    beat: bool = True,
    options: tuple[str, ...] = (),
) -> Node:
    env = {
        **os.environ,
        **settings.to_env(),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    args = [sys.executable, "-c", WORKER_CLI, "worker", f"--name={name}@%h", *options]
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*args, *(["--beat"] if beat else [])],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Node(name, process, log)


@dataclass
class Fleet:
    """An API server and its worker nodes."""

    settings: Settings
    server: BackgroundServer
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        key = self.settings.admin_api_key
        assert key is not None
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def node_running(self, worker_id: str) -> Node:
        """The node a ``celery:<name>@<host>:<pid>`` worker id belongs to."""
        nodename = worker_id.split(":")[1]
        return next(node for node in self.nodes if nodename.startswith(f"{node.name}@"))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.server.stop()


def start_fleet(settings: Settings, names: list[str], log_dir: Path) -> Fleet:
    fleet = Fleet(settings, BackgroundServer(settings).start())  # migrates the database
    try:
        fleet.nodes = [start_node(settings, name, log_dir) for name in names]
        for node in fleet.nodes:
            node.wait_ready()
    except BaseException:
        fleet.stop()
        raise
    return fleet


def submit(client: httpx.Client, **overrides: Any) -> dict:
    response = client.post("/v1/jobs", json={**TINY_JOB, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(client: httpx.Client, job_id: str, states: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in states:
            return job
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job['status']}, waited for {states}: {job}")
        time.sleep(0.2)


def wait_until_step(client: httpx.Client, job_id: str, step: int, timeout: float = 240) -> dict:
    """Wait until the job is running and has reported training step ``step`` or later."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["progress"]["step"] >= step:
            return job
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never reached step {step}: {job}")
        time.sleep(0.2)


def events(client: httpx.Client, job_id: str) -> list[dict]:
    """The job's whole history, oldest first."""
    collected: list[dict] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.get(f"/v1/jobs/{job_id}/events", params=params).json()
        collected += page["data"]
        if not page["has_more"]:
            return collected
        params["after"] = page["data"][-1]["id"]


def state_changes(history: list[dict]) -> list[tuple[str | None, str]]:
    return [(e["data"]["from"], e["data"]["to"]) for e in history if e["type"] == "state"]

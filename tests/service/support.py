"""Helpers shared by the service tests: a running service, job polling, problem checks."""

from __future__ import annotations

import secrets
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.server import BackgroundServer
from domain.settings import Settings

S3_KEYS = {"s3_access_key": "testing", "s3_secret_key": "testing"}
# Small jobs: batch 16, and no more warm-start pairs than a test needs (a bundled digits job
# of 2,000 steps or more would draw 8,192 before its first step).
ENGINE_HP = {"batch_size": 16, "warmup_pairs": 1024}
TERMINAL = {"succeeded", "failed", "cancelled"}
# What a succeeded job with attack probes publishes.
ARTIFACTS = {"generator.tar", "report.json", "robustness.png", "samples.png"}


@dataclass
class Service:
    """A running API server and an admin client for it."""

    url: str
    admin_key: str
    settings: Settings
    server: BackgroundServer
    owner_url: str | None = None  # PostgreSQL: the tables' owner (the app runs as another role)

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key or self.admin_key}"},
            timeout=60,
        )

    def new_key(self, tenant: str, scopes: list[str]) -> str:
        with self.client() as admin:
            response = admin.post(
                "/v1/api_keys", json={"name": f"{tenant} key", "scopes": scopes, "tenant": tenant}
            )
            response.raise_for_status()
            return response.json()["secret"]


def start_service(home: Path, database_url: str, **overrides: Any) -> Service:
    admin_key = "sfd_admin_" + secrets.token_hex(16)
    owner_url = overrides.pop("owner_url", None)
    settings = Settings(
        home=home,
        database_url=database_url,
        storage_url=overrides.pop("storage_url", (home / "artifacts").as_uri()),
        admin_api_key=admin_key,
        admin_tenant="acme",
        embedded_concurrency=overrides.pop("embedded_concurrency", 2),
        probes=overrides.pop("probes", "quick"),
        **overrides,
    )
    server = BackgroundServer(settings).start()
    return Service(server.url, admin_key, settings, server, owner_url)


def wait_for(client: httpx.Client, job_id: str, states: set[str], timeout: float = 900) -> dict:
    """Poll ``GET /v1/jobs/{id}`` until the job is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in states:
            return job
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job['status']}, waited for {states}: {job}")
        time.sleep(0.2)


_finished: dict[str, dict] = {}


def finished_job(service: Service, teacher_tar: Path) -> dict:
    """One job run to completion on an uploaded model, once per service (tests share it)."""
    if service.url not in _finished:
        with service.client() as client:
            response = client.post(
                "/v1/models",
                content=teacher_tar.read_bytes(),
                params={"name": "tiny-teacher"},
                headers={"Content-Type": "application/x-tar"},
            )
            assert response.status_code == 201, response.text
            model = response.json()
            job = submit(client, model=model["id"], metadata={"ticket": "DSR-1"})
            _finished[service.url] = {
                "model": model,
                "job": wait_for(client, job["id"], {"succeeded"}),
            }
    return _finished[service.url]


def upload_teacher(client: httpx.Client, teacher_tar: Path) -> dict:
    response = client.post(
        "/v1/models",
        content=teacher_tar.read_bytes(),
        headers={"Content-Type": "application/x-tar"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def upload_new_teacher(client: httpx.Client, folder: Path, seed: int) -> dict:
    """Upload a digits-architecture teacher with random weights of its own (``seed``), so no
    other test's model shares its sha256."""
    import torch

    from sfd_core.digits.teacher import build_unet, save_teacher

    torch.manual_seed(seed)
    model = folder / f"teacher-{seed}"
    save_teacher(build_unet(), {"note": "random weights, for tests"}, out=model)
    archive = folder / f"teacher-{seed}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(model, arcname=model.name)
    response = client.post(
        "/v1/models", content=archive.read_bytes(), headers={"Content-Type": "application/x-tar"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def submit(client: httpx.Client, **overrides: Any) -> dict:
    body = {
        "model": "digits",
        "unsafe_concept": "0",
        "safe_surrogate": "1",
        "steps": 10,
        "hyperparameters": ENGINE_HP,
        "eval_samples_per_class": 10,
        "probes": "quick",
        **overrides,
    }
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """RFC 9457 problem+json with ``code`` and the response's request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["type"].startswith("urn:sfd-unlearn:problem:")
    if code is not None:
        assert body["code"] == code, body
    return body

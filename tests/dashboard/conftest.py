"""One running service shared by the dashboard tests: two tenants, and real jobs that
succeeded (a tiny engine run), failed (its model changed on disk) and were cancelled."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sfd_core.loading import BUNDLED_MODELS
from tests.service.support import Service, start_service, submit, wait_for

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OFFICER_SCOPES = ["audit:read", "jobs:read"]
SUCCEEDED_JOB = {
    "steps": 12,
    "hyperparameters": {"batch_size": 16},
    "eval_samples_per_class": 4,
    "metadata": {"ticket": "DSR-42"},
}


@dataclass
class Dashboard:
    service: Service
    officer_key: str  # tenant acme, audit:read
    reader_key: str  # tenant acme, jobs:read only
    other_key: str  # tenant globex, audit:read
    succeeded: str
    failed: str
    cancelled: str
    other_job: str  # globex's

    @property
    def url(self) -> str:
        return self.service.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    @contextmanager
    def signed_in(self, key: str | None = None) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = sign_in(client, key or self.officer_key)
            assert response.status_code == 303, response.text
            yield client


def sign_in(client: httpx.Client, key: str) -> httpx.Response:
    form = client.get("/dashboard/login")
    token = CSRF.search(form.text)
    assert token is not None, form.text
    return client.post("/dashboard/login", data={"api_key": key, "csrf": token.group(1)})


def _failed_job(service: Service, root: Path) -> str:
    """A model registered by path, then changed on disk: the job fails verifying it."""
    folder = root / "vanishing-teacher"
    shutil.copytree(BUNDLED_MODELS["digits"], folder)
    with service.client() as admin:
        response = admin.post("/v1/models", json={"path": str(folder), "name": "vanishing"})
        assert response.status_code == 201, response.text
        shutil.rmtree(folder)
        job = submit(admin, model=response.json()["id"], steps=5)
        return wait_for(admin, job["id"], {"failed"})["id"]


def _cancelled_job(client: httpx.Client) -> str:
    job = submit(client, steps=20_000)
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200, response.text
    return wait_for(client, job["id"], {"cancelled"})["id"]


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    home = tmp_path_factory.mktemp("dashboard-home")
    roots = tmp_path_factory.mktemp("model-roots")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", model_roots=[roots])
    try:
        other_writer = service.new_key("globex", ["jobs:write", "jobs:read"])
        with service.client() as admin, service.client(other_writer) as other:
            cancelled = _cancelled_job(admin)
            other_job = _cancelled_job(other)
            succeeded = submit(admin, **SUCCEEDED_JOB)["id"]
            failed = _failed_job(service, roots)
            wait_for(admin, succeeded, {"succeeded"})
        yield Dashboard(
            service=service,
            officer_key=service.new_key("acme", OFFICER_SCOPES),
            reader_key=service.new_key("acme", ["jobs:read"]),
            other_key=service.new_key("globex", OFFICER_SCOPES),
            succeeded=succeeded,
            failed=failed,
            cancelled=cancelled,
            other_job=other_job,
        )
    finally:
        service.server.stop()


@pytest.fixture()
def officer(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.signed_in() as client:
        yield client

"""Finding 10: a job process (it loads uploaded files) gets only the settings a job needs:
not the admin key, not the signing key, even though a spawned interpreter inherits the API
process's environment."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

from domain.settings import JOB_SETTINGS, Settings
from worker.embedded import restrict_environment

SECRETS = {"SFD_ADMIN_API_KEY": "sfd_admin_secret", "SFD_SIGNING_KEY": "-----BEGIN PRIVATE KEY"}


def _probe(env: dict[str, str], out: str) -> None:
    restrict_environment(env)  # what worker.embedded._job_process does first
    Path(out).write_text(json.dumps({k: v for k, v in os.environ.items() if k.startswith("SFD_")}))


def test_job_processes_get_only_job_settings(tmp_path: Path, monkeypatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        home=tmp_path,
        admin_api_key="sfd_admin_secret",
        signing_key="-----BEGIN PRIVATE KEY",
        database_url="sqlite:///x.db",
        s3_secret_key="s3-secret",
    )
    env = settings.to_env(only=JOB_SETTINGS)
    assert "SFD_ADMIN_API_KEY" not in env and "SFD_SIGNING_KEY" not in env
    assert env["SFD_DATABASE_URL"] == "sqlite:///x.db"
    out = tmp_path / "env.json"
    process = multiprocessing.get_context("spawn").Process(target=_probe, args=(env, str(out)))
    process.start()
    process.join(120)
    seen = json.loads(out.read_text())
    assert not set(SECRETS) & set(seen), seen
    assert seen["SFD_DATABASE_URL"] == "sqlite:///x.db" and seen["SFD_S3_SECRET_KEY"] == "s3-secret"
    assert {name.removeprefix("SFD_").lower() for name in seen} <= set(JOB_SETTINGS)

"""The service CLI against a running server: submit, status, wait, download; and `sfd demo`."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli import demo, jobs

from .support import Service, finished_job


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    jobs.register(app)
    demo.register(app)
    return app


def test_status_wait_and_download(
    app: typer.Typer, sqlite_service: Service, teacher_tar: Path, tmp_path: Path
) -> None:
    shared = finished_job(sqlite_service, teacher_tar)
    job_id = shared["job"]["id"]
    options = ["--url", sqlite_service.url, "--api-key", sqlite_service.admin_key]
    runner = CliRunner()
    status = runner.invoke(app, ["status", job_id, *options])
    assert status.exit_code == 0 and "succeeded" in status.output
    assert re.search(rf"verdict\s+{shared['job']['verdict']}\b", status.output), status.output
    waited = runner.invoke(app, ["wait", job_id, *options])
    assert waited.exit_code == 0, waited.output
    downloaded = runner.invoke(app, ["download", job_id, "--out", str(tmp_path), *options])
    assert downloaded.exit_code == 0, downloaded.output
    with sqlite_service.client() as client:
        for artifact in client.get(f"/v1/jobs/{job_id}/artifacts").json()["data"]:
            data = (tmp_path / artifact["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    missing = runner.invoke(app, ["status", "job_missing", *options])
    assert missing.exit_code == 1 and "no job" in missing.output


def test_submit_reports_bad_input_in_one_line(app: typer.Typer, sqlite_service: Service) -> None:
    options = ["--url", sqlite_service.url, "--api-key", sqlite_service.admin_key]
    result = CliRunner().invoke(app, ["submit", "--forget", "0", "--surrogate", "0", *options])
    assert result.exit_code == 2 and "surrogate" in result.output
    result = CliRunner().invoke(app, ["submit", "--forget", "0", "--hp", "oops", *options])
    assert result.exit_code == 2 and "key=value" in result.output
    result = CliRunner().invoke(app, ["submit", "--forget", "0", "--policy", "oops", *options])
    assert result.exit_code == 2 and "key=value" in result.output
    bad = ["--policy", "max_forget_rate=2", "--probes", "most"]
    result = CliRunner().invoke(app, ["submit", "--forget", "0", *bad, *options])
    assert result.exit_code == 2 and "probes" in result.output


def test_submit_sends_probes_and_policy(app: typer.Typer, sqlite_service: Service) -> None:
    options = ["--url", sqlite_service.url, "--api-key", sqlite_service.admin_key]
    request = ["--forget", "0", "--surrogate", "1", "--steps", "1", "--eval-samples", "1"]
    policy = ["--policy", "max_forget_rate=0.5", "--policy", "require_probes=false"]
    result = CliRunner().invoke(app, ["submit", *request, "--probes", "off", *policy, *options])
    assert result.exit_code == 0, result.output
    with sqlite_service.client() as client:
        job = client.get(f"/v1/jobs/{result.output.strip()}").json()
    assert job["probes"] == "off"
    assert job["policy"] == {"max_forget_rate": 0.5, "require_probes": False}


def test_demo_runs_the_main_job(app: typer.Typer, tmp_path: Path) -> None:
    """`sfd demo` (with few steps): embedded service, digits 0 -> 1, download, sample, report."""
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--steps",
            "10",
            "--eval-samples",
            "10",
            "--probes",
            "quick",
            "--out",
            str(out),
            "--home",
            str(tmp_path / "home"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sha256" in result.output and "audit chain: verified" in result.output
    assert "verdict: " in result.output
    assert (out / "generator_grid.png").stat().st_size > 500
    assert (out / "generator" / "sfd.json").is_file()

"""Issue 13: the `sfd` command run from any folder. Client and admin commands reach the server
named by flags, the environment or `sfd login`'s config file, never a database or key file of
the current folder; commands that need the server's own files refuse in one line where those
are missing instead of making new, empty ones. Every test runs the installed `sfd` entry point
in a subprocess, in an empty folder, against a real server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.server import free_port
from domain.db import Database

from .support import Service, finished_job, start_service
from .test_audit_chain import _behind_the_triggers_back

SFD = Path(sys.executable).with_name("sfd")


@pytest.fixture()
def elsewhere(tmp_path: Path) -> Path:
    """An empty folder, neither the server's nor the repository."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def sfd(folder: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run `sfd` in ``folder`` with no SFD_* variables but ``env`` and a config file of its own
    (``folder/../config/sfd.toml``); the exit code and the output on one line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFD_")}
    clean |= {"HOME": str(folder), "SFD_CONFIG": str(folder.parent / "config" / "sfd.toml")}
    clean |= {"COLUMNS": "200", **env}
    done = subprocess.run(
        [str(SFD), *args], cwd=folder, env=clean, capture_output=True, text=True, timeout=300
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def _assert_untouched(folder: Path) -> None:
    assert list(folder.iterdir()) == [], "the command wrote into the current folder"


def _login(folder: Path, service: Service) -> None:
    code, output = sfd(folder, "login", "--url", service.url, "--api-key", service.admin_key)
    assert code == 0, output


def test_client_commands_without_a_key_say_how_to_sign_in(elsewhere: Path) -> None:
    for args in (["status", "job_x"], ["keys", "list"], ["audit", "verify"]):
        code, output = sfd(elsewhere, *args)
        assert code == 1 and output.startswith("error: no API key"), output
        assert "sfd login" in output and "Traceback" not in output
    _assert_untouched(elsewhere)


def test_login_saves_a_private_config_that_later_commands_use(
    sqlite_service: Service, elsewhere: Path
) -> None:
    code, output = sfd(elsewhere, "login", "--url", sqlite_service.url, "--api-key", "sfd_wrong")
    assert code == 1 and "not valid" in output, output
    config = elsewhere.parent / "config" / "sfd.toml"
    assert not config.exists()
    _login(elsewhere, sqlite_service)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert sqlite_service.admin_key in config.read_text()

    code, output = sfd(elsewhere, "keys", "create", "--tenant", "acme", "--scopes", "jobs:read")
    assert code == 0, output
    key_id, secret = output.split()[0], output.split()[-1]
    with sqlite_service.client(secret) as made:
        assert made.get("/v1/jobs").status_code == 200  # the running server knows the key
    code, output = sfd(elsewhere, "keys", "list", "--tenant", "acme")
    assert code == 0 and key_id in output, output
    with sqlite_service.client() as admin:
        events = admin.get("/v1/audit/events", params={"object_id": key_id}).json()["data"]
    assert {(e["actor"], e["actor_key_id"]) for e in events} == {
        ("key:key_bootstrap_admin", "key_bootstrap_admin")  # the admin who made it
    }
    code, output = sfd(elsewhere, "audit", "verify")
    assert code == 0 and "audit chain verified" in output, output
    assert int(output.split("verified: ")[1].split()[0]) > 1  # the server's chain, not empty
    _assert_untouched(elsewhere)


def test_the_saved_key_goes_only_to_the_saved_server(
    sqlite_service: Service, elsewhere: Path
) -> None:
    _login(elsewhere, sqlite_service)
    code, output = sfd(elsewhere, "status", "job_x", "--url", "http://127.0.0.1:9")
    assert code == 1 and "no API key for http://127.0.0.1:9" in output, output
    code, output = sfd(elsewhere, "status", "job_x")  # the saved server: its 404, in one line
    assert code == 1 and output.startswith("error:") and "job_x" in output, output


def test_certificates_verify_with_the_servers_public_keys(
    sqlite_service: Service, teacher_tar: Path, elsewhere: Path, tmp_path: Path
) -> None:
    job_id = finished_job(sqlite_service, teacher_tar)["job"]["id"]
    with sqlite_service.client() as admin:
        certificate = admin.get(f"/v1/jobs/{job_id}/certificate")
        assert certificate.status_code == 200, certificate.text
        active = admin.get("/v1/signing-keys").json()["data"][0]["keyid"]
    path = tmp_path / "certificate.json"
    path.write_bytes(certificate.content)
    code, output = sfd(elsewhere, "certificate", "verify", str(path), SFD_URL=sqlite_service.url)
    assert code == 0 and f"for job {job_id} verified" in output, output
    code, output = sfd(elsewhere, "signing-key", "show", SFD_URL=sqlite_service.url)
    assert code == 0 and f"# keyid {active}" in output and "BEGIN PUBLIC KEY" in output
    _assert_untouched(elsewhere)


def test_commands_on_the_servers_own_files_refuse_where_there_are_none(elsewhere: Path) -> None:
    for args in (["db", "upgrade"], ["signing-key", "rotate"]):
        code, output = sfd(elsewhere, *args)
        assert (
            code == 1
            and output.startswith("error: no sfd data folder")
            or output.startswith("error: no signing key")
        ), output
        assert "sfd serve" in output
    _assert_untouched(elsewhere)


@pytest.fixture()
def own_service(tmp_path: Path) -> Iterator[Service]:
    home = tmp_path / "home"
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}")
    yield service
    service.server.stop()


def test_audit_verify_reports_the_servers_broken_chain(
    own_service: Service, elsewhere: Path
) -> None:
    own_service.new_key("acme", ["jobs:read"])
    _login(elsewhere, own_service)
    code, output = sfd(elsewhere, "audit", "verify")
    assert code == 0 and "audit chain verified" in output, output
    database = Database(own_service.settings.resolved_database_url)
    _behind_the_triggers_back(database, "UPDATE audit_events SET tenant = 'evil' WHERE seq = 1")
    database.dispose()
    code, output = sfd(elsewhere, "audit", "verify")
    assert code == 1 and "broken at row 1" in output, output
    reader = own_service.new_key("acme", ["audit:read"])  # a tenant key: its tenant's view
    code, output = sfd(elsewhere, "audit", "verify", "--api-key", reader)
    assert code == 1 and "broken" in output, output


def test_serve_on_a_busy_port_fails_in_one_line(sqlite_service: Service, elsewhere: Path) -> None:
    port = httpx.URL(sqlite_service.url).port
    code, output = sfd(elsewhere, "serve", "--port", str(port))
    assert code == 1 and output.startswith(f"error: cannot listen on 127.0.0.1:{port}"), output
    assert "startup" not in output.lower()
    _assert_untouched(elsewhere)


def test_serve_names_the_admin_key_it_made(elsewhere: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFD_")}
    server = subprocess.Popen(
        [str(SFD), "serve", "--port", str(port)],
        cwd=elsewhere,
        env={**clean, "SFD_RUNNER": "none"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "sfd serve died"
            time.sleep(0.3)
        key_file = (elsewhere / ".sfd" / "admin.key").resolve()
        headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        key = httpx.get(f"{url}/v1/api_keys/key_bootstrap_admin", headers=headers).json()
        assert key["name"] == f"bootstrap admin ({key_file})"
    finally:
        server.terminate()
        output = server.communicate(timeout=60)[0]
    assert f"sfd login --url {url} --api-key-file {key_file}" in " ".join(output.split())

"""Several API processes on PostgreSQL: ``sfd serve --workers 2`` serves one port from two
processes that share the database (``bench/load_mixed.py`` runs four under load); 16
concurrent audit writers leave one unbroken chain (no lost or forked row); the embedded
runner is refused with several processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.server import free_port
from cli.main import app as sfd
from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database

REPO = Path(__file__).resolve().parents[2]
WRITERS = 16
APPENDS = 40
POOL, OVERFLOW = 2, 1  # per API process: 16 concurrent clients must queue for 3 connections


def test_16_concurrent_audit_writers_keep_one_chain(
    pg_app_database: Callable[[], tuple[str, str]],
) -> None:
    _, app_url = pg_app_database()
    db = Database(app_url)
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        start.wait()
        for i in range(APPENDS):
            with db.session() as session:
                actor = Actor.system(f"tenant-{writer}")
                audit.record(session, actor, "test.append", "test", f"{writer}-{i}", {"i": i})

    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(write, range(WRITERS)))
        seconds = time.perf_counter() - began
        with db.sessions() as session:
            checked = audit.verify(session)
            forks = session.scalar(
                sa.text(
                    "SELECT count(*) FROM (SELECT prev_hash FROM audit_events "
                    "GROUP BY prev_hash HAVING count(*) > 1) AS forked"
                )
            )
    finally:
        db.dispose()
    assert checked.valid, checked.reason
    assert checked.checked == checked.head_seq == WRITERS * APPENDS  # none lost
    assert forks == 0
    print(
        f"\n{WRITERS * APPENDS} audit appends by {WRITERS} writers: "
        f"{WRITERS * APPENDS / seconds:.0f}/s"
    )


@pytest.fixture
def two_processes(
    tmp_path: Path, pg_app_database: Callable[[], tuple[str, str]]
) -> Iterator[tuple[str, str, int, str, str]]:
    """``sfd serve --workers 2`` on PostgreSQL (as the app role), queue only: the URL, the admin
    key, the server's pid, the owner's database URL and the app role."""
    owner_url, app_url = pg_app_database()
    port, key = free_port(), "sfd_admin_" + secrets.token_hex(16)
    env = {
        **os.environ,
        "SFD_HOME": str(tmp_path),
        "SFD_DATABASE_URL": app_url,
        "SFD_RUNNER": "none",
        "SFD_ADMIN_API_KEY": key,
        "SFD_ADMIN_TENANT": "acme",
        "SFD_RATE_LIMIT": "",
        "SFD_DATABASE_POOL_SIZE": str(POOL),
        "SFD_DATABASE_MAX_OVERFLOW": str(OVERFLOW),
    }
    command = [sys.executable, "-c", "from cli.main import app; app()", "serve"]
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*command, "--workers", "2", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # each process imports torch: slow on a busy host
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url, key, server.pid, owner_url, sa.make_url(app_url).username
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def _children(pid: int) -> int:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                count += 1
    return count


def _peak_connections(owner_url: str, role: str, stop: threading.Event) -> list[int]:
    """Sample the app role's connections to the database until ``stop``; the samples."""
    engine = sa.create_engine(owner_url, poolclass=sa.NullPool)
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = :role "
        "AND datname = current_database()"
    )
    samples = []
    with engine.connect() as conn:
        while not stop.is_set():
            samples.append(conn.execute(query, {"role": role}).scalar_one())
            time.sleep(0.05)
    engine.dispose()
    return samples


def test_sfd_serve_with_two_processes_on_postgres(
    two_processes: tuple[str, str, int, str, str],
) -> None:
    url, key, pid, owner_url, role = two_processes
    assert _children(pid) >= 2
    body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 10}
    headers = {"Authorization": f"Bearer {key}"}

    def post(_: int) -> list[int]:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            return [client.post("/v1/jobs", json=body).status_code for _ in range(6)]

    stop = threading.Event()
    with ThreadPoolExecutor(WRITERS + 1) as pool:
        sampler = pool.submit(_peak_connections, owner_url, role, stop)
        statuses = [s for batch in pool.map(post, range(WRITERS)) for s in batch]
        stop.set()
        samples = sampler.result()
    assert statuses == [201] * (WRITERS * 6)
    # Requests wait for a pooled connection instead of opening more than the settings allow
    # (SFD_DATABASE_POOL_SIZE + SFD_DATABASE_MAX_OVERFLOW per process).
    assert samples and max(samples) <= 2 * (POOL + OVERFLOW), max(samples)
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        verified = client.get("/v1/audit/verify", params={"full": "true"}).json()
        events = client.get(
            "/v1/audit/events", params={"action": "job.created", "limit": 100}
        ).json()
    assert verified["valid"], verified
    assert len(events["data"]) == WRITERS * 6 and not events["has_more"]


def test_several_processes_refuse_the_embedded_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFD_HOME", str(tmp_path))
    monkeypatch.delenv("SFD_RUNNER", raising=False)
    result = CliRunner().invoke(sfd, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "SFD_RUNNER=celery" in result.output

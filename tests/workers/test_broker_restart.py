"""Redis restarted mid-run (a private redis-server without persistence, so every message is
lost): the running job carries on, and the reaper re-publishes the jobs whose messages
vanished, including one submitted while Redis was down. No job is lost or run twice."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from api.server import free_port

from .fleet import Fleet, fleet_settings, start_fleet, submit, wait_for, wait_until_step


class RedisServer:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


def test_redis_restart_loses_no_job(
    tmp_path: Path, private_redis: RedisServer, pg_database: Callable[[], str]
) -> None:
    settings = fleet_settings(tmp_path, pg_database(), private_redis.url)
    fleet: Fleet = start_fleet(settings, ["solo"], tmp_path)
    try:
        with fleet.client() as client:
            running = submit(client, steps=10)
            waiting = submit(client)
            wait_until_step(client, running["id"], 1)
            broker = redis.Redis(port=private_redis.port)
            assert broker.llen(settings.celery_queue) >= 1  # the waiting job's message

            private_redis.kill()
            during = submit(client)  # the API cannot publish; the row is queued all the same
            private_redis.start()
            assert broker.dbsize() == 0  # every message is gone

            jobs = [wait_for(client, j["id"], {"succeeded"}) for j in (running, waiting, during)]
        assert [job["attempt"] for job in jobs] == [1, 1, 1]
    finally:
        fleet.stop()

"""Session set-up for the worker tests: the real PostgreSQL and Redis (failing, never skipping,
when they cannot be reached), S3 through the minio client against moto's server on loopback,
and one fleet (the API over HTTP plus two ``sfd worker`` nodes) that the tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from moto.server import ThreadedMotoServer

from api.server import free_port
from tests.redis_db import redis_test_url

from .fleet import Fleet, create_database, drop_database, fleet_settings, start_fleet

REDIS_URL = redis_test_url()
S3_KEYS = {"s3_access_key": "testing", "s3_secret_key": "testing", "s3_secure": False}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases (names), all dropped at the end."""
    created: list[str] = []

    def make() -> str:
        created.append(create_database("sfd_workers"))
        return created[-1]

    yield make
    for name in created:
        drop_database(name)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: Callable[[], str],
    redis_url: str,
    s3_endpoint: str,
) -> Iterator[Fleet]:
    """PostgreSQL, Redis, S3; two worker nodes, both running the reaper."""
    home: Path = tmp_path_factory.mktemp("fleet")
    settings = fleet_settings(
        home,
        pg_database(),
        redis_url,
        storage_url="s3://sfd-workers/fleet",
        s3_endpoint=s3_endpoint,
        **S3_KEYS,
    )
    running = start_fleet(settings, ["w1", "w2"], home)
    yield running
    running.stop()

"""Fixtures for the service tests: real SQLite and PostgreSQL databases, a loopback S3 server
(moto) reached through the minio client, and the API served by uvicorn on a free port."""

from __future__ import annotations

import secrets
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from moto.server import ThreadedMotoServer

from api.server import free_port
from domain.dbroles import grant_app_role
from domain.migrate import upgrade

from .support import S3_KEYS, Service, start_service

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of fresh PostgreSQL databases, all dropped at the end of the session."""
    created: list[str] = []

    def make() -> str:
        name = f"sfd_test_{secrets.token_hex(6)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return PG_URL.format(name=name)

    yield make
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_app_database(pg_database: Callable[[], str]) -> Iterator[Callable[[], tuple[str, str]]]:
    """A factory of migrated PostgreSQL databases: ``(owner URL, app URL)``. The tables
    belong to the owner (who ran the migrations); the app role is neither owner nor superuser
    and holds only the grants ``sfd db upgrade`` gives it (``domain.dbroles``)."""
    roles: list[tuple[str, str]] = []

    def make() -> tuple[str, str]:
        owner_url = pg_database()
        role = f"sfd_app_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        roles.append((role, owner_url))
        upgrade(owner_url)
        grant_app_role(owner_url, role)
        return owner_url, owner_url.replace("://postgres@", f"://{role}@")

    yield make
    for role, url in roles:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback; ``host:port`` for the minio client."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real class-conditional diffusers teacher (the digits architecture, random weights)."""
    import torch

    from sfd_core.digits.teacher import build_unet, save_teacher

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("teacher") / "tiny-teacher"
    save_teacher(build_unet(), {"note": "random weights, for tests"}, out=folder)
    return folder


@pytest.fixture(scope="session")
def teacher_tar(teacher_dir: Path) -> Path:
    path = teacher_dir.parent / "tiny-teacher.tar"
    with tarfile.open(path, "w") as archive:
        archive.add(teacher_dir, arcname="tiny-teacher")
    return path


@pytest.fixture(scope="session")
def sqlite_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("sqlite-home")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}")
    yield service
    service.server.stop()


@pytest.fixture(scope="session")
def postgres_s3_service(
    tmp_path_factory: pytest.TempPathFactory,
    pg_app_database: Callable[[], tuple[str, str]],
    s3_endpoint: str,
) -> Iterator[Service]:
    """PostgreSQL for state (as the non-owner app role), S3 (through the minio client) for
    artifacts and audit checkpoints; models may be referenced under s3://teacher-models/."""
    home = tmp_path_factory.mktemp("pg-home")
    owner_url, app_url = pg_app_database()
    service = start_service(
        home,
        app_url,
        owner_url=owner_url,
        model_uri_prefixes=["s3://teacher-models/", "s3://sfd-artifacts/"],
        storage_url="s3://sfd-artifacts/service",
        s3_endpoint=s3_endpoint,
        s3_secure=False,
        **S3_KEYS,
    )
    yield service
    service.server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgres+s3"])
def service(request: pytest.FixtureRequest) -> Service:
    name = "sqlite_service" if request.param == "sqlite" else "postgres_s3_service"
    return request.getfixturevalue(name)

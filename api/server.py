"""Running the API with uvicorn: in the foreground (``sfd serve``) or in a background thread
(``sfd demo``, tests, benchmarks)."""

from __future__ import annotations

import os
import socket
import threading
import time

import uvicorn

from api.app import create_app, prepare
from domain.db import Database
from domain.settings import Settings
from domain.signing import load_keyring

STARTUP_TIMEOUT = 120.0
# How long a worker process may take to answer the supervisor's health check before it is
# killed and replaced: a process still importing torch on a busy host needs more than
# uvicorn's 5 s, or it is replaced over and over and never serves.
WORKER_HEALTHCHECK_SECONDS = 60


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class PortInUse(OSError):
    """The address cannot be listened on; the message says so in one line."""


def check_port(host: str, port: int) -> None:
    """Refuse before start-up (migrations, runner) when ``host:port`` cannot be bound."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(
    settings: Settings,
    host: str,
    port: int,
    log_level: str = "info",
    workers: int = 1,
    admin_key_source: str = "SFD_ADMIN_API_KEY",
) -> None:
    """Serve the API; with ``workers`` > 1, that many processes share the port (uvicorn's
    supervisor), each building the app from the ``SFD_*`` environment."""
    if workers <= 1:
        app = create_app(settings, admin_key_source=admin_key_source)
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    prepare_workers(settings, admin_key_source)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


class WorkersRefused(ValueError):
    """This configuration cannot be served by several processes."""


def prepare_workers(settings: Settings, admin_key_source: str = "SFD_ADMIN_API_KEY") -> None:
    """Before forking API processes: refuse the embedded runner (each process would run its
    own), then once: migrate, make the bootstrap admin key, the bundled models' rows and the
    signing key (so the children do not race to), and hand the children the admin key
    resolved here (they read every other setting from the same environment)."""
    if settings.runner == "embedded":
        raise WorkersRefused(
            "several API processes need SFD_RUNNER=celery (workers run the jobs) or "
            "SFD_RUNNER=none (another process runs them): each process would start its "
            "own embedded runner"
        )
    db = Database(settings.resolved_database_url)
    try:
        prepare(settings, db, admin_key_source)
    finally:
        db.dispose()
    load_keyring(settings)
    if settings.admin_api_key is not None:
        os.environ["SFD_ADMIN_API_KEY"] = settings.admin_api_key.get_secret_value()
    os.environ["SFD_AUTO_MIGRATE"] = "false"


class BackgroundServer:
    """uvicorn in a daemon thread; ``url`` once started. Use as a context manager."""

    def __init__(
        self, settings: Settings, host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.host, self.port = host, port or free_port(host)
        config = uvicorn.Config(
            create_app(settings), host=self.host, port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="sfd-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start (see the log above)")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

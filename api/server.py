"""Running the API with uvicorn: in the foreground (``sfd serve``) or in a background thread
(``sfd demo``, tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from api.app import create_app
from domain.settings import Settings

STARTUP_TIMEOUT = 120.0


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
    admin_key_source: str = "SFD_ADMIN_API_KEY",
) -> None:
    app = create_app(settings, admin_key_source=admin_key_source)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


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

"""Starting and reaching the service: ``sfd serve`` and ``sfd login`` (job commands live in
:mod:`cli.jobs`, ``sfd demo`` in :mod:`cli.demo`, ``audit``/``db`` in :mod:`cli.admin`,
``sfd keys`` in :mod:`cli.keys`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import remote
from cli.config import DEFAULT_URL, write_config
from cli.remote import calls, console, fail

if TYPE_CHECKING:  # pydantic-settings loads in the commands that use it
    from domain.settings import Settings

ADMIN_KEY_FILE = "admin.key"


def admin_key(settings: Settings) -> str:
    """``SFD_ADMIN_API_KEY``, else the key kept in ``SFD_HOME/admin.key`` (made on first use)."""
    if settings.admin_api_key is not None:
        return settings.admin_api_key.get_secret_value()
    path = settings.home / ADMIN_KEY_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("sfd_" + secrets.token_urlsafe(32))
    return path.read_text().strip()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="API processes (more than 1: PostgreSQL and SFD_RUNNER=celery or none)."
        ),
    ] = 1,
) -> None:
    """Start the API with its job runner (embedded defaults: SQLite and a folder in SFD_HOME)."""
    from api.server import PortInUse, WorkersRefused, check_port
    from api.server import serve as run_server
    from domain.settings import Settings

    try:
        check_port(host, port)
    except PortInUse as exc:
        raise fail(str(exc)) from None
    settings = Settings()
    key = admin_key(settings)
    source = "SFD_ADMIN_API_KEY"
    if settings.admin_api_key is None:
        key_file = (settings.home / ADMIN_KEY_FILE).resolve()
        source = str(key_file)
        console.print(f"admin API key: {key_file}", highlight=False, soft_wrap=True)
        console.print(
            f"sign the CLI in with: sfd login --url http://{host}:{port} --api-key-file {key_file}",
            highlight=False,
            soft_wrap=True,
        )
    try:
        run_server(
            Settings(admin_api_key=key), host, port, workers=workers, admin_key_source=source
        )
    except WorkersRefused as exc:
        raise fail(str(exc), 2) from None


def login(
    url: Annotated[
        str, typer.Option("--url", envvar="SFD_URL", help="The API's base URL.")
    ] = DEFAULT_URL,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="SFD_API_KEY", help="The API key.")
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Read the API key from this file."),
    ] = None,
) -> None:
    """Check a key against the server and save both for later commands (in $SFD_CONFIG, else
    ~/.config/sfd/config.toml, mode 0600); asks for the key if none is given."""
    from api.client import APIError

    if api_key_file is not None:
        api_key = api_key_file.read_text().strip()
    if not api_key:
        api_key = typer.prompt("API key", hide_input=True).strip()
    url = url.rstrip("/")
    with remote.client(url, api_key) as api, calls(api):
        try:
            api.list_jobs(limit=1)
        except APIError as exc:  # 403: a valid key without jobs:read
            if exc.status != 403:
                raise
    path = write_config(url, api_key)
    console.print(
        f"signed in to {url} (key {api_key[:10]}...); saved in {path}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    for command in (serve, login):
        app.command()(command)

"""What every command that talks to the API shares: the ``--url``/``--api-key`` options, the
client they resolve to (:mod:`cli.config`) and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cli.config import ConfigProblem, resolve

if TYPE_CHECKING:  # httpx loads in the commands that use it
    from api.client import SFDClient

console = Console()

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="SFD_URL", help="The API's base URL (default: `sfd login`'s, else local)."
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="SFD_API_KEY", help="Default: the key `sfd login` saved."),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line; raise the result to end the command with ``code``."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def client(url: str | None, api_key: str | None) -> SFDClient:
    """A client for the resolved server; one line and exit 1 when no key is known."""
    from api.client import SFDClient

    try:
        target = resolve(url, api_key)
    except ConfigProblem as exc:
        raise fail(str(exc)) from None
    if target.api_key is None:
        raise fail(
            f"no API key for {target.url}: run `sfd login --url {target.url}`, "
            "pass --api-key or set SFD_API_KEY"
        )
    return SFDClient(target.url, target.api_key)


@contextmanager
def calls(client: SFDClient, code: int = 1) -> Iterator[None]:
    """API errors (exit ``code``) and an unreachable server (exit 1) end the command with one
    line, not a traceback."""
    import httpx

    from api.client import APIError

    try:
        yield
    except APIError as exc:
        raise fail(exc.detail, code) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise fail(f"cannot reach the API at {client.base_url}: {reason}") from None

"""``sfd keys create|list|revoke|rotate``: API keys, through the API (``/v1/api_keys``) with the
key ``sfd login`` saved (or ``--api-key``), so each change is audited as the admin who made it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.remote import KeyOption, UrlOption, calls, client, console

keys_app = typer.Typer(help="API keys (create, list, revoke, rotate).", no_args_is_help=True)


def _when(stamp: int | None) -> str:
    return "-" if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()[:19]


@keys_app.command("create")
def keys_create(
    tenant: Annotated[
        str | None, typer.Option(help="The key's tenant (default: your own).")
    ] = None,
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes.")] = "jobs:read,jobs:write",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Days until the key stops working.")
    ] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Issue an API key; prints its id and the secret (shown once)."""
    expires = None if expires_in_days is None else int(time.time()) + expires_in_days * 86400
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    with client(url, api_key) as api, calls(api, code=2):
        key = api.create_api_key(name, wanted, tenant=tenant, expires_at=expires)
    console.print(f"{key['id']} ({key['tenant']}: {', '.join(key['scopes'])})")
    console.print(key["secret"], highlight=False)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Whose keys (default: your own).")] = None,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """A tenant's keys (never their secrets), with their state."""
    with client(url, api_key) as api, calls(api):
        keys = api.list_api_keys(tenant)
    now = time.time()
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("scopes", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    for key in keys:
        expired = key["expires_at"] is not None and key["expires_at"] <= now
        state = "revoked" if key["revoked_at"] else "expired" if expired else "live"
        table.add_row(
            key["id"], key["name"], ",".join(key["scopes"]), state, _when(key["expires_at"])
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Revoke a key at once (its dashboard sessions end too)."""
    with client(url, api_key) as api, calls(api):
        key = api.revoke_api_key(key_id)
    console.print(f"{key['id']} revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: str,
    grace_seconds: Annotated[
        int, typer.Option(min=0, max=7 * 86400, help="Keep the old key working this long.")
    ] = 0,
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Replace a key (same tenant, name, scopes, expiry); prints the new id and secret."""
    with client(url, api_key) as api, calls(api):
        key = api.rotate_api_key(key_id, grace_seconds)
    console.print(f"{key['id']} replaces {key_id}")
    console.print(key["secret"], highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

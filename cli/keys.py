"""``sfd keys create|list|revoke|rotate``: API keys, straight in the database (the operator's
commands; they act as the platform, and each change is audited in the key's tenant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
keys_app = typer.Typer(help="API keys (create, list, revoke, rotate).", no_args_is_help=True)
OPERATOR = "cli:operator"


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _in_database(work: Callable[[Any, Any], Any]) -> Any:
    """Run ``work(session, actor)`` in one transaction as the platform operator; a domain
    error is a one-line message (exit 1 for unknown keys, 2 for bad input)."""
    from domain.actor import PLATFORM_ADMIN, Actor
    from domain.db import Database
    from domain.errors import DomainError, NotFound
    from domain.migrate import upgrade
    from domain.settings import Settings

    settings = Settings()
    if settings.auto_migrate:
        upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    actor = Actor(tenant=None, name=OPERATOR, scopes=frozenset({PLATFORM_ADMIN}))
    try:
        with db.session() as session:
            return work(session, actor)
    except DomainError as exc:
        raise _fail(exc.detail, 1 if isinstance(exc, NotFound) else 2) from None
    finally:
        db.dispose()


def _expiry(days: int | None) -> Any:
    from datetime import timedelta

    from domain.db import utcnow

    return None if days is None else utcnow() + timedelta(days=days)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The key's tenant.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes.")] = "jobs:read,jobs:write",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Days until the key stops working.")
    ] = None,
) -> None:
    """Issue an API key; prints its id and the secret (shown once)."""
    from domain.api_keys.service import create_key

    key, secret = _in_database(
        lambda session, actor: create_key(
            session,
            actor,
            tenant=tenant,
            name=name,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            expires_at=_expiry(expires_in_days),
        )
    )
    console.print(f"{key.id} ({key.tenant}: {', '.join(key.scopes)})")
    console.print(secret)


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Whose keys.")]) -> None:
    """A tenant's keys (never their secrets), with their state."""
    from domain.api_keys.service import list_keys
    from domain.db import utcnow

    def rows(session: Any, actor: Any) -> list[tuple[str, ...]]:
        now, found, after = utcnow(), [], None
        while True:
            page = list_keys(session, actor, tenant=tenant, after=after, limit=100)
            for key in page.data:
                state = "revoked" if key.revoked_at else "live" if key.is_live(now) else "expired"
                expires = key.expires_at.isoformat(timespec="seconds") if key.expires_at else "-"
                found.append((key.id, key.name, ",".join(key.scopes), state, expires))
            if not page.has_more:
                return found
            after = page.data[-1].id

    table = Table("id", "name", "scopes", "state", "expires")
    for row in _in_database(rows):
        table.add_row(*row)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key at once (its dashboard sessions end too)."""
    from domain.api_keys.service import revoke_key

    key = _in_database(lambda session, actor: revoke_key(session, actor, key_id))
    console.print(f"{key.id} revoked")


@keys_app.command("rotate")
def keys_rotate(
    key_id: str,
    grace_seconds: Annotated[
        int, typer.Option(min=0, max=7 * 86400, help="Keep the old key working this long.")
    ] = 0,
) -> None:
    """Replace a key (same tenant, name, scopes, expiry); prints the new id and secret."""
    from domain.api_keys.service import rotate_key

    key, secret = _in_database(
        lambda session, actor: rotate_key(session, actor, key_id, grace_seconds=grace_seconds)
    )
    console.print(f"{key.id} replaces {key_id}")
    console.print(secret)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")

"""Operator commands: ``sfd audit verify`` and ``sfd db upgrade``."""

from __future__ import annotations

import typer

from cli import remote
from cli.remote import KeyOption, UrlOption, calls, console, fail

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Have the server check the audit chain against its newest signed checkpoint (every row
    for a platform admin key, else the key's tenant's view); exit 1 if it does not hold."""
    from api.client import APIError

    with remote.client(url, api_key) as api, calls(api):
        try:
            result = api.verify_audit(full=True)
        except APIError as exc:
            if exc.code != "insufficient_scope":
                raise
            result = api.verify_audit()
    chain = result.get("chain")
    if not result["valid"]:
        where = chain["first_broken_seq"] if chain else result["first_broken_id"]
        raise fail(f"audit chain broken at row {where}: {result['reason']}")
    if chain is None:
        console.print(
            f"audit log verified: {result['events']} events of this key's tenant, anchored "
            f"through event {result['anchored_through_event_id']}"
        )
        return
    checkpoint = chain["checkpoint"]
    anchored = (
        f"signed checkpoint at row {checkpoint['seq']} ({checkpoint['created_at']})"
        if checkpoint
        else "no signed checkpoint yet"
    )
    console.print(
        f"audit chain verified: {chain['checked']} events, head {chain['head_hash'][:16]}..., "
        f"{anchored}"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SFD_DATABASE_URL (default: SQLite in SFD_HOME, which must
    exist: `sfd serve` makes it)."""
    from domain.migrate import upgrade
    from domain.settings import Settings

    settings = Settings()
    if settings.database_url is None and not settings.home.is_dir():
        raise fail(
            f"no sfd data folder at {settings.home.resolve()}: run this where `sfd serve` "
            "runs, or set SFD_HOME or SFD_DATABASE_URL"
        )
    url = settings.resolved_database_url
    upgrade(url)
    console.print(f"database at head: {url.split('@')[-1]}")
    if settings.database_app_role:
        from domain.dbroles import RoleProblem, grant_app_role

        try:
            if grant_app_role(url, settings.database_app_role):
                console.print(f"granted the app role {settings.database_app_role!r}")
        except RoleProblem as exc:
            raise fail(str(exc), 2) from None


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")

"""``sfd certificate verify``: check a certificate's signature and re-compute its hashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from domain.certificates.signing import signing_key
from domain.certificates.verify import verify
from domain.settings import Settings

console = Console()
certificate_app = typer.Typer(help="Unlearning certificates.", no_args_is_help=True)


@certificate_app.command("verify")
def verify_certificate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Certificate JSON.")],
    artifacts: Annotated[
        Path | None,
        typer.Option(
            "--artifacts",
            exists=True,
            file_okay=False,
            help="Folder holding the job's downloaded artifacts (e.g. from `sfd download`).",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            exists=True,
            dir_okay=False,
            help="The signing key; default SFD_CERTIFICATE_KEY or SFD_HOME/certificate.key.",
        ),
    ] = None,
) -> None:
    """Exit 0 only if the signature is valid and every artifact given matches its hash."""
    try:
        document = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        console.print(f"[red]error:[/red] {file} is not JSON: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(document, dict):
        console.print(f"[red]error:[/red] {file} does not hold a certificate object")
        raise typer.Exit(2)
    key = key_file.read_text().strip().encode() if key_file else signing_key(Settings())
    checks = verify(document, key, artifacts)
    for check in checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name}: {check.detail}")
    if not all(check.ok for check in checks):
        raise typer.Exit(1)
    console.print(f"certificate {document.get('id')} for job {document.get('job_id')} verified")


def register(app: typer.Typer) -> None:
    app.add_typer(certificate_app, name="certificate")

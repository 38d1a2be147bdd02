"""``sfd certificate verify`` (a certificate checked with the public key only) and ``sfd
signing-key show|rotate`` (the service's Ed25519 key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.remote import UrlOption, console, fail

certificate_app = typer.Typer(help="Unlearning certificates.", no_args_is_help=True)
signing_app = typer.Typer(help="The key signing certificates and audit checkpoints.")


def _keys_url(url: str | None) -> str:
    """``/v1/signing-keys`` of the server ``--url``, ``SFD_URL`` or ``sfd login`` names."""
    from cli.config import ConfigProblem, resolve

    try:
        return resolve(url, None).url + "/v1/signing-keys"
    except ConfigProblem as exc:
        raise fail(str(exc), 2) from None


def _trusted_keys(files: list[Path], keys_url: str | None) -> list[Any]:
    """Public keys from PEM files, or from the service's key list at ``keys_url``."""
    import httpx

    from domain.signing import public_keys

    texts = [file.read_text() for file in files]
    if keys_url:
        try:
            response = httpx.get(keys_url, timeout=30)
            response.raise_for_status()
            texts += [item["public_key_pem"] for item in response.json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise fail(f"cannot read public keys from {keys_url}: {exc}", 2) from None
    try:
        keys = [key for text in texts for key in public_keys(text)]
    except ValueError as exc:
        raise fail(f"not an Ed25519 public key in PEM form: {exc}", 2) from None
    if not keys:
        raise fail(f"no public keys at {keys_url}: give --public-key FILE", 2)
    return keys


@certificate_app.command("verify")
def verify_certificate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Certificate JSON.")],
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            exists=True,
            dir_okay=False,
            help="PEM public key of the service (repeat for several; GET /v1/signing-keys).",
        ),
    ] = None,
    keys_url: Annotated[
        str | None,
        typer.Option(
            "--keys-url",
            help="Fetch the public keys here (default without --public-key: the server's "
            "/v1/signing-keys, from --url, SFD_URL or `sfd login`).",
        ),
    ] = None,
    artifacts: Annotated[
        Path | None,
        typer.Option(
            "--artifacts",
            exists=True,
            file_okay=False,
            help="Folder holding the job's downloaded artifacts (e.g. from `sfd download`).",
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Exit 0 only if the signature is valid and every artifact given matches its hash."""
    from domain.certificates.verify import verify

    try:
        envelope = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{file} is not JSON: {exc}", 2) from None
    if not public_key and not keys_url:
        keys_url = _keys_url(url)
    checks, statement = verify(envelope, _trusted_keys(public_key or [], keys_url), artifacts)
    for check in checks:
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name}: {check.detail}")
    if statement is None or not all(check.ok for check in checks):
        raise typer.Exit(1)
    predicate = statement["predicate"]
    head = (predicate.get("audit") or {}).get("head") or {}
    console.print(
        f"certificate {predicate.get('id')} for job {predicate.get('job_id')} verified "
        f"(issued {predicate.get('issued_at')} at audit row {head.get('seq')})"
    )
    _print_verdict(predicate)


def _print_verdict(predicate: dict[str, Any]) -> None:
    """The signed verdict and headline (a certificate from before verdicts has neither)."""
    verdict = predicate.get("verdict") or {}
    if verdict.get("verdict"):
        colour = "green" if verdict["verdict"] == "forgotten" else "red"
        failed = verdict.get("failed") or []
        suffix = f" (failed: {', '.join(failed)})" if failed else ""
        console.print(f"verdict: [{colour}]{verdict['verdict']}[/{colour}]{suffix}")
    else:
        console.print("verdict: none recorded")
    if predicate.get("statement"):
        console.print(predicate["statement"], highlight=False)


@signing_app.command("show")
def show_key(url: UrlOption = None) -> None:
    """Print the server's active public signing key (PEM), from its /v1/signing-keys."""
    active = _trusted_keys([], _keys_url(url))[0]  # the server lists the active key first
    console.print(f"# keyid {active.keyid}", highlight=False)
    print(active.pem, end="")


@signing_app.command("rotate")
def rotate_key() -> None:
    """Make a new signing key in SFD_HOME/signing (run where the API runs); the old public key
    stays trusted."""
    from domain.settings import Settings
    from domain.signing import ACTIVE_FILE, KEY_DIR, rotate_key_file

    settings = Settings()
    key_file = settings.home / KEY_DIR / ACTIVE_FILE
    if settings.signing_key is None and not key_file.is_file():
        raise fail(
            f"no signing key at {key_file.resolve()}: run this where `sfd serve` runs, "
            "or set SFD_HOME"
        )
    try:
        old, new = rotate_key_file(settings)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    console.print(f"retired {old}; now signing with {new} (restart the API to use it)")


def register(app: typer.Typer) -> None:
    app.add_typer(certificate_app, name="certificate")
    app.add_typer(signing_app, name="signing-key")

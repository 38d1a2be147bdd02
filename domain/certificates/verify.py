"""Checking a certificate: its signature and, given the job's artifacts, their hashes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain import archive
from domain.certificates.attestation import open_envelope
from domain.errors import DomainError
from domain.signing import PublicKey, SignatureProblem
from sfd_core.loading import file_sha256, folder_sha256

GENERATOR = "generator.tar"
UNPACK_LIMITS = {"max_files": 100_000, "max_bytes": 1 << 40}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_signature(envelope: Any, keys: list[PublicKey]) -> tuple[Check, dict[str, Any] | None]:
    """The signature check and, if it holds, the signed in-toto statement."""
    try:
        statement = open_envelope(envelope, [key.key for key in keys])
    except SignatureProblem as exc:
        return Check("signature", False, str(exc)), None
    keyid = next(
        s["keyid"] for s in envelope["signatures"] if s["keyid"] in {k.keyid for k in keys}
    )
    return Check("signature", True, f"valid Ed25519 signature (key {keyid})"), statement


def _generator_folder_check(tar_path: Path, expected: str | None) -> Check:
    """Unpack the generator archive and recompute the folder hash the engine reported."""
    with tempfile.TemporaryDirectory(prefix="sfd-verify-") as tmp:
        try:
            # generator.tar holds one top-level generator/ folder (older ones: its files)
            folder = archive.unpack(tar_path, Path(tmp), **UNPACK_LIMITS)
        except DomainError as exc:
            return Check("generator folder", False, f"cannot unpack {GENERATOR}: {exc.detail}")
        actual = folder_sha256(folder)
    if actual != expected:
        return Check("generator folder", False, f"sha256 {actual} != certified {expected}")
    return Check("generator folder", True, f"sha256 {actual}")


def check_artifacts(statement: dict[str, Any], folder: Path) -> list[Check]:
    """Recompute the sha256 of every subject of the statement found in ``folder``."""
    output = statement["predicate"].get("output") or {}
    certified = [
        {"name": s.get("name"), "sha256": (s.get("digest") or {}).get("sha256")}
        for s in statement.get("subject") or []
    ]
    checks: list[Check] = []
    for item in certified:
        name = str(item.get("name"))
        path = folder / name
        if not path.is_file():
            checks.append(Check(name, False, f"missing from {folder}"))
            continue
        actual = file_sha256(path)
        ok = actual == item.get("sha256")
        detail = f"sha256 {actual}" if ok else f"sha256 {actual} != certified {item.get('sha256')}"
        checks.append(Check(name, ok, detail))
        if name == GENERATOR and ok:
            checks.append(_generator_folder_check(path, output.get("generator_sha256")))
    if not certified:
        checks.append(Check("artifacts", False, "the certificate lists no artifacts"))
    return checks


def verify(
    envelope: Any, keys: list[PublicKey], artifacts_dir: Path | None = None
) -> tuple[list[Check], dict[str, Any] | None]:
    """Every check: the signature, then (with ``artifacts_dir``) each subject's hash; and the
    statement, if the signature holds."""
    signature, statement = check_signature(envelope, keys)
    checks = [signature]
    if statement is not None and artifacts_dir is not None:
        checks.extend(check_artifacts(statement, artifacts_dir))
    return checks, statement

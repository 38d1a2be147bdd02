"""Checking a certificate: its signature and, given the job's artifacts, their hashes."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain import archive
from domain.certificates.signing import signature_problem
from domain.errors import DomainError
from sfd_core.loading import file_sha256, folder_sha256

GENERATOR = "generator.tar"
UNPACK_LIMITS = {"max_files": 100_000, "max_bytes": 1 << 40}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_signature(document: dict[str, Any], key: bytes) -> Check:
    problem = signature_problem(document, key)
    return Check("signature", problem is None, problem or "valid HMAC-SHA256 signature")


def _generator_folder_check(tar_path: Path, expected: str | None) -> Check:
    """Unpack the generator archive and recompute the folder hash the engine reported."""
    with tempfile.TemporaryDirectory(prefix="sfd-verify-") as tmp:
        try:
            folder = archive.unpack(tar_path, Path(tmp), strip=False, **UNPACK_LIMITS)
        except DomainError as exc:
            return Check("generator folder", False, f"cannot unpack {GENERATOR}: {exc.detail}")
        actual = folder_sha256(folder)
    if actual != expected:
        return Check("generator folder", False, f"sha256 {actual} != certified {expected}")
    return Check("generator folder", True, f"sha256 {actual}")


def check_artifacts(document: dict[str, Any], folder: Path) -> list[Check]:
    """Recompute the sha256 of every certified artifact found in ``folder``."""
    output = document.get("output") or {}
    certified = output.get("artifacts") or []
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


def verify(document: dict[str, Any], key: bytes, artifacts_dir: Path | None = None) -> list[Check]:
    """Every check: the signature, then (with ``artifacts_dir``) each artifact's hash."""
    checks = [check_signature(document, key)]
    if artifacts_dir is not None:
        checks.extend(check_artifacts(document, artifacts_dir))
    return checks

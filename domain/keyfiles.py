"""Secrets from settings, or from a key file in ``SFD_HOME`` made on first use."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr


def _create(path: Path) -> None:
    """Write a fresh secret to ``path`` atomically; a concurrent creator's secret wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def secret_bytes(value: SecretStr | None, path: Path) -> bytes:
    """``value`` if set, else the contents of ``path`` (created with a random secret)."""
    if value is not None:
        return value.get_secret_value().encode()
    if not path.is_file():
        _create(path)
    return path.read_text().strip().encode()

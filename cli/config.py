"""Where the client commands find the server and their key: ``--url``/``--api-key``, then
``SFD_URL``/``SFD_API_KEY``, then the file ``sfd login`` writes (``$SFD_CONFIG``, else
``$XDG_CONFIG_HOME/sfd/config.toml``, else ``~/.config/sfd/config.toml``; mode 0600). Never a
database or a key file of the current folder."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

CONFIG_ENV = "SFD_CONFIG"
DEFAULT_URL = "http://127.0.0.1:8000"


class ConfigProblem(ValueError):
    """The config file cannot be read; the message says why in one line."""


@dataclass(frozen=True)
class Target:
    """A server and the key to use with it (``None``: no key known)."""

    url: str
    api_key: str | None


def config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "sfd" / "config.toml"


def read_config() -> dict[str, str]:
    """The saved ``url`` and ``api_key`` (empty when ``sfd login`` has not run)."""
    path = config_path()
    try:
        parsed = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigProblem(f"cannot read {path}: {exc}") from None
    return {k: v for k, v in parsed.items() if k in ("url", "api_key") and isinstance(v, str)}


def write_config(url: str, api_key: str) -> Path:
    """Save the server and key for later commands (0600, replaced atomically)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:  # a JSON string is a valid TOML basic string
        out.write(f"url = {json.dumps(url)}\napi_key = {json.dumps(api_key)}\n")
    os.replace(tmp, path)
    return path


def resolve(url: str | None, api_key: str | None) -> Target:
    """Flags and environment (already merged by Typer) over the saved config. The saved key
    is only sent to the saved server: ``--url`` naming another server needs its own key."""
    saved = read_config()
    chosen = (url or saved.get("url") or DEFAULT_URL).rstrip("/")
    if api_key is None and chosen == saved.get("url", "").rstrip("/"):
        api_key = saved.get("api_key")
    return Target(chosen, api_key)

"""`sfd --help` and the client commands start without the engine (issue 13): importing the
command line loads neither torch, diffusers nor the engine's generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "diffusers", "transformers", "sfd_core.generator", "sqlalchemy")


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport sys\nprint('LOADED:' + ' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()[-1].removeprefix("LOADED:").split()


def test_importing_the_cli_loads_no_engine() -> None:
    assert _loaded_after("import cli.main") == []


def test_help_and_client_command_help_load_no_engine() -> None:
    for args in (["--help"], ["status", "--help"], ["submit", "--help"], ["download", "--help"]):
        code = (
            "from cli.main import app\n"
            "try:\n"
            f"    app({args!r}, prog_name='sfd')\n"
            "except SystemExit as exit:\n"
            "    assert exit.code == 0, exit.code"
        )
        assert _loaded_after(code) == [], args


def test_the_engine_still_loads_where_it_is_used() -> None:
    """``from sfd_core import OneStepGenerator`` (the README's) still works, lazily."""
    assert _loaded_after("import sfd_core.progress") == []
    loaded = _loaded_after("from sfd_core import OneStepGenerator")
    assert {"torch", "diffusers", "sfd_core.generator"} <= set(loaded)

"""How fast the `sfd` command starts (issue 13); prints one JSON line.

Each figure is the median wall time of ``--repeat`` fresh subprocesses running the `sfd` entry
point (``python -c "from cli.main import app; app()" ...``, what the console script does), for
`sfd --help`, `sfd status --help` and, for comparison, `python -c pass` and `import torch`.
``import_ms`` is the import of ``cli.main`` alone, from ``python -X importtime``, and
``heavy_modules`` lists any of torch, diffusers, transformers, sfd_core.generator or sqlalchemy
that importing ``cli.main`` loaded (none is the target).

    .venv/bin/python bench/cli_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "from cli.main import app; app(prog_name='sfd')"
HEAVY = ("torch", "diffusers", "transformers", "sfd_core.generator", "sqlalchemy")


def wall_ms(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def import_profile() -> tuple[float, list[str]]:
    """Cumulative import time of cli.main (ms) and the heavy modules it pulled in."""
    probe = "import sys, cli.main; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    cumulative = 0.0
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and match.group(3) == "cli.main" and not match.group(2):
            cumulative = int(match.group(1)) / 1000
    loaded = set(done.stdout.split())
    return round(cumulative, 1), [name for name in HEAVY if name in loaded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    os.environ.setdefault("SFD_HOME", str(ROOT / ".sfd"))
    python = sys.executable
    import_ms, heavy = import_profile()
    figures = {
        "python_bare_ms": wall_ms([python, "-c", "pass"], repeat),
        "sfd_help_ms": wall_ms([python, "-c", ENTRY, "--help"], repeat),
        "sfd_status_help_ms": wall_ms([python, "-c", ENTRY, "status", "--help"], repeat),
        "import_torch_ms": wall_ms([python, "-c", "import torch"], repeat),
        "cli_main_import_ms": import_ms,
        "heavy_modules": heavy,
        "repeat": repeat,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

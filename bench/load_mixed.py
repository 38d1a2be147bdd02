"""Open-loop mixed load on several API processes over PostgreSQL, with locust (headless);
prints one JSON line per phase.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/load_mixed.py [--workers 4] [--rate 300] [--seconds 60]

It makes a fresh database on the local PostgreSQL, starts ``sfd serve --workers N`` on it
(``SFD_RUNNER=none``: POST only queues; no rate limit or quota), creates jobs to read, then
runs ``bench/locustfile.py``: the mixed phase (``--rate`` users at one request a second each:
80% GET job, 15% POST job, 5% list) reports each route's p50/p99 and errors; the saturation
phase (``--post-users`` users posting back to back) reports POST /v1/jobs per second, and the
same saturation run on the single-process SQLite deployment (the embedded defaults) gives the
ratio. Targets (issue 14): at 300 req/s on 4 processes p99 < 100 ms and no errors; POST
saturation >= 3x one process's. Run it on a quiet machine with cores for the API and locust.

The mixed phase also reports the CPU each request cost the API processes, PostgreSQL and locust
(process CPU time over the phase divided by the requests served), and from it the cores the
offered rate needs: on a machine with fewer, the run measures the cores, not the API.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BODY = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 10}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(
    home: Path,
    database: str | None,
    workers: int,
    port: int,
    key: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """``sfd serve`` (POST only queues) on the PostgreSQL ``database`` (None: the embedded
    SQLite default), once it is ready; ``env`` adds settings."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}" if database else None
    env = {
        **{k: v for k, v in os.environ.items() if k != "SFD_DATABASE_URL"},
        **({"SFD_DATABASE_URL": url} if url else {}),
        "SFD_HOME": str(home),
        "SFD_RUNNER": "none",
        "SFD_ADMIN_API_KEY": key,
        "SFD_RATE_LIMIT": "",
        "SFD_MAX_QUEUED_JOBS_PER_TENANT": "0",
        **(env or {}),
    }
    command = [sys.executable, "-c", "from cli.main import app; app()", "serve"]
    api = subprocess.Popen(
        [*command, "--workers", str(workers), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=sys.stderr,  # stdout is for the JSON lines
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return api
        except httpx.HTTPError:
            time.sleep(0.5)
    os.killpg(api.pid, signal.SIGTERM)
    raise RuntimeError("the API did not start")


def locust(url: str, env: dict[str, str], users: int, seconds: int, out: Path) -> list[dict]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // 5)),
            "--run-time",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(out),
            "--only-summary",
        ],
        env={**os.environ, **env},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with open(f"{out}_stats.csv") as stats:
        return list(csv.DictReader(stats))


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds of each live process, by pid."""
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
            seconds[process.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return seconds


class CpuMeter:
    """CPU used by the API's process tree and PostgreSQL's backends between ``start`` and
    ``stop`` (a backend that started in between counts whole; one that ended is lost)."""

    def __init__(self, api: subprocess.Popen) -> None:
        self.api = psutil.Process(api.pid)

    def _processes(self) -> dict[str, list[psutil.Process]]:
        postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        return {"api": [self.api, *self.api.children(recursive=True)], "postgres": postgres}

    def start(self) -> None:
        self.before = {name: cpu_seconds(ps) for name, ps in self._processes().items()}

    def stop(self) -> dict[str, float]:
        used = {}
        for name, processes in self._processes().items():
            now, before = cpu_seconds(processes), self.before[name]
            used[name] = sum(total - before.get(pid, 0.0) for pid, total in now.items())
        return used


def cpu_report(used: dict[str, float], requests: int, rate: int) -> dict[str, object]:
    """CPU ms per served request by part, and the cores ``rate`` requests/s would keep busy."""
    per_request = {
        name: round(1000 * seconds / max(requests, 1), 2) for name, seconds in used.items()
    }
    total_ms = sum(per_request.values())
    return {
        "cpu_ms_per_request": per_request | {"total": round(total_ms, 2)},
        "cores_needed_at_target": round(total_ms * rate / 1000, 2),
        "cores_here": os.cpu_count(),
    }


def summary(rows: list[dict], seconds: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for row in rows:
        out[row["Name"]] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(int(row["Request Count"]) / seconds, 1),
            "p50_ms": float(row["50%"] or 0),
            "p99_ms": float(row["99%"] or 0),
        }
    return out


def load_env(url: str, key: str) -> dict[str, str]:
    """Locust's environment: the key and 50 fresh jobs for the GETs to read."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        ids = [client.post("/v1/jobs", json=BODY).json()["id"] for _ in range(50)]
    return {"LOAD_API_KEY": key, "LOAD_JOB_IDS": ",".join(ids)}


def post_saturation(url: str, key: str, users: int, out: Path) -> dict[str, object]:
    """POST /v1/jobs back to back from ``users`` users for 30 s."""
    env = load_env(url, key) | {"LOAD_MODE": "post"}
    return summary(locust(url, env, users, 30, out), 30)


def stop(api: subprocess.Popen) -> None:
    os.killpg(api.pid, signal.SIGTERM)
    api.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--post-users", type=int, default=64)
    args = parser.parse_args()
    database, key = f"sfd_load_{secrets.token_hex(4)}", "sfd_admin_" + secrets.token_hex(16)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    api = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            api = start_api(Path(tmp) / "pg", database, args.workers, port, key)
            env = load_env(url, key)
            meter = CpuMeter(api)
            meter.start()
            locust_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            mixed = locust(url, env, args.rate, args.seconds, Path(tmp) / "mixed")
            locust_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = meter.stop() | {
                "locust": (locust_after.ru_utime + locust_after.ru_stime)
                - (locust_before.ru_utime + locust_before.ru_stime)
            }
            routes = summary(mixed, args.seconds)
            print(
                json.dumps(
                    {
                        "bench": "load_mixed",
                        "workers": args.workers,
                        "target_rps": args.rate,
                        "seconds": args.seconds,
                        "routes": routes,
                        **cpu_report(used, routes["Aggregated"]["requests"], args.rate),
                    }
                ),
                flush=True,
            )
            scaled = post_saturation(url, key, args.post_users, Path(tmp) / "post")
            stop(api)
            api = start_api(Path(tmp) / "sqlite", None, 1, port, key)
            single = post_saturation(url, key, args.post_users, Path(tmp) / "post1")
            route = "POST /v1/jobs"
            print(
                json.dumps(
                    {
                        "bench": "post_saturation",
                        "users": args.post_users,
                        f"{args.workers}_processes_postgres": scaled[route],
                        "1_process_sqlite": single[route],
                        "ratio": round(scaled[route]["rps"] / max(single[route]["rps"], 0.1), 2),
                    }
                )
            )
    finally:
        if api is not None:
            stop(api)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""API benchmarks (issue 3's targets); prints one JSON line.

- ``GET /v1/jobs/{id}`` throughput against a bare FastAPI route, same server settings, same run;
- ``POST /v1/jobs`` latency percentiles with 100 concurrent clients;
- peak RSS of the API process while streaming ever larger artifacts (flat = streaming).

Servers run as uvicorn subprocesses (SQLite + local folder, ``SFD_RUNNER=none`` so queued jobs
do not start); the load generator is httpx's async client in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI

bare_app = FastAPI()


@bare_app.get("/bare")
def bare() -> dict[str, str]:
    return {"id": "job_x", "object": "unlearning.job", "status": "queued"}


ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "sfd_bench_admin_key"
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
READ_CONCURRENCY = 16
WRITE_CLIENTS = 100
ARTIFACT_MB = (16, 64, 256)


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


async def _throughput(url: str, headers: dict[str, str]) -> float:
    done = 0
    stop = time.monotonic() + DURATION
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < stop:
                response = await client.get(url)
                assert response.status_code == 200, response.text
                done += 1

        await asyncio.gather(*(loop() for _ in range(READ_CONCURRENCY)))
    return done / DURATION


async def _post_latencies(base: str, body: dict, clients: int = WRITE_CLIENTS) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + DURATION
    limits = httpx.Limits(max_connections=clients)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=60, limits=limits
    ) as client:

        async def one_client() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await client.post("/v1/jobs", json=body)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _add_artifacts(settings_env: dict[str, str], job_id: str) -> list[str]:
    """Large files in storage with artifact rows (written through the domain layer)."""
    os.environ.update(settings_env)
    from domain.artifacts.models import Artifact
    from domain.db import Database
    from domain.ids import new_id
    from domain.jobs.models import Job
    from domain.settings import Settings
    from domain.storage import open_storage

    settings = Settings()
    storage = open_storage(settings)
    db = Database(settings.resolved_database_url)
    names = []
    with db.session() as session:
        job = session.get(Job, job_id)
        for megabytes in ARTIFACT_MB:
            name = f"bench-{megabytes}mb.bin"
            path = Path(tempfile.mkdtemp()) / name
            with path.open("wb") as out:
                for _ in range(megabytes):
                    out.write(os.urandom(1 << 20))
            storage.put_file(f"bench/{name}", path, "application/octet-stream")
            session.add(
                Artifact(
                    id=new_id("file"),
                    job_id=job.id,
                    tenant=job.tenant,
                    name=name,
                    size=path.stat().st_size,
                    sha256="0" * 64,
                    content_type="application/octet-stream",
                    storage_key=f"bench/{name}",
                )
            )
            path.unlink()
            names.append(name)
    db.dispose()
    return names


def main() -> None:
    import torch

    from sfd_core.digits.teacher import build_unet, save_teacher

    home = Path(tempfile.mkdtemp(prefix="sfd-bench-"))
    env = {
        "SFD_HOME": str(home),
        "SFD_ADMIN_API_KEY": ADMIN_KEY,
        "SFD_RUNNER": "none",
        "SFD_DATABASE_URL": f"sqlite:///{home / 'sfd.db'}",
        "SFD_STORAGE_URL": (home / "artifacts").as_uri(),
    }
    api_port, bare_port = 18731, 18732
    api = _start(["--factory", "api.app:create_app"], env, api_port)
    bare_server = _start(["bench.api_bench:bare_app"], {}, bare_port)
    base = f"http://127.0.0.1:{api_port}"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        torch.manual_seed(0)
        save_teacher(build_unet(), {}, out=home / "teacher")
        with tarfile.open(home / "teacher.tar", "w") as archive:
            archive.add(home / "teacher", arcname="teacher")
        model = httpx.post(
            f"{base}/v1/models",
            content=(home / "teacher.tar").read_bytes(),
            headers={**headers, "Content-Type": "application/x-tar"},
            timeout=120,
        ).json()
        body = {"model": model["id"], "unsafe_concept": "0", "safe_surrogate": "1", "steps": 100}
        job = httpx.post(f"{base}/v1/jobs", json=body, headers=headers).json()

        bare_rps = asyncio.run(_throughput(f"http://127.0.0.1:{bare_port}/bare", {}))
        get_rps = asyncio.run(_throughput(f"{base}/v1/jobs/{job['id']}", headers))
        latencies = asyncio.run(_post_latencies(base, body))
        sequential = asyncio.run(_post_latencies(base, body, clients=1))

        names = _add_artifacts(env, job["id"])
        rss = {"before": round(_peak_rss_mb(api.pid), 1)}
        with httpx.Client(headers=headers, timeout=300) as client:
            for megabytes, name in zip(ARTIFACT_MB, names, strict=True):
                started = time.perf_counter()
                with client.stream(
                    "GET", f"{base}/v1/jobs/{job['id']}/artifacts/{name}"
                ) as response:
                    size = sum(len(chunk) for chunk in response.iter_raw(1 << 20))
                assert size == megabytes << 20
                rss[f"after_{megabytes}mb"] = round(_peak_rss_mb(api.pid), 1)
                rss[f"mb_per_s_{megabytes}mb"] = round(
                    megabytes / (time.perf_counter() - started), 1
                )
        result = {
            "bench": "api",
            "get_job_rps": round(get_rps, 1),
            "bare_route_rps": round(bare_rps, 1),
            "get_job_vs_bare": round(get_rps / bare_rps, 3),
            "post_jobs_clients": WRITE_CLIENTS,
            "post_jobs_requests": len(latencies),
            "post_jobs_rps": round(len(latencies) / DURATION, 1),
            "post_jobs_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "post_jobs_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
            "post_jobs_one_client_p50_ms": round(statistics.median(sequential) * 1000, 1),
            "post_jobs_one_client_p99_ms": round(_percentile(sequential, 0.99) * 1000, 1),
            "load_average": os.getloadavg()[0],
            "download_peak_rss_mb": rss,
            "cpus": os.cpu_count(),
        }
        print(json.dumps(result))
    finally:
        for process in (api, bare_server):
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()

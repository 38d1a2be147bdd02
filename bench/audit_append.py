"""Concurrent audit appends on PostgreSQL: ``--writers`` threads, each appending
``--appends`` events in transactions of their own, as API processes do; prints one JSON line
with the appends per second, and checks the chain afterwards (every row there, one link
each, no fork).

    .venv/bin/python bench/audit_append.py [--writers 16] [--appends 100]

It makes a fresh database on the local PostgreSQL (``--admin-url``) and drops it at the end.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
from sqlalchemy import text

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database
from domain.migrate import upgrade


def run(url: str, writers: int, appends: int) -> dict[str, object]:
    upgrade(url)
    db = Database(url)
    start = threading.Barrier(writers)
    latencies: list[float] = []

    def write(writer: int) -> None:
        actor = Actor(tenant=f"tenant-{writer}", name=f"key:key_{writer}", key_id=f"key_{writer}")
        start.wait()
        for i in range(appends):
            began = time.perf_counter()
            with db.session() as session:
                audit.record(session, actor, "job.created", "job", f"job_{writer}_{i}", {"i": i})
            latencies.append(time.perf_counter() - began)

    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
        seconds = time.perf_counter() - began
        with db.sessions() as session:
            checked = audit.verify(session)
            forks = session.scalar(
                text(
                    "SELECT count(*) FROM (SELECT prev_hash FROM audit_events "
                    "GROUP BY prev_hash HAVING count(*) > 1) AS forked"
                )
            )
    finally:
        db.dispose()
    latencies.sort()
    total = writers * appends
    return {
        "bench": "audit_append",
        "writers": writers,
        "appends": total,
        "appends_per_second": round(total / seconds, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "chain_valid": checked.valid,
        "rows": checked.checked,
        "lost": total - checked.checked,
        "forks": forks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--appends", type=int, default=100)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"sfd_bench_audit_{secrets.token_hex(4)}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = args.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        print(json.dumps(run(f"{url}/{name}", args.writers, args.appends)))
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""Audit verification cost: a full chain walk (what every call did before finding 7) against
the incremental, checkpoint-anchored check the API now runs; prints one JSON line.

    .venv/bin/python bench/audit_verify.py [--events 20000] [--new 100] [--database-url URL]

Appends ``--events`` rows, checkpoints them (signed, into a local store), verifies in full,
then appends ``--new`` rows and verifies incrementally (the rows since the last verified
checkpoint, and the checkpointed row); both on the same
database in the same run, so the ratio holds on a busy machine where the seconds do not.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from domain.actor import Actor
from domain.audit import service as audit
from domain.audit.anchoring import open_anchoring
from domain.db import Database
from domain.migrate import upgrade
from domain.settings import Settings

BATCH = 500


def append(db: Database, count: int) -> None:
    actor = Actor(tenant="bench", name="key:key_bench", key_id="key_bench")
    for start in range(0, count, BATCH):
        with db.session() as session:
            for i in range(start, min(count, start + BATCH)):
                audit.record(session, actor, "job.created", "job", f"job_{i}", {"n": i})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sfd-audit-bench-"))
    url = args.database_url or f"sqlite:///{home / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    anchoring = open_anchoring(Settings(home=home, database_url=url), db)
    anchoring.anchor.ensure()
    append(db, args.events)
    anchoring.checkpoint()
    with db.sessions() as session:
        started = time.perf_counter()
        full = anchoring.verifier.verify(session, full=True)
        full_seconds = time.perf_counter() - started
    append(db, args.new)  # not yet checkpointed: the most an incremental call re-reads
    with db.sessions() as session:
        started = time.perf_counter()
        incremental = anchoring.verifier.verify(session)
        incremental_seconds = time.perf_counter() - started
    db.dispose()
    print(
        json.dumps(
            {
                "backend": db.engine.dialect.name,
                "events": args.events + args.new,
                "full_rows": full.checked,
                "full_seconds": round(full_seconds, 3),
                "incremental_rows": incremental.checked,
                "incremental_seconds": round(incremental_seconds, 4),
                "speedup": round(full_seconds / incremental_seconds, 1),
                "valid": full.valid and incremental.valid,
            }
        )
    )


if __name__ == "__main__":
    main()

"""The Celery task that runs jobs, and the set-up of each pool process.

A message names a job, but the job row decides: :func:`execute_job` claims it with a conditional
UPDATE and returns None when the job is no longer queued (already taken, cancelled, or a
duplicate delivery). The task then claims the oldest queued job instead, so every message is
one worker slot and a lost or extra message costs nothing: the reaper only has to keep at least
as many messages waiting as there are queued jobs.

torch and the engine are imported only in pool processes (after the GPU is pinned), never in
the main worker process.
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import cache
from pathlib import Path

from celery import Task, signals

from domain.db import Database
from domain.jobs import lifecycle
from domain.storage import Storage, open_storage
from worker import gpus
from worker.broker import RUN_JOB
from worker.celery_app import app, settings

log = logging.getLogger(__name__)
FALLBACK_CANDIDATES = 5
GPU_LOCKS = Path(tempfile.gettempdir()) / "sfd-gpu-locks"  # host-wide, like the GPUs


@cache
def _resources() -> tuple[Database, Storage]:
    """This pool process's database engine and store."""
    return Database(settings.resolved_database_url), open_storage(settings)


@signals.worker_process_init.connect
def _prepare_pool_process(**_: object) -> None:
    gpu = gpus.pin_pool_process()
    import worker.execute  # noqa: F401  (torch and the engine load here, before the first job)

    _resources()
    log.info("sfd pool process %s ready (gpu %s, device %s)", os.getpid(), gpu, settings.device)


@app.task(name=RUN_JOB, bind=True)
def run_job(self: Task, job_id: str) -> str | None:
    """Run ``job_id`` or, if it is not queued any more (or needs more GPUs than are free here),
    the oldest queued job that fits; its final state."""
    from worker.execute import execute_job

    db, storage = _resources()
    worker_id = f"celery:{self.request.hostname}:{os.getpid()}"
    reservation = gpus.reserve(GPU_LOCKS)
    try:
        free = None if reservation is None else len(reservation.gpus)
        run = {"worker_id": worker_id, "db": db, "storage": storage, "gpus": reservation}
        state = execute_job(job_id, settings, **run)
        if state is not None or free == 0:
            return state
        with db.session() as session:
            candidates = lifecycle.next_queued(
                session, FALLBACK_CANDIDATES, exclude=[job_id], max_gpus=free
            )
        for candidate in candidates:
            state = execute_job(candidate, settings, **run)
            if state is not None:
                return state
        return None
    finally:
        if reservation is not None:
            reservation.release()

"""The Celery task that runs jobs, and the set-up of each pool process.

A message names a job, but the job rows decide: every message is one worker slot, and the task
claims the job the fair scheduler (:mod:`domain.jobs.scheduling`) puts first across tenants,
falling back to the named job. :func:`execute_job` claims with a conditional UPDATE and returns
None when the job is no longer queued (already taken, cancelled, or a duplicate delivery), so a
lost or extra message costs nothing: the reaper only has to keep at least as many messages
waiting as there are queued jobs.

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
from domain.jobs import lifecycle, scheduling
from domain.storage import Storage, open_storage
from worker import gpus
from worker.broker import RUN_JOB
from worker.celery_app import app, settings

log = logging.getLogger(__name__)
CANDIDATES = 5
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
    """Run the queued job that is fairest to start (``job_id`` if none is; then the oldest that
    fits the GPUs free here); its final state."""
    from worker.execute import execute_job

    db, storage = _resources()
    worker_id = f"celery:{self.request.hostname}:{os.getpid()}"
    reservation = gpus.reserve(GPU_LOCKS)
    try:
        free = None if reservation is None else len(reservation.gpus)
        if free == 0:
            return None
        run = {"worker_id": worker_id, "db": db, "storage": storage, "gpus": reservation}
        with db.session() as session:
            fair = scheduling.next_jobs(session, settings, CANDIDATES)
            tried = list(dict.fromkeys([*fair, job_id]))
            fitting = lifecycle.next_queued(session, CANDIDATES, exclude=tried, max_gpus=free)
        for candidate in [*tried, *fitting]:
            state = execute_job(candidate, settings, **run)
            if state is not None:
                return state
        return None
    finally:
        if reservation is not None:
            reservation.release()

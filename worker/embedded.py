"""The embedded runner: each job runs in its own spawned process beside the API.

A crash or a cancel in a job process cannot take the API down. The runner polls the job table
(the source of truth), starts up to ``SFD_EMBEDDED_CONCURRENCY`` processes, notices processes
that died, and reaps jobs whose lease expired or whose process is gone (also those left
``running`` by an earlier service process that died).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from multiprocessing import get_context
from multiprocessing.process import BaseProcess

from domain.db import Database
from domain.jobs import lifecycle, scheduling
from domain.jobs.models import Job
from domain.settings import JOB_SETTINGS, Settings
from sfd_core.launch import pid_alive
from worker.threads import threads_per_job

log = logging.getLogger(__name__)
PREFIX = "embedded"


def worker_id_for(pid: int) -> str:
    return f"{PREFIX}:{socket.gethostname()}:{pid}"


def local_worker_is_dead(worker_id: str) -> bool:
    """True for an embedded worker id of this host whose process no longer exists."""
    prefix, _, rest = worker_id.partition(":")
    host, _, pid = rest.rpartition(":")
    return (
        prefix == PREFIX
        and host == socket.gethostname()
        and pid.isdigit()
        and not pid_alive(int(pid))
    )


def restrict_environment(env: dict[str, str]) -> None:
    """Make ``env`` this process's only ``SFD_*`` settings: a spawned interpreter inherits the
    API's environment (admin key, signing key), which a job loading uploaded files must not
    hold."""
    for name in [name for name in os.environ if name.startswith("SFD_")]:
        del os.environ[name]
    os.environ.update(env)


def _job_process(job_id: str, env: dict[str, str]) -> None:
    """Entry point of a job process (spawned: a fresh interpreter, no inherited state)."""
    restrict_environment(env)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from worker.execute import execute_job

    execute_job(job_id, Settings(), worker_id=worker_id_for(os.getpid()))


class EmbeddedRunner:
    def __init__(self, settings: Settings, db: Database, poll_seconds: float = 1.0) -> None:
        self.settings, self.db = settings, db
        self.poll_seconds = poll_seconds
        # The environment each job process runs with: the job settings, and its share of the cores.
        self.job_env = settings.to_env(only=JOB_SETTINGS)
        threads = threads_per_job(settings.job_threads, settings.embedded_concurrency)
        self.job_env["SFD_JOB_THREADS"] = str(threads)
        self._context = get_context("spawn")
        self._processes: dict[str, BaseProcess] = {}
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._last_reap = 0.0
        self._thread = threading.Thread(target=self._loop, name="sfd-embedded-runner", daemon=True)

    def start(self) -> None:
        self._reap()
        self._thread.start()
        self._wake.set()

    def submit(self, job_id: str) -> None:
        self._wake.set()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        for job_id, process in list(self._processes.items()):
            process.terminate()
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
            self._hand_back(job_id, process, "the service shut down", sys.maxsize)
        self._processes.clear()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._closed.is_set():
                break
            try:
                self._collect()
                if time.monotonic() - self._last_reap > self.settings.lease_seconds / 2:
                    self._reap()
                self._dispatch()
            except Exception:
                log.exception("embedded runner: scheduling failed; retrying")

    def _dispatch(self) -> None:
        free = self.settings.embedded_concurrency - len(self._processes)
        if free <= 0:
            return
        with self.db.session() as session:
            job_ids = scheduling.next_jobs(
                session, self.settings, free, exclude=list(self._processes)
            )
        for job_id in job_ids:
            process = self._context.Process(
                target=_job_process, args=(job_id, self.job_env), name=f"sfd-{job_id}", daemon=True
            )
            process.start()
            self._processes[job_id] = process

    def _collect(self) -> None:
        for job_id, process in list(self._processes.items()):
            if process.is_alive():
                continue
            process.join()
            del self._processes[job_id]
            if process.exitcode != 0:
                log.warning("job process for %s exited with %s", job_id, process.exitcode)
                self._hand_back(
                    job_id, process, f"the job process exited with code {process.exitcode}", 0
                )
            self._wake.set()

    def _hand_back(self, job_id: str, process: BaseProcess, reason: str, max_attempts: int) -> None:
        """Fail (``max_attempts`` 0) or re-queue a job its process left active."""
        assert process.pid is not None
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.worker_id != worker_id_for(process.pid):
                return
            if max_attempts == 0:
                lifecycle.fail(session, job, job.worker_id, "worker_crashed", reason)
            else:
                lifecycle.release(session, job, job.worker_id, max_attempts, reason)

    def _reap(self) -> None:
        self._last_reap = time.monotonic()
        with self.db.session() as session:
            for reaped in lifecycle.reap(
                session, self.settings.max_attempts, worker_is_dead=local_worker_is_dead
            ):
                log.warning("reaped job %s: now %s", reaped.job_id, reaped.state)

"""``execute_job``: the one function every runner calls to run a job end to end.

It claims the job (a conditional UPDATE, so only one worker wins), runs the engine in a
temporary folder while a lease thread heartbeats and watches for cancels, records progress,
uploads the artifacts with their sha256 and ends the job succeeded, failed or cancelled.
A job of several GPUs runs its ranks under torchrun (:func:`sfd_core.launch.run_distributed`)
with the same hooks; if a rank is lost the attempt ends and the job is re-queued, so the next
attempt resumes from the checkpoint.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import traceback
from pathlib import Path

from domain import archive
from domain.artifacts import service as artifacts
from domain.base_models import service as base_models
from domain.base_models.models import BaseModelRecord
from domain.db import Database
from domain.errors import DomainError
from domain.hashing import json_safe
from domain.jobs import lifecycle, scheduling, states
from domain.jobs.models import Job
from domain.jobs.validation import effective_policy
from domain.settings import Settings
from domain.storage import ObjectNotFound, Storage, open_storage
from sfd_core.conditions import ForgetSpecError
from sfd_core.config import ConfigError
from sfd_core.job import JobResult, UnlearnRequest, run_unlearning
from sfd_core.launch import RankError, RanksLost, run_distributed
from sfd_core.loading import ModelLoadError, file_sha256
from worker.gpus import Reservation
from worker.lease import LeaseKeeper
from worker.progress import ProgressRecorder
from worker.threads import use_threads

log = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.safetensors"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute_job(
    job_id: str,
    settings: Settings,
    *,
    worker_id: str | None = None,
    db: Database | None = None,
    storage: Storage | None = None,
    gpus: Reservation | None = None,
) -> str | None:
    """Claim and run ``job_id``; its final state, or None if it was not ours to run (or needs
    more GPUs than ``gpus`` holds; the job keeps the ones it needs, the rest are freed)."""
    worker_id = worker_id or default_worker_id()
    if settings.job_threads:  # the runners set it: the cores shared among their job slots
        use_threads(settings.job_threads)
    max_gpus = len(gpus.gpus) if gpus is not None else None
    if max_gpus == 0:
        return None
    own_db = db is None
    db = db or Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            job = lifecycle.claim(
                session,
                job_id,
                worker_id,
                settings.lease_seconds,
                max_gpus=max_gpus,
                running_limit=scheduling.running_limit(settings),
            )
        if job is None:
            return None
        devices = gpus.keep(job.gpus) if gpus is not None else None
        execution = JobExecution(db, storage or open_storage(settings), settings, job, worker_id)
        return execution.run(devices)
    finally:
        if own_db:
            db.dispose()


def checkpoint_key(job_id: str) -> str:
    return f"jobs/{job_id}/checkpoint/{CHECKPOINT_NAME}"


def attempt_key(job: Job, name: str) -> str:
    """Each attempt uploads under its own prefix: a lost worker never overwrites the winner."""
    return f"jobs/{job.id}/attempt-{job.attempt}/{name}"


class JobExecution:
    def __init__(
        self, db: Database, storage: Storage, settings: Settings, job: Job, worker_id: str
    ) -> None:
        self.db, self.storage, self.settings = db, storage, settings
        self.job, self.worker_id = job, worker_id

    def run(self, devices: list[str] | None = None) -> str | None:
        """Run the job, on ``devices`` (GPU ids for its ranks) where the worker has GPUs."""
        with (
            tempfile.TemporaryDirectory(prefix=f"sfd-{self.job.id}-") as tmp,
            LeaseKeeper(self.db, self.job.id, self.worker_id, self.settings.lease_seconds) as lease,
        ):
            workdir = Path(tmp)
            try:
                result = self._run_engine(workdir, lease, devices)
            except (ModelLoadError, ForgetSpecError, ConfigError) as exc:
                return self._fail("invalid_request", str(exc))
            except RankError as exc:
                return self._fail(exc.kind, exc.message, exc.details)
            except RanksLost as exc:
                log.warning("job %s: %s", self.job.id, exc)
                return self._release(f"a rank was lost ({exc})")
            except DomainError as exc:
                return self._fail(exc.code, exc.detail)
            except Exception as exc:
                log.exception("job %s failed in the engine", self.job.id)
                return self._fail(
                    "engine_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
                )
            if lease.lost:
                return None
            if result.status != "succeeded":
                return self._end_cancelled()
            try:
                return self._publish(result, workdir)
            except Exception as exc:
                log.exception("job %s: publishing artifacts failed", self.job.id)
                return self._fail("storage_error", f"{type(exc).__name__}: {exc}")

    def _model_ref(self) -> str:
        with self.db.session() as session:
            model = session.get(BaseModelRecord, self.job.model_id)
        if model is None or model.deleted_at is not None:
            raise ModelLoadError(f"model {self.job.model_id} no longer exists")
        return base_models.local_ref(self.settings, self.storage, model)

    def _restore_checkpoint(self, folder: Path) -> None:
        folder.mkdir()
        try:
            self.storage.download_file(checkpoint_key(self.job.id), folder / CHECKPOINT_NAME)
            self._log(
                f"resuming from the checkpoint of an earlier attempt (attempt {self.job.attempt})"
            )
        except ObjectNotFound:
            (folder / CHECKPOINT_NAME).unlink(missing_ok=True)

    def _save_checkpoint(self, path: Path) -> None:
        self.storage.put_file(checkpoint_key(self.job.id), path, "application/octet-stream")

    def _run_engine(
        self, workdir: Path, lease: LeaseKeeper, devices: list[str] | None
    ) -> JobResult:
        job = self.job
        request = UnlearnRequest(
            model=self._model_ref(),
            unsafe=list(job.unsafe),
            surrogate=list(job.surrogate) if job.surrogate else None,
            surrogate_mode=job.surrogate_mode,
            steps=job.steps,
            seed=job.seed,
            hyperparameters=dict(job.hyperparameters),
            options=dict(job.options),
            eval_samples_per_class=job.eval_samples_per_class,
            probes=job.probes,
            policy=effective_policy(self.settings, job.policy),
        )
        checkpoint_dir = workdir / "checkpoint"
        self._restore_checkpoint(checkpoint_dir)
        where = f"{self.settings.device}" + (f", GPUs {','.join(devices)}" if devices else "")
        ranks = f", {job.gpus} ranks" if job.gpus > 1 else ""
        self._log(f"attempt {job.attempt} started on {self.worker_id} ({where}{ranks})")
        every = self.settings.checkpoint_every
        hooks = {
            "device": self.settings.device,
            "on_progress": ProgressRecorder(self.db, job.id, self.worker_id),
            "should_stop": lease.should_stop,
            "checkpoint_dir": checkpoint_dir,
            "checkpoint_every": every,
            "on_checkpoint": self._save_checkpoint if every else None,
        }
        if job.gpus == 1:
            return run_unlearning(request, workdir / "out", **hooks)
        env = dict(os.environ)
        if devices:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
        control = workdir / "control"
        return run_distributed(request, workdir / "out", job.gpus, control, env=env, **hooks)

    def _publish(self, result: JobResult, workdir: Path) -> str | None:
        files = {
            "generator.tar": workdir / "generator.tar",
            "report.json": result.out_dir / "report.json",
            "samples.png": result.out_dir / "samples.png",
        }
        robustness = result.out_dir / "robustness.png"  # only where attack probes ran
        if robustness.is_file():
            files["robustness.png"] = robustness
        archive.pack(result.out_dir / "generator", files["generator.tar"], top="generator")
        stored: dict[str, tuple[int, str]] = {}
        for name, path in files.items():
            stored[name] = (path.stat().st_size, file_sha256(path))
            self.storage.put_file(attempt_key(self.job, name), path, artifacts.CONTENT_TYPES[name])
        report = json_safe(result.report)
        with self.db.session() as session:
            digests = {name: sha for name, (_, sha) in stored.items()}
            if lifecycle.succeed(session, self.job, self.worker_id, report, digests):
                for name, (size, sha) in stored.items():
                    artifacts.add(session, self.job, name, size, sha, attempt_key(self.job, name))
                return states.SUCCEEDED
        state = self._end_cancelled()
        for name in files:
            self.storage.delete(attempt_key(self.job, name))
        return state

    def _end_cancelled(self) -> str | None:
        with self.db.session() as session:
            return lifecycle.cancel(session, self.job, self.worker_id)

    def _release(self, reason: str) -> str | None:
        """End this attempt and re-queue the job (failed once its attempts are used up)."""
        with self.db.session() as session:
            return lifecycle.release(
                session, self.job, self.worker_id, self.settings.max_attempts, reason
            )

    def _fail(self, code: str, message: str, details: str | None = None) -> str | None:
        with self.db.session() as session:
            lifecycle.log(session, self.job.id, details or message, level="error")
            return lifecycle.fail(session, self.job, self.worker_id, code, message)

    def _log(self, message: str) -> None:
        with self.db.session() as session:
            lifecycle.log(session, self.job.id, message)

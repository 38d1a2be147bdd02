"""``sfd worker``: a Celery worker node that runs jobs (``SFD_RUNNER=celery`` deployments)."""

from __future__ import annotations

import os
from multiprocessing import get_context
from typing import Annotated

import typer

from worker import gpus as gpu_pinning


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        queues: Annotated[
            str | None,
            typer.Option(
                "--queues", "-Q", help="Comma-separated queues (default SFD_CELERY_QUEUE)."
            ),
        ] = None,
        concurrency: Annotated[
            int | None,
            typer.Option("--concurrency", "-c", min=1, help="Pool processes (default 1)."),
        ] = None,
        gpus: Annotated[
            str | None,
            typer.Option(
                "--gpus",
                help="GPU ids, e.g. 0,1: one pool process per GPU, each seeing only its own "
                "(CUDA_VISIBLE_DEVICES, set in the pool process); implies SFD_DEVICE=cuda.",
            ),
        ] = None,
        beat: Annotated[
            bool,
            typer.Option(
                "--beat",
                help="Also run the reaper (re-queues jobs of dead workers, re-publishes lost "
                "messages). Run it on at least one node; more is safe.",
            ),
        ] = False,
        name: Annotated[
            str, typer.Option("--name", "-n", help="Node name (%h: the host name).")
        ] = "sfd@%h",
        loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "info",
    ) -> None:
        """Run jobs from the broker: one pool process per job slot (per GPU with --gpus)."""
        if gpus is not None:
            try:
                devices = gpu_pinning.parse(gpus)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--gpus") from None
            if concurrency not in (None, len(devices)):
                raise typer.BadParameter("must equal the number of GPUs", param_hint="-c")
            concurrency = len(devices)
            os.environ[gpu_pinning.GPUS_ENV] = ",".join(devices)
            os.environ["SFD_DEVICE"] = "cuda"
        from domain.settings import Settings
        from worker.threads import THREADS_ENV, threads_per_job

        settings = Settings()
        # Each pool process runs one job: share the cores among them (SFD_JOB_THREADS wins).
        os.environ[THREADS_ENV] = str(threads_per_job(settings.job_threads, concurrency or 1))
        reaper = None
        if beat:
            from worker.reaper import run_reaper

            reaper = get_context("spawn").Process(
                target=run_reaper, args=(os.getpid(),), name="sfd-reaper", daemon=True
            )
            reaper.start()
        from worker.celery_app import app as celery

        try:
            celery.worker_main(
                [
                    "worker",
                    f"--queues={queues or settings.celery_queue}",
                    f"--concurrency={concurrency or 1}",
                    "--pool=prefork",
                    f"--hostname={name}",
                    f"--loglevel={loglevel}",
                    "--without-mingle",
                    "--without-gossip",
                ]
            )
        finally:
            if reaper is not None:
                reaper.terminate()
                reaper.join()

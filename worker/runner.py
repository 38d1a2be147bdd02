"""The job-runner seam: the API hands queued job ids to a runner and knows nothing more.

A runner only wakes workers; the job row is the source of truth and a worker claims it with
:func:`domain.jobs.lifecycle.claim` inside :func:`worker.execute.execute_job`. ``SFD_RUNNER``
picks the implementation from :data:`RUNNERS` (issue 4 registers ``celery`` there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from domain.db import Database
from domain.settings import Settings


class JobRunner(Protocol):
    def start(self) -> None:
        """Begin accepting jobs (and pick up jobs left queued or orphaned)."""

    def submit(self, job_id: str) -> None:
        """A job was queued; make sure some worker will run it."""

    def close(self) -> None:
        """Stop; jobs still running are handed back to the queue."""


RunnerFactory = Callable[[Settings, Database], JobRunner]


def _embedded(settings: Settings, db: Database) -> JobRunner:
    from worker.embedded import EmbeddedRunner

    return EmbeddedRunner(settings, db)


class QueueOnlyRunner:
    """``SFD_RUNNER=none``: this process only queues jobs; another process's runner runs them
    (e.g. one of several API replicas sharing a PostgreSQL database runs jobs, the rest don't)."""

    def start(self) -> None:
        pass

    def submit(self, job_id: str) -> None:
        pass

    def close(self) -> None:
        pass


def _celery(settings: Settings, db: Database) -> JobRunner:
    from worker.celery_runner import CeleryRunner

    return CeleryRunner(settings)


RUNNERS: dict[str, RunnerFactory] = {
    "embedded": _embedded,
    "celery": _celery,
    "none": lambda settings, db: QueueOnlyRunner(),
}


def create_runner(settings: Settings, db: Database) -> JobRunner:
    try:
        factory = RUNNERS[settings.runner]
    except KeyError:
        raise ValueError(
            f"SFD_RUNNER={settings.runner!r} is not available (known: {', '.join(RUNNERS)})"
        ) from None
    return factory(settings, db)

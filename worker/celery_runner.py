"""``SFD_RUNNER=celery``: the API publishes a wake-up per job; ``sfd worker`` processes run them."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

from domain.settings import Settings
from worker import broker
from worker.celery_app import create_celery

log = logging.getLogger(__name__)


class CeleryRunner:
    def __init__(self, settings: Settings) -> None:
        self.app = create_celery(settings)
        self.queue = settings.celery_queue

    def start(self) -> None:
        """Nothing to start: jobs left queued are woken by the workers' reaper."""

    def submit(self, job_id: str) -> None:
        try:
            broker.wake(self.app, job_id, self.queue)
        except OperationalError:  # the job row is committed; the reaper publishes for it later
            log.warning("could not publish job %s; the reaper will wake a worker", job_id)

    def queue_depth(self) -> int:
        return broker.queue_depth(self.app, self.queue)

    def close(self) -> None:
        self.app.close()

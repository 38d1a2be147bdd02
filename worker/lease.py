"""A background thread that renews a running job's lease and notices cancels and loss."""

from __future__ import annotations

import logging
import threading

from domain.db import Database
from domain.jobs import lifecycle, states

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Heartbeats every ``interval`` seconds; ``should_stop`` turns true on cancel or loss."""

    def __init__(
        self, db: Database, job_id: str, worker_id: str, lease_seconds: int, interval: float = 1.0
    ) -> None:
        self.db, self.job_id, self.worker_id = db, job_id, worker_id
        self.lease_seconds = lease_seconds
        self.interval = min(interval, lease_seconds / 3)
        self.cancel_requested = False
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def should_stop(self) -> bool:
        return self.cancel_requested or self.lost

    def beat(self) -> None:
        try:
            with self.db.session() as session:
                status = lifecycle.heartbeat(
                    session, self.job_id, self.worker_id, self.lease_seconds
                )
        except Exception:  # a database blip: the lease outlives a few missed beats
            log.warning("heartbeat for %s failed", self.job_id, exc_info=True)
            return
        if status is None:
            self.lost = True
        elif status == states.CANCELLING:
            self.cancel_requested = True

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.beat()

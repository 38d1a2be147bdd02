"""Turns the engine's progress callbacks into job events, at most one write a second."""

from __future__ import annotations

import time

from domain.db import Database
from domain.hashing import json_safe
from domain.jobs import lifecycle
from sfd_core.progress import ProgressEvent


class ProgressRecorder:
    def __init__(
        self, db: Database, job_id: str, worker_id: str, min_interval: float = 1.0
    ) -> None:
        self.db, self.job_id, self.worker_id = db, job_id, worker_id
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_phase: str | None = None

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        important = (
            event.phase != self._last_phase
            or event.step >= event.total
            or event.metrics
            or event.message
        )
        if not important and now - self._last_write < self.min_interval:
            return
        self._last_write, self._last_phase = now, event.phase
        progress = {
            "phase": event.phase,
            "step": event.step,
            "total": event.total,
            "elapsed_seconds": round(event.elapsed_seconds, 3),
            "eta_seconds": None if event.eta_seconds is None else round(event.eta_seconds, 1),
            "losses": json_safe(event.losses),
        }
        with self.db.session() as session:
            lifecycle.record_progress(
                session,
                self.job_id,
                self.worker_id,
                progress,
                metrics=json_safe(event.metrics) if event.metrics else None,
                message=event.message,
            )

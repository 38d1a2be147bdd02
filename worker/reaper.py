"""The reaper: re-queue jobs whose worker died, and make sure every queued job has a message.

It releases jobs whose lease expired (:func:`domain.jobs.lifecycle.reap`: re-queued, or failed
with ``attempts_exhausted`` after ``SFD_MAX_ATTEMPTS``), then tops the broker queue up to the
number of queued jobs: that covers re-queued jobs, a broker that lost its messages (a Redis
restart) and an API that could not publish. Several reapers may run at once: every state change
is a conditional UPDATE, and an extra message is harmless (see :mod:`worker.tasks`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from celery import Celery

from domain.db import Database
from domain.jobs import lifecycle
from domain.settings import Settings
from worker import broker, celery_app

log = logging.getLogger(__name__)


def interval_seconds(settings: Settings) -> float:
    """How often to reap: a lost job waits at most its lease plus this."""
    return max(1.0, settings.lease_seconds / 4)


@dataclass
class ReapReport:
    released: list[lifecycle.Reaped] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)


def reap_once(settings: Settings, db: Database, app: Celery) -> ReapReport:
    report = ReapReport()
    with db.session() as session:
        report.released = lifecycle.reap(session, settings.max_attempts)
    for reaped in report.released:
        log.warning("reaper: job %s is now %s", reaped.job_id, reaped.state)
    with db.session() as session:
        queued = lifecycle.count_queued(session)
        missing = queued - broker.queue_depth(app, settings.celery_queue) if queued else 0
        if missing > 0:
            report.woken = lifecycle.next_queued(session, missing)
    for job_id in report.woken:
        broker.wake(app, job_id, settings.celery_queue)
    if report.woken:
        log.info("reaper: published %d wake-up(s) for queued jobs", len(report.woken))
    return report


def run_reaper(parent_pid: int) -> None:
    """Entry point of the reaper process ``sfd worker --beat`` starts; ends with its parent."""
    settings = celery_app.settings
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s: %(levelname)s/Reaper] %(message)s"
    )
    db = Database(settings.resolved_database_url)
    interval = interval_seconds(settings)
    log.info("reaper started (every %.1fs, lease %ss)", interval, settings.lease_seconds)
    while os.getppid() == parent_pid:
        try:
            reap_once(settings, db, celery_app.app)
        except Exception:
            log.warning("reaper: pass failed; retrying", exc_info=True)
        time.sleep(interval)

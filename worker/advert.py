"""The main worker process advertises its node in the ``workers`` table: from ``worker_ready``
every ``SFD_WORKER_ADVERT_SECONDS`` (a failing database is logged and tried again at the next
tick), and the row is deleted at ``worker_shutdown``. At each tick it also removes this host's
cached copies of deleted models (the API removes only its own host's). No torch here: this is
the main process.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from celery import signals

from domain.base_models import cache
from domain.db import Database, utcnow
from domain.periodic import Periodic
from domain.workers import service as workers
from worker import gpus
from worker.celery_app import settings

if TYPE_CHECKING:
    from celery.worker.consumer import Consumer

log = logging.getLogger(__name__)


class Advertiser:
    """Keeps one node's row fresh and its model cache free of deleted models, on a database
    engine of the main process's own (one connection: its sessions take turns on one thread)."""

    def __init__(self, advert: workers.Advert) -> None:
        self.advert = advert
        self.db = Database(settings.resolved_database_url, pool_size=1, max_overflow=0)
        self.periodic = Periodic(
            "sfd-worker-advert", self._advertise, settings.worker_advert_seconds
        )

    def _advertise(self) -> None:
        with self.db.session() as session:
            workers.advertise(session, self.advert)
        with self.db.sessions() as session:
            evicted = cache.evict_deleted(session, settings)
        if evicted:
            log.info("removed the cached copies of deleted models %s", ", ".join(evicted))

    def close(self) -> None:
        self.periodic.close()
        try:
            with self.db.session() as session:
                workers.withdraw(session, self.advert.name)
        except Exception:
            log.exception("could not withdraw the advert of %s", self.advert.name)
        self.db.dispose()


_advertiser: Advertiser | None = None


@signals.worker_ready.connect
def _start(sender: Consumer, **_: object) -> None:
    global _advertiser
    listed = os.environ.get(gpus.GPUS_ENV)
    advert = workers.Advert(
        name=sender.hostname,
        device=settings.device,
        gpus=len(gpus.parse(listed)) if listed else 0,
        slots=sender.controller.concurrency,
        started_at=utcnow(),
    )
    _advertiser = Advertiser(advert)
    _advertiser.periodic.start()


@signals.worker_shutdown.connect
def _stop(**_: object) -> None:
    if _advertiser is not None:
        _advertiser.close()

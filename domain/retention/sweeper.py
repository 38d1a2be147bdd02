"""The retention sweep as a thread of the API process (every replica may run one: each
deletion is a conditional UPDATE, so one replica records it)."""

from __future__ import annotations

import logging

from domain.db import Database
from domain.periodic import Periodic
from domain.retention.service import EXPIRY_BATCH, expire
from domain.settings import Settings
from domain.storage import Storage

log = logging.getLogger(__name__)


def sweep(db: Database, storage: Storage, settings: Settings) -> int:
    """Expire batches until none is full; how many jobs' files were deleted."""
    total = 0
    while True:
        batch = expire(db, storage, settings)
        total += sum(1 for expired in batch if expired.deleted_at is not None)
        if len(batch) < EXPIRY_BATCH:
            break
    if total:
        log.info("retention: deleted the files of %d job(s)", total)
    return total


def start_sweeper(db: Database, storage: Storage, settings: Settings) -> Periodic | None:
    """The sweeper thread, started; None when ``SFD_ARTIFACT_RETENTION_DAYS`` is 0."""
    if settings.artifact_retention_days <= 0:
        return None
    sweeper = Periodic(
        "sfd-retention", lambda: sweep(db, storage, settings), settings.retention_sweep_seconds
    )
    sweeper.start()
    return sweeper

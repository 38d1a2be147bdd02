"""The local model cache (``SFD_HOME/cache/models/<sha256>``): the copies each host keeps of
the models its jobs used, and their removal once the models are deleted. No torch here: the
worker's main process sweeps it."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.base_models.models import BaseModelRecord
from domain.settings import Settings


def cache_path(settings: Settings, sha256: str) -> Path:
    return settings.cache_dir / "models" / sha256


def evict_deleted(session: Session, settings: Settings) -> list[str]:
    """Remove this host's copies of deleted models that no live model shares; the sha256s
    removed. Folders no model row names are left alone (a copy being added right now)."""
    root = settings.cache_dir / "models"
    cached = {path.name for path in root.iterdir() if path.is_dir()} if root.is_dir() else set()
    if not cached:
        return []
    rows = session.execute(
        select(BaseModelRecord.sha256, BaseModelRecord.deleted_at).where(
            BaseModelRecord.sha256.in_(cached)
        )
    ).all()
    live = {sha256 for sha256, deleted_at in rows if deleted_at is None}
    gone = sorted({sha256 for sha256, deleted_at in rows if deleted_at is not None} - live)
    for sha256 in gone:
        shutil.rmtree(cache_path(settings, sha256), ignore_errors=True)
    return gone

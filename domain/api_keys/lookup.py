"""Looking up API keys by id: a tenant's key names, and live keys for sessions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.api_keys.models import ApiKey
from domain.db import utcnow


def names(session: Session, tenant: str, key_ids: Iterable[str | None]) -> dict[str, str]:
    """``{key id: key name}`` for the tenant's keys among ``key_ids``."""
    wanted = {key_id for key_id in key_ids if key_id}
    if not wanted:
        return {}
    query = select(ApiKey.id, ApiKey.name).where(ApiKey.tenant == tenant, ApiKey.id.in_(wanted))
    return {key_id: name for key_id, name in session.execute(query)}


def live(session: Session, key_id: str) -> ApiKey | None:
    """The key ``key_id`` unless it is unknown, revoked or expired."""
    key = session.get(ApiKey, key_id)
    return key if key is not None and key.is_live(utcnow()) else None

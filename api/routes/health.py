"""``/healthz`` (the process answers) and ``/readyz`` (database, storage and, with Celery, the
broker reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import DatabaseDep, SettingsDep, StorageDep
from api.problems import responses
from domain.errors import Unavailable
from worker import broker

router = APIRouter(tags=["health"], responses=responses(429))


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=responses(503))
def readyz(db: DatabaseDep, storage: StorageDep, settings: SettingsDep) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        raise Unavailable(
            f"database unreachable: {type(exc).__name__}", code="database_unavailable"
        ) from None
    try:
        storage.check()
        checks["storage"] = "ok"
    except Exception as exc:
        raise Unavailable(
            f"storage unreachable: {type(exc).__name__}", code="storage_unavailable"
        ) from None
    if settings.runner == "celery":
        try:
            broker.ping(settings.broker_url)
            checks["broker"] = "ok"
        except Exception as exc:
            raise Unavailable(
                f"broker unreachable: {type(exc).__name__}", code="broker_unavailable"
            ) from None
    return {"status": "ok", **checks}

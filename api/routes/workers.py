"""``/v1/workers`` (platform admin): the worker nodes that advertised in the last day, live
or not; the largest live one bounds a job's ``gpus``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DatabaseDep, PlatformAdmin, SettingsDep
from api.problems import V1_ERRORS, responses
from api.schemas.common import ListOf
from api.schemas.workers import WorkerOut
from domain.workers import service as workers

router = APIRouter(prefix="/v1/workers", tags=["workers"], responses=responses(*V1_ERRORS))


@router.get("", response_model=ListOf[WorkerOut])
def list_workers(
    _actor: PlatformAdmin,
    db: DatabaseDep,
    settings: SettingsDep,
    after: Annotated[str | None, Query(max_length=255, description="The last name seen.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[WorkerOut]:
    """Nodes by name, each with what it offers and whether it is live."""
    live_after = workers.live_after(settings)
    with db.sessions() as session:
        page = workers.list_workers(session, after=after, limit=limit)
        data = [WorkerOut.of(w, live_after) for w in page.data]
    return ListOf[WorkerOut](data=data, has_more=page.has_more)

"""Base models visible to the tenant, with their sha256 and the jobs run on each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.dashboard.auth import ViewerDep
from api.dashboard.render import page
from api.deps import DatabaseDep
from domain.base_models import service as base_models
from domain.base_models.models import BaseModelRecord
from domain.jobs import search

router = APIRouter(prefix="/dashboard/models")
PAGE = 100


def _all_visible(session: Session, tenant: str) -> list[BaseModelRecord]:
    models: list[BaseModelRecord] = []
    cursor: str | None = None
    while True:
        found = base_models.list_visible(session, tenant, after=cursor, limit=PAGE)
        models.extend(found.data)
        if not found.has_more:
            return models
        cursor = found.data[-1].id


@router.get("", include_in_schema=False)
def models_page(request: Request, viewer: ViewerDep, db: DatabaseDep) -> HTMLResponse:
    with db.session() as session:
        models = _all_visible(session, viewer.tenant)
        counts = search.counts_by_model(session, viewer.tenant)
    rows = [
        {"model": m, "counts": counts.get(m.id, {}), "total": sum(counts.get(m.id, {}).values())}
        for m in models
    ]
    return page(request, "models.html", viewer=viewer, nav="models", rows=rows)

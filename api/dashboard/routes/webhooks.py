"""The tenant's webhook endpoints, their state and their latest deliveries (read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.dashboard.auth import ViewerDep
from api.dashboard.render import page
from api.deps import DatabaseDep
from domain.webhooks import service as webhooks

router = APIRouter(prefix="/dashboard/webhooks")
ENDPOINTS = 100
DELIVERIES = 20


@router.get("", include_in_schema=False)
def webhooks_page(request: Request, viewer: ViewerDep, db: DatabaseDep) -> HTMLResponse:
    with db.sessions() as session:
        endpoints = webhooks.list_endpoints(session, viewer.tenant, after=None, limit=ENDPOINTS)
        rows = [
            {
                "endpoint": endpoint,
                "deliveries": webhooks.list_deliveries(
                    session, viewer.tenant, endpoint.id, status=None, after=None, limit=DELIVERIES
                ).data,
            }
            for endpoint in endpoints.data
        ]
    return page(request, "webhooks.html", viewer=viewer, nav="webhooks", rows=rows)

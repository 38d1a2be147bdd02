"""The jobs table (filters, pagination) and the progress feed its live refresh polls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.dashboard.auth import ViewerDep
from api.dashboard.filters import day_end, day_start, query_string
from api.dashboard.render import page
from api.deps import DatabaseDep
from domain.api_keys import lookup
from domain.base_models import service as base_models
from domain.errors import NotFound
from domain.jobs import search, states
from domain.jobs import service as jobs
from domain.jobs.report import headline

router = APIRouter(prefix="/dashboard/jobs")
PAGE_SIZE = 25
MAX_POLLED = 50
Text = Annotated[str, Query(max_length=64)]


@router.get("", include_in_schema=False)
def jobs_page(
    request: Request,
    viewer: ViewerDep,
    db: DatabaseDep,
    state: Text = "",
    model: Annotated[str, Query(max_length=200)] = "",
    created_from: Text = "",
    created_to: Text = "",
    after: Text = "",
) -> HTMLResponse:
    where = search.JobFilter(
        status=state if state in states.STATES else None,
        model_id=model or None,
        created_from=day_start(created_from),
        created_before=day_end(created_to),
    )
    with db.sessions() as session:
        found = search.search_jobs(
            session, viewer.tenant, where, after=after or None, limit=PAGE_SIZE
        )
        names = lookup.names(session, viewer.tenant, [j.created_by_key_id for j in found.data])
        models = base_models.list_visible(session, viewer.tenant, after=None, limit=100).data
    filters = {
        "state": state,
        "model": model,
        "created_from": created_from,
        "created_to": created_to,
    }
    next_link = None
    if found.has_more:
        next_link = "/dashboard/jobs" + query_string({**filters, "after": found.data[-1].id})
    rows = [
        {
            "job": job,
            "requester": names.get(job.created_by_key_id or "", job.created_by_key_id or "—"),
            "metrics": headline(job.latest_metrics if job.status == states.SUCCEEDED else None),
        }
        for job in found.data
    ]
    return page(
        request,
        "jobs.html",
        viewer=viewer,
        nav="jobs",
        rows=rows,
        models=models,
        model_names={m.id: m.name for m in models},
        filters=filters,
        states=states.STATES,
        active=states.ACTIVE | {states.QUEUED},
        first_link="/dashboard/jobs" + query_string(filters) if after else None,
        next_link=next_link,
    )


@router.get("/progress", include_in_schema=False)
def progress(
    viewer: ViewerDep,
    db: DatabaseDep,
    ids: Annotated[str, Query(max_length=MAX_POLLED * 41)] = "",
) -> dict[str, Any]:
    """``{job id: {status, step, total, phase, eta_seconds}}`` for the tenant's jobs named."""
    out: dict[str, Any] = {}
    with db.sessions() as session:
        for job_id in [i for i in ids.split(",") if i][:MAX_POLLED]:
            try:
                job = jobs.get_job(session, viewer.tenant, job_id)
            except NotFound:
                continue
            out[job.id] = {
                "status": job.status,
                "step": job.progress_step,
                "total": job.progress_total,
                "phase": job.progress_phase,
                "eta_seconds": job.eta_seconds,
            }
    return out

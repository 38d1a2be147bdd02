"""One job: request, verdict, timeline, charts, before/after and attack grids, metrics,
artifacts, error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from api.dashboard import history
from api.dashboard.auth import ViewerDep
from api.dashboard.charts import line_chart
from api.dashboard.render import PageNotFound, not_found_as_page, page
from api.deps import DatabaseDep, SettingsDep, StorageDep
from domain.api_keys import lookup
from domain.artifacts import service as artifacts
from domain.base_models import service as base_models
from domain.errors import NotFound
from domain.jobs import service as jobs
from domain.jobs import states
from domain.jobs.report import metric_rows, per_class_rows
from domain.jobs.verdict import judgement, robustness
from domain.storage import ObjectNotFound

router = APIRouter(prefix="/dashboard/jobs/{job_id}")
ArtifactName = Annotated[str, Path(max_length=64)]


@router.get("", include_in_schema=False)
def job_page(request: Request, job_id: str, viewer: ViewerDep, db: DatabaseDep) -> HTMLResponse:
    with db.sessions() as session, not_found_as_page():
        job = jobs.get_job(session, viewer.tenant, job_id)
        try:
            model = base_models.get_for_job(session, viewer.tenant, job.model_id)
        except NotFound:
            model = None
        events = history.load_events(session, viewer.tenant, job_id)
        files = artifacts.list_for_job(session, viewer.tenant, job_id)
        requester = lookup.names(session, viewer.tenant, [job.created_by_key_id])
    report = job.latest_metrics if job.status == states.SUCCEEDED else None
    charts = {
        "progress": line_chart(
            history.progress_series(events),
            x_label="seconds",
            y_label="step",
            title="Training progress",
        ),
        "losses": line_chart(
            history.loss_series(events), x_label="step", y_label="loss", title="Training losses"
        ),
        "metrics": line_chart(
            history.metric_series(events),
            x_label="step",
            y_label="value",
            title="Metrics during training",
        ),
    }
    errors = [e for e in history.timeline(events) if e.level == "error"]
    return page(
        request,
        "job.html",
        viewer=viewer,
        nav="jobs",
        job=job,
        model=model,
        requester=requester.get(job.created_by_key_id or "", job.created_by_key_id),
        timeline=history.timeline(events),
        charts=charts,
        counters=history.counters(events),
        report=report,
        judgement=judgement(report),
        robustness=robustness(report),
        metrics=metric_rows(report),
        per_class=per_class_rows(report),
        artifacts={a.name: a for a in files},
        error_details=errors[-1].text if errors else None,
        active=job.status in states.ACTIVE | {states.QUEUED},
        succeeded=job.status == states.SUCCEEDED,
    )


def _image(
    db: DatabaseDep, storage: StorageDep, tenant: str, job_id: str, name: str
) -> StreamingResponse:
    """A job's image artifact, inline (not an audited download)."""
    with db.sessions() as session, not_found_as_page():
        artifact = artifacts.get(session, tenant, job_id, name)
    try:
        chunks = storage.get_stream(artifact.storage_key)
    except ObjectNotFound:
        raise PageNotFound(f"{name} is missing from storage") from None
    return StreamingResponse(
        chunks, media_type=artifact.content_type, headers={"Cache-Control": "private, max-age=300"}
    )


@router.get("/samples.png", include_in_schema=False)
def preview(
    job_id: str, viewer: ViewerDep, db: DatabaseDep, storage: StorageDep
) -> StreamingResponse:
    """The before/after grid shown inline on the job page."""
    return _image(db, storage, viewer.tenant, job_id, "samples.png")


@router.get("/robustness.png", include_in_schema=False)
def robustness_grid(
    job_id: str, viewer: ViewerDep, db: DatabaseDep, storage: StorageDep
) -> StreamingResponse:
    """What the strongest attack drew, shown in the verdict section."""
    return _image(db, storage, viewer.tenant, job_id, "robustness.png")


@router.get("/artifacts/{name}", include_in_schema=False, response_model=None)
def download(
    job_id: str,
    name: ArtifactName,
    viewer: ViewerDep,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
) -> StreamingResponse | RedirectResponse:
    """A download, audited like the API's (``via: dashboard``)."""
    with db.session() as session, not_found_as_page():
        artifact = artifacts.get(session, viewer.tenant, job_id, name)
        url = storage.presigned_get_url(
            artifact.storage_key, settings.presign_ttl_seconds, artifact.name
        )
        if url is None:
            try:
                chunks = storage.get_stream(artifact.storage_key)
            except ObjectNotFound:
                raise PageNotFound(f"{name} is missing from storage") from None
        artifacts.record_download(session, viewer.actor, artifact, via="dashboard")
    if url is not None:
        return RedirectResponse(url, status_code=303)
    return StreamingResponse(
        chunks,
        media_type=artifact.content_type,
        headers={
            "Content-Length": str(artifact.size),
            "Content-Disposition": f'attachment; filename="{artifact.name}"',
            "ETag": f'"{artifact.sha256}"',
        },
    )

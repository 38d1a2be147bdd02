"""``/v1/jobs``: submit forget-requests, follow them, cancel them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, JobsReader, JobsWriter, RunnerDep, SettingsDep, StorageDep
from api.problems import V1_ERRORS, require_json, responses
from api.schemas.common import ListOf
from api.schemas.jobs import JobCreate, JobEventOut, JobOut, JobStatus
from domain.hashing import sha256_json
from domain.idempotency import service as idempotency
from domain.jobs import service as jobs
from domain.jobs import states
from domain.retention import service as retention

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses=responses(*V1_ERRORS),
)
Limit = Annotated[int, Query(ge=1, le=100)]
MAX_SEQ = 2**63 - 1
STREAM_POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


@router.post("", status_code=201, response_model=JobOut, responses=responses(415))
def create_job(
    body: JobCreate,
    actor: JobsWriter,
    _json: Annotated[None, Depends(require_json)],
    db: DatabaseDep,
    settings: SettingsDep,
    runner: RunnerDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Validate a forget-request and queue it. An ``Idempotency-Key`` makes retries safe."""
    assert actor.tenant is not None
    request_sha256 = sha256_json(body.model_dump(mode="json"))
    if idempotency_key is not None:
        replay = idempotency.begin(
            db, actor.tenant, idempotency_key, request_sha256, settings.idempotency_ttl_seconds
        )
        if replay is not None:
            return JSONResponse(replay.body, replay.status, headers={"Idempotent-Replayed": "true"})
    try:
        with db.session() as session:
            job = jobs.create_job(session, settings, actor, body.to_request(), request_sha256)
            out = JobOut.of(job).model_dump(mode="json")
            if idempotency_key is not None:
                idempotency.complete(session, actor.tenant, idempotency_key, 201, out)
    except BaseException:
        # Any failure, not only a domain error, frees the key: a retry must not be a 409.
        if idempotency_key is not None:
            idempotency.abandon(db, actor.tenant, idempotency_key)
        raise
    runner.submit(job.id)
    return JSONResponse(out, 201, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("", response_model=ListOf[JobOut])
def list_jobs(
    actor: JobsReader,
    db: DatabaseDep,
    status: JobStatus | None = None,
    after: str | None = None,
    limit: Limit = 20,
) -> ListOf[JobOut]:
    """The tenant's jobs, newest first."""
    assert actor.tenant is not None
    with db.sessions() as session:
        page = jobs.list_jobs(session, actor.tenant, status=status, after=after, limit=limit)
        return ListOf[JobOut](data=[JobOut.of(j) for j in page.data], has_more=page.has_more)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, actor: JobsReader, db: DatabaseDep) -> JobOut:
    """Status, progress, latest metrics, error, timestamps and attempt of one job."""
    assert actor.tenant is not None
    with db.sessions() as session:
        return JobOut.of(jobs.get_job(session, actor.tenant, job_id))


@router.delete("/{job_id}", status_code=204, response_class=Response)
def delete_job(job_id: str, actor: JobsWriter, db: DatabaseDep, storage: StorageDep) -> Response:
    """Delete all of a finished job's stored data: its files, request, report, history and
    idempotency record. Afterwards the job answers 410 everywhere; the audit log keeps its
    events (hashes only). 409 while the job is queued or running."""
    retention.delete_job(db, storage, actor, job_id)
    return Response(status_code=204)


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, actor: JobsWriter, db: DatabaseDep) -> JobOut:
    """Queued jobs end ``cancelled`` at once; running ones pass through ``cancelling``."""
    with db.session() as session:
        return JobOut.of(jobs.request_cancel(session, actor, job_id))


def _wants_stream(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


@router.get(
    "/{job_id}/events",
    response_model=ListOf[JobEventOut],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def list_events(
    request: Request,
    job_id: str,
    actor: JobsReader,
    db: DatabaseDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    limit: Limit = 100,
    stream: bool = False,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_SEQ)] = None,
) -> ListOf[JobEventOut] | StreamingResponse:
    """The job's history, oldest first; with ``stream=true`` (or ``Accept:
    text/event-stream``) a server-sent-events stream that ends when the job does."""
    assert actor.tenant is not None
    tenant = actor.tenant

    def fetch(cursor: int | None) -> tuple[list[JobEventOut], bool, str]:
        with db.sessions() as session:
            page = jobs.list_events(session, tenant, job_id, after=cursor, limit=limit)
            status = jobs.get_job(session, tenant, job_id).status
            return [JobEventOut.of(e) for e in page.data], page.has_more, status

    cursor = last_event_id if last_event_id is not None else after
    first = await run_in_threadpool(fetch, cursor)
    if not _wants_stream(request, stream):
        return ListOf[JobEventOut](data=first[0], has_more=first[1])
    return StreamingResponse(
        _sse(fetch, cursor, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    fetch: Callable[[int | None], tuple[list[JobEventOut], bool, str]],
    cursor: int | None,
    first: tuple[list[JobEventOut], bool, str],
) -> AsyncIterator[str]:
    """Server-sent events from a polled page of events (Starlette stops it on disconnect)."""
    events, has_more, status = first
    idle = 0.0
    while True:
        for event in events:
            cursor = event.id
            yield f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"
        if not has_more and status in states.TERMINAL:
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if not events:
            await asyncio.sleep(STREAM_POLL_SECONDS)
            idle += STREAM_POLL_SECONDS
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield ": keep-alive\n\n"
        else:
            idle = 0.0
        events, has_more, status = await run_in_threadpool(fetch, cursor)

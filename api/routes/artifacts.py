"""``/v1/jobs/{id}/artifacts``: list a job's files and download them."""

from __future__ import annotations

import base64
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api import ranges
from api.deps import DatabaseDep, JobsReader, JobsWriter, SettingsDep, StorageDep
from api.problems import V1_ERRORS, responses
from api.schemas.artifacts import ArtifactOut, PresignedDownload
from api.schemas.common import ListOf
from domain.artifacts import service as artifacts
from domain.artifacts.models import Artifact
from domain.errors import Unavailable
from domain.retention import service as retention
from domain.storage import ObjectNotFound

router = APIRouter(
    prefix="/v1/jobs/{job_id}/artifacts",
    tags=["artifacts"],
    responses=responses(*V1_ERRORS, 503),
)
ArtifactName = Annotated[str, Path(max_length=64)]


@router.get("", response_model=ListOf[ArtifactOut])
def list_artifacts(job_id: str, actor: JobsReader, db: DatabaseDep) -> ListOf[ArtifactOut]:
    """Name, size, sha256 and content type of each file (empty until the job succeeds)."""
    assert actor.tenant is not None
    with db.sessions() as session:
        found = artifacts.list_for_job(session, actor.tenant, job_id)
        return ListOf[ArtifactOut](data=[ArtifactOut.of(a) for a in found], has_more=False)


@router.delete("", status_code=204, response_class=Response)
def delete_artifacts(
    job_id: str, actor: JobsWriter, db: DatabaseDep, storage: StorageDep
) -> Response:
    """Delete every stored file of a finished job (all attempts, checkpoints). The rows stay
    with their sha256 and ``deleted_at``; downloads answer 410; the audit log records it.
    409 while the job is queued or running; repeating it is harmless."""
    retention.delete_artifacts(db, storage, actor, job_id)
    return Response(status_code=204)


DOWNLOAD_RESPONSES = {
    200: {"content": {"application/octet-stream": {}}, "description": "The file, streamed."},
    206: {"description": "The byte range asked for with `Range: bytes=...`."},
    307: {"description": "S3 store: redirect to a short-lived presigned URL."},
    **responses(416),
}


# GET and HEAD are registered apart so that each has its own OpenAPI operation id.
@router.head("/{name}", response_model=None, responses=DOWNLOAD_RESPONSES, name="head_artifact")
@router.get("/{name}", response_model=None, responses=DOWNLOAD_RESPONSES)
def download_artifact(
    request: Request,
    job_id: str,
    name: ArtifactName,
    actor: JobsReader,
    db: DatabaseDep,
    storage: StorageDep,
    settings: SettingsDep,
    redirect: Annotated[bool, Query(description="S3 only: false answers the URL as JSON.")] = True,
) -> Response | PresignedDownload:
    """Stream the file (a ``Range: bytes=...`` answers 206 with that part), or (S3) hand out
    a presigned URL, which honours ``Range`` itself. ``HEAD`` answers the headers only. Every
    grant of bytes is audited."""
    assert actor.tenant is not None
    with db.session() as session:
        artifact = artifacts.get(session, actor.tenant, job_id, name)
        part = ranges.parse(request.headers.get("range"), artifact.size)
        headers = _headers(artifact)
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers, media_type=artifact.content_type)
        ttl = settings.presign_ttl_seconds
        url = storage.presigned_get_url(artifact.storage_key, ttl, artifact.name)
        if url is None:
            try:
                chunks = storage.get_stream(
                    artifact.storage_key,
                    offset=part.start if part else 0,
                    length=part.length if part else None,
                )
            except ObjectNotFound:
                raise Unavailable(
                    f"artifact {name} is missing from storage", code="artifact_missing"
                ) from None
        artifacts.record_download(
            session,
            actor,
            artifact,
            via="stream" if url is None else "presigned",
            byte_range=part.content_range(artifact.size) if part else None,
        )
    if url is not None:
        if redirect:
            return RedirectResponse(url, status_code=307)
        return PresignedDownload(
            name=artifact.name, sha256=artifact.sha256, url=url, expires_at=int(time.time()) + ttl
        )
    if part is None:
        return StreamingResponse(chunks, media_type=artifact.content_type, headers=headers)
    headers |= {
        "Content-Length": str(part.length),
        "Content-Range": part.content_range(artifact.size),
    }
    return StreamingResponse(
        chunks, status_code=206, media_type=artifact.content_type, headers=headers
    )


def _headers(artifact: Artifact) -> dict[str, str]:
    """What a download (or ``HEAD``) of the whole file says about it."""
    digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
    return {
        "Content-Length": str(artifact.size),
        "Content-Disposition": f'attachment; filename="{artifact.name}"',
        "ETag": f'"{artifact.sha256}"',
        "Repr-Digest": f"sha-256=:{digest}:",
        "Accept-Ranges": "bytes",
    }

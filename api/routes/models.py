"""``/v1/models``: register base models (archive upload, s3:// URI, allowed local path)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, JobsReader, ModelsWriter, SettingsDep, StorageDep
from api.problems import V1_ERRORS, UnsupportedMediaType, responses, user_errors
from api.schemas.common import ListOf
from api.schemas.models import ModelOut, ModelReference
from domain.base_models import service as models
from domain.errors import Invalid

router = APIRouter(
    prefix="/v1/models",
    tags=["models"],
    responses=responses(*V1_ERRORS, 415),
)
ARCHIVE_TYPES = {
    "application/x-tar",
    "application/tar",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/octet-stream",
}


REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ModelReference.model_json_schema()},
        "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
        "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
    },
}


async def _spool(request: Request, folder: Path) -> Path:
    """Write the request body to a file without holding it in memory."""
    target = folder / "upload"
    with target.open("wb") as out:
        async for chunk in request.stream():
            await run_in_threadpool(out.write, chunk)
    return target


@router.post(
    "", status_code=201, response_model=ModelOut, openapi_extra={"requestBody": REQUEST_BODY}
)
async def register_model(
    request: Request,
    actor: ModelsWriter,
    db: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    """Upload a diffusers folder as tar/zip (safetensors only), or reference one by JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            reference = ModelReference.model_validate_json(await request.body())
        except ValidationError as exc:
            first = user_errors(list(exc.errors()))[0]
            raise Invalid(first["msg"], code="validation_error") from None

        def register_reference() -> ModelOut:
            with db.session() as session:
                label = reference.name or reference.uri or reference.path or "model"
                if reference.uri is not None:
                    model = models.register_uri(
                        session, settings, actor, name=label, uri=reference.uri
                    )
                else:
                    assert reference.path is not None
                    model = models.register_path(
                        session, settings, actor, name=label, path=reference.path
                    )
                return ModelOut.of(model)

        out = await run_in_threadpool(register_reference)
    elif content_type in ARCHIVE_TYPES:
        spool = Path(tempfile.mkdtemp(prefix="sfd-upload-"))
        try:
            archive_path = await _spool(request, spool)
            if archive_path.stat().st_size == 0:
                raise Invalid("the request body is empty", code="invalid_archive")

            def register_archive() -> ModelOut:
                model = models.register_archive(
                    db,
                    settings,
                    storage,
                    actor,
                    name=name,
                    archive_path=archive_path,
                )
                return ModelOut.of(model)

            out = await run_in_threadpool(register_archive)
        finally:
            shutil.rmtree(spool, ignore_errors=True)
    else:
        raise UnsupportedMediaType(
            "send application/json ({uri} or {path}) or a tar/zip archive "
            f"({', '.join(sorted(ARCHIVE_TYPES))})"
        )
    return JSONResponse(
        out.model_dump(mode="json"), 201, headers={"Location": f"/v1/models/{out.id}"}
    )


@router.get("", response_model=ListOf[ModelOut])
def list_models(
    actor: JobsReader,
    db: DatabaseDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[ModelOut]:
    """The tenant's models and the bundled ones."""
    assert actor.tenant is not None
    with db.session() as session:
        page = models.list_visible(session, actor.tenant, after=after, limit=limit)
        return ListOf[ModelOut](data=[ModelOut.of(m) for m in page.data], has_more=page.has_more)


@router.get("/{model_id}", response_model=ModelOut)
def get_model(model_id: str, actor: JobsReader, db: DatabaseDep) -> ModelOut:
    assert actor.tenant is not None
    with db.session() as session:
        return ModelOut.of(models.get_visible(session, actor.tenant, model_id))


@router.delete("/{model_id}", status_code=204, response_class=Response)
def delete_model(
    model_id: str, actor: ModelsWriter, db: DatabaseDep, settings: SettingsDep, storage: StorageDep
) -> Response:
    """Delete one of the tenant's models: its stored archive and cached copy go, its name is
    freed; jobs and certificates keep naming it by id. 409 (``model_in_use``) while a queued
    or running job uses it; 403 for bundled models."""
    models.delete(db, settings, storage, actor, model_id)
    return Response(status_code=204)

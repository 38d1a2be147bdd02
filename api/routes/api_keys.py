"""``/v1/api_keys`` (admin): issue, list, read, revoke and rotate keys. A tenant admin manages
its own tenant's keys; a platform admin every tenant's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import Admin, DatabaseDep
from api.problems import V1_ERRORS, responses
from api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyRotate
from api.schemas.common import ListOf
from domain.api_keys import service as api_keys

router = APIRouter(
    prefix="/v1/api_keys",
    tags=["api keys"],
    responses=responses(*V1_ERRORS),
)
KeyId = Annotated[str, Path(max_length=40)]


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_api_key(body: ApiKeyCreate, actor: Admin, db: DatabaseDep) -> ApiKeyCreated:
    """A new key; its secret is in this response only."""
    with db.session() as session:
        key, secret = api_keys.create_key(
            session,
            actor,
            tenant=body.tenant or actor.tenant or "",
            name=body.name,
            scopes=body.scopes,
            expires_at=body.expiry(),
        )
        return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), secret=secret)


@router.get("", response_model=ListOf[ApiKeyOut])
def list_api_keys(
    actor: Admin,
    db: DatabaseDep,
    tenant: Annotated[str | None, Query(max_length=64, description="Platform admins only.")] = None,
    after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[ApiKeyOut]:
    """A tenant's keys, revoked and expired ones included (never their secrets)."""
    with db.sessions() as session:
        page = api_keys.list_keys(session, actor, tenant=tenant, after=after, limit=limit)
        return ListOf[ApiKeyOut](data=[ApiKeyOut.of(k) for k in page.data], has_more=page.has_more)


@router.get("/{key_id}", response_model=ApiKeyOut)
def get_api_key(key_id: KeyId, actor: Admin, db: DatabaseDep) -> ApiKeyOut:
    with db.sessions() as session:
        return ApiKeyOut.of(api_keys.get_key(session, actor, key_id))


@router.delete("/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: KeyId, actor: Admin, db: DatabaseDep) -> ApiKeyOut:
    """Revoke the key at once (its dashboard sessions end too); the revoked key is returned."""
    with db.session() as session:
        return ApiKeyOut.of(api_keys.revoke_key(session, actor, key_id))


@router.post(
    "/{key_id}/rotate",
    status_code=201,
    response_model=ApiKeyCreated,
)
def rotate_api_key(
    key_id: KeyId, actor: Admin, db: DatabaseDep, body: ApiKeyRotate | None = None
) -> ApiKeyCreated:
    """A replacement key (same tenant, name, scopes, expiry); the old one is revoked now or
    after ``grace_seconds``."""
    grace = body.grace_seconds if body is not None else 0
    with db.session() as session:
        key, secret = api_keys.rotate_key(session, actor, key_id, grace_seconds=grace)
        return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), secret=secret)

"""``/v1/api_keys`` (admin): issue keys for a tenant, list this tenant's keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import Admin, DatabaseDep
from api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from api.schemas.common import ListOf
from domain.api_keys import service as api_keys
from domain.api_keys.models import ApiKey
from domain.pagination import paginate

router = APIRouter(prefix="/v1/api_keys", tags=["api keys"])


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
        )
        return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), secret=secret)


@router.get("", response_model=ListOf[ApiKeyOut])
def list_api_keys(
    actor: Admin,
    db: DatabaseDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[ApiKeyOut]:
    """This tenant's keys (never their secrets)."""
    with db.sessions() as session:
        query = select(ApiKey).where(ApiKey.tenant == actor.tenant)
        page = paginate(session, query, ApiKey.id, after=after, limit=limit)
        return ListOf[ApiKeyOut](data=[ApiKeyOut.of(k) for k in page.data], has_more=page.has_more)

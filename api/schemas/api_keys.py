"""API keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import RequestBody
from domain.api_keys.models import ApiKey
from domain.db import unix


class ApiKeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=5, examples=[["jobs:read", "jobs:write"]])
    tenant: str | None = Field(None, description="Defaults to the caller's tenant.")


class ApiKeyOut(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    tenant: str
    name: str
    scopes: list[str]
    prefix: str
    created_at: int

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            tenant=key.tenant,
            name=key.name,
            scopes=key.scopes,
            prefix=key.prefix,
            created_at=unix(key.created_at) or 0,
        )


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="Shown once; only its sha256 is stored.")

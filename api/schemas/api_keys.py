"""API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import RequestBody
from domain.api_keys.models import ApiKey
from domain.db import unix

MAX_UNIX = 253402300799  # 9999-12-31


class ApiKeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    scopes: list[str] = Field(min_length=1, max_length=6, examples=[["jobs:read", "jobs:write"]])
    tenant: str | None = Field(
        None, description="Defaults to the caller's tenant; another only for a platform admin."
    )
    expires_at: int | None = Field(
        None, ge=0, le=MAX_UNIX, description="Unix time after which the key stops working."
    )

    def expiry(self) -> datetime | None:
        return None if self.expires_at is None else datetime.fromtimestamp(self.expires_at, UTC)


class ApiKeyRotate(RequestBody):
    grace_seconds: int = Field(
        0, ge=0, le=7 * 86400, description="Keep the old key working this long (0: revoke now)."
    )


class ApiKeyOut(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    tenant: str
    name: str
    scopes: list[str]
    prefix: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    rotated_from: str | None = None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            tenant=key.tenant,
            name=key.name,
            scopes=key.scopes,
            prefix=key.prefix,
            created_at=unix(key.created_at) or 0,
            expires_at=unix(key.expires_at),
            revoked_at=unix(key.revoked_at),
            rotated_from=key.rotated_from,
        )


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="Shown once; only its sha256 is stored.")

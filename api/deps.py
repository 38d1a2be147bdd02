"""``Annotated`` dependencies: settings, database, storage, runner and the calling actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import request_id_of
from domain.actor import Actor
from domain.api_keys import service as api_keys
from domain.audit.anchoring import Anchoring
from domain.db import Database
from domain.errors import DomainError
from domain.quotas.ratelimit import RateLimiter
from domain.settings import Settings
from domain.storage import Storage
from worker.runner import JobRunner


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "insufficient_scope"


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its
# thread pool, a thread hop (and GIL hand-over) per dependency per request.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_storage(request: Request) -> Storage:
    return request.app.state.storage


async def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner


async def get_anchoring(request: Request) -> Anchoring:
    return request.app.state.anchoring


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
StorageDep = Annotated[Storage, Depends(get_storage)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
AnchoringDep = Annotated[Anchoring, Depends(get_anchoring)]
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sfd_...`")


def current_actor(
    request: Request,
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Unauthorized(
            "an API key is required (Authorization: Bearer <key>)", headers=challenge
        )
    with db.sessions() as session:
        key = api_keys.authenticate(session, credentials.credentials)
    if key is None:
        raise Unauthorized("the API key is not valid", code="invalid_api_key", headers=challenge)
    limiter: RateLimiter | None = request.app.state.limiter
    if limiter is not None:
        limiter.hit(key.id)
    actor = Actor(
        tenant=key.tenant,
        name=f"key:{key.id}",
        key_id=key.id,
        scopes=frozenset(key.scopes),
        request_id=request_id_of(request),
    )
    request.state.actor = actor  # a refusal later in the request is counted under this key
    return actor


def require(scope: str) -> object:
    """A dependency: the actor, who must hold ``scope`` (``admin`` holds every scope)."""

    async def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if not actor.has_scope(scope):
            raise Forbidden(f"this API key lacks the {scope!r} scope")
        return actor

    return Depends(check)


JobsReader = Annotated[Actor, require("jobs:read")]
JobsWriter = Annotated[Actor, require("jobs:write")]
ModelsWriter = Annotated[Actor, require("models:write")]
AuditReader = Annotated[Actor, require("audit:read")]
Admin = Annotated[Actor, require("admin")]
PlatformAdmin = Annotated[Actor, require("platform:admin")]

"""``/v1/webhooks``: a tenant's webhook endpoints, their secrets and their delivery logs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.deps import DatabaseDep, SettingsDep, require
from api.problems import V1_ERRORS, require_json, responses
from api.schemas.common import ListOf
from api.schemas.webhooks import DeliveryOut, WebhookCreate, WebhookOut
from domain.actor import Actor
from domain.webhooks import service as webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=responses(*V1_ERRORS))
WebhooksWriter = Annotated[Actor, require("webhooks:write")]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.post("", status_code=201, response_model=WebhookOut, responses=responses(415))
def create_webhook(
    body: WebhookCreate,
    actor: WebhooksWriter,
    _json: Annotated[None, Depends(require_json)],
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Register an endpoint for job events. The answer holds the signing ``secret``, shown
    only this once. URLs resolving to loopback, link-local or private addresses are refused
    unless the operator allows them (``SFD_WEBHOOK_ALLOW_PRIVATE``)."""
    with db.session() as session:
        endpoint = webhooks.create(
            session,
            settings,
            actor,
            url=body.url,
            events=list(body.events),
            description=body.description,
        )
        out = WebhookOut.of(endpoint, with_secret=True).model_dump(mode="json")
    return JSONResponse(out, 201, headers={"Location": f"/v1/webhooks/{endpoint.id}"})


@router.get("", response_model=ListOf[WebhookOut])
def list_webhooks(
    actor: WebhooksWriter, db: DatabaseDep, after: str | None = None, limit: Limit = 20
) -> ListOf[WebhookOut]:
    assert actor.tenant is not None
    with db.sessions() as session:
        page = webhooks.list_endpoints(session, actor.tenant, after=after, limit=limit)
        return ListOf[WebhookOut](
            data=[WebhookOut.of(e) for e in page.data], has_more=page.has_more
        )


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, actor: WebhooksWriter, db: DatabaseDep) -> WebhookOut:
    assert actor.tenant is not None
    with db.sessions() as session:
        return WebhookOut.of(webhooks.get(session, actor.tenant, webhook_id))


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: str, actor: WebhooksWriter, db: DatabaseDep) -> Response:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    with db.session() as session:
        webhooks.delete(session, actor, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookOut)
def rotate_secret(
    webhook_id: str, actor: WebhooksWriter, db: DatabaseDep, settings: SettingsDep
) -> WebhookOut:
    """A new signing secret, shown only in this answer; later deliveries are signed with it,
    and with the old one too until ``previous_secret_expires_at``
    (``SFD_WEBHOOK_ROTATION_GRACE_SECONDS``, default a day)."""
    with db.session() as session:
        endpoint = webhooks.rotate_secret(session, settings, actor, webhook_id)
        return WebhookOut.of(endpoint, with_secret=True)


@router.post("/{webhook_id}/enable", response_model=WebhookOut)
def enable_webhook(webhook_id: str, actor: WebhooksWriter, db: DatabaseDep) -> WebhookOut:
    """Turn an endpoint that was disabled for failing back on; its waiting deliveries go."""
    with db.session() as session:
        return WebhookOut.of(webhooks.enable(session, actor, webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=ListOf[DeliveryOut])
def list_deliveries(
    webhook_id: str,
    actor: WebhooksWriter,
    db: DatabaseDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    after: str | None = None,
    limit: Limit = 20,
) -> ListOf[DeliveryOut]:
    """The endpoint's delivery log, newest first: attempts, last answer, when delivered."""
    assert actor.tenant is not None
    with db.sessions() as session:
        page = webhooks.list_deliveries(
            session, actor.tenant, webhook_id, status=status, after=after, limit=limit
        )
        return ListOf[DeliveryOut](
            data=[DeliveryOut.of(d) for d in page.data], has_more=page.has_more
        )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryOut
)
def redeliver(
    webhook_id: str, delivery_id: str, actor: WebhooksWriter, db: DatabaseDep
) -> DeliveryOut:
    """Send a delivery again (with the same ``webhook-id``), whatever became of it."""
    with db.session() as session:
        return DeliveryOut.of(webhooks.redeliver(session, actor, webhook_id, delivery_id))

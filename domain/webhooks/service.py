"""A tenant's webhook endpoints and their delivery log; the outbox rows job changes write."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import utcnow
from domain.errors import NotFound
from domain.ids import new_id
from domain.pagination import Page, paginate
from domain.settings import Settings
from domain.webhooks import urls
from domain.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint

ALL = "*"
EVENT_TYPES = (
    "job.queued",
    "job.running",
    "job.cancelling",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
)


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    url: str,
    events: list[str],
    description: str,
) -> WebhookEndpoint:
    assert actor.tenant is not None
    endpoint = WebhookEndpoint(
        id=new_id("whk"),
        tenant=actor.tenant,
        url=urls.check_url(url, settings.webhook_allow_private),
        description=description,
        events=sorted(set(events)) or [ALL],
        secret=new_secret(),
        enabled=True,
        created_by_key_id=actor.key_id,
    )
    session.add(endpoint)
    session.flush()
    data = {"url": endpoint.url, "events": endpoint.events}
    audit.record(session, actor, "webhook.created", "webhook", endpoint.id, data)
    return endpoint


def get(session: Session, tenant: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant == tenant
        )
    )
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_not_found")
    return endpoint


def list_endpoints(
    session: Session, tenant: str, *, after: str | None, limit: int
) -> Page[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.tenant == tenant)
    return paginate(session, query, WebhookEndpoint.id, after=after, limit=limit)


def delete(session: Session, actor: Actor, endpoint_id: str) -> None:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    assert actor.tenant is not None
    endpoint = get(session, actor.tenant, endpoint_id)
    session.delete(endpoint)
    session.flush()
    audit.record(session, actor, "webhook.deleted", "webhook", endpoint_id, {"url": endpoint.url})


def rotate_secret(
    session: Session,
    settings: Settings,
    actor: Actor,
    endpoint_id: str,
) -> WebhookEndpoint:
    """A new secret (shown once); deliveries from now on are signed with it, and also with the
    old one for ``SFD_WEBHOOK_ROTATION_GRACE_SECONDS``, so receivers still
    holding the old secret keep verifying while they are switched over."""
    assert actor.tenant is not None
    endpoint = get(session, actor.tenant, endpoint_id)
    until = utcnow() + timedelta(seconds=settings.webhook_rotation_grace_seconds)
    endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, until
    endpoint.secret = new_secret()
    data = {"previous_secret_expires_at": _iso(until)}
    audit.record(session, actor, "webhook.secret_rotated", "webhook", endpoint_id, data)
    return endpoint


def enable(session: Session, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    """Turn an endpoint back on (after it was disabled for failing); waiting deliveries go."""
    assert actor.tenant is not None
    endpoint = get(session, actor.tenant, endpoint_id)
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
    audit.record(session, actor, "webhook.enabled", "webhook", endpoint_id, {})
    return endpoint


def list_deliveries(
    session: Session,
    tenant: str,
    endpoint_id: str,
    *,
    status: str | None,
    after: str | None,
    limit: int,
) -> Page[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    get(session, tenant, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return paginate(session, query, WebhookDelivery.id, after=after, limit=limit)


def redeliver(
    session: Session, actor: Actor, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """Send a delivery again now (same ``webhook-id``: receivers may de-duplicate)."""
    assert actor.tenant is not None
    get(session, actor.tenant, endpoint_id)
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id!r}", code="delivery_not_found")
    delivery.status, delivery.next_attempt_at = PENDING, utcnow()
    audit.record(
        session, actor, "webhook.redelivery_requested", "webhook", endpoint_id, {"id": delivery_id}
    )
    return delivery


def job_event(
    session: Session, tenant: str, job_id: str, source: str | None, target: str, **data: Any
) -> None:
    """Queue ``job.<target>`` for the tenant's enabled endpoints that want it, in the
    caller's transaction (the outbox: it commits, or is lost, with the state change)."""
    event_type = f"job.{target}"
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant == tenant, WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    wanted = [e for e in endpoints if ALL in e.events or event_type in e.events]
    if not wanted:
        return
    now = utcnow()
    payload = {
        "type": event_type,
        "timestamp": _iso(now),
        "data": {"id": job_id, "object": "unlearning.job", "status": target, "from": source} | data,
    }
    for endpoint in wanted:
        session.add(
            WebhookDelivery(
                id=new_id("msg"),
                endpoint_id=endpoint.id,
                tenant=tenant,
                event_type=event_type,
                payload=payload,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

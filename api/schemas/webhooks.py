"""Webhook endpoints and their deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import RequestBody
from domain.db import unix
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.service import ALL, EVENT_TYPES

EventType = Literal[
    "*",
    "job.queued",
    "job.running",
    "job.cancelling",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
]
assert set(EventType.__args__) == {ALL, *EVENT_TYPES}  # type: ignore[attr-defined]


class WebhookCreate(RequestBody):
    url: str = Field(min_length=8, max_length=2000, examples=["https://example.com/hooks/sfd"])
    events: list[EventType] = Field(
        default_factory=lambda: [ALL], min_length=1, max_length=len(EVENT_TYPES) + 1
    )
    description: str = Field("", max_length=200)


class WebhookOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: int | None
    created_at: int
    secret: str | None = Field(
        None, description="The signing secret: only in the answers that create or rotate it."
    )
    previous_secret_expires_at: int | None = Field(
        None,
        description="After a rotation: until when (unix seconds) deliveries are also signed "
        "with the previous secret (SFD_WEBHOOK_ROTATION_GRACE_SECONDS); null: never rotated.",
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, *, with_secret: bool = False) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            description=endpoint.description,
            events=endpoint.events,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failing_since=unix(endpoint.failing_since),
            created_at=unix(endpoint.created_at) or 0,
            secret=endpoint.secret if with_secret else None,
            previous_secret_expires_at=unix(endpoint.previous_secret_expires_at),
        )


class DeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str
    event_type: str
    payload: dict[str, Any]
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: int | None
    last_attempt_at: int | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: int | None
    created_at: int

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_type=delivery.event_type,
            payload=delivery.payload,
            status=delivery.status,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            next_attempt_at=unix(delivery.next_attempt_at)
            if delivery.status == "pending"
            else None,
            last_attempt_at=unix(delivery.last_attempt_at),
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=unix(delivery.delivered_at),
            created_at=unix(delivery.created_at) or 0,
        )

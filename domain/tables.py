"""Imports every ORM model so ``Base.metadata`` knows all tables (Alembic, tests)."""

from domain.api_keys.models import ApiKey
from domain.artifacts.models import Artifact
from domain.audit.models import AuditEvent, AuditHead
from domain.base_models.models import BaseModelRecord
from domain.db import Base
from domain.idempotency.models import IdempotencyKey
from domain.jobs.models import Job, JobEvent
from domain.sessions.models import DashboardSession
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.workers.models import Worker

metadata = Base.metadata

__all__ = [
    "ApiKey",
    "Artifact",
    "AuditEvent",
    "AuditHead",
    "BaseModelRecord",
    "DashboardSession",
    "IdempotencyKey",
    "Job",
    "JobEvent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Worker",
    "metadata",
]

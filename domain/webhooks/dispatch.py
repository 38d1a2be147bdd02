"""Sending the outbox: claim due deliveries, sign them (Standard Webhooks, the
``standardwebhooks`` library), POST them, record the answer; retry with exponential back-off;
disable an endpoint that keeps failing. After a secret rotation each delivery carries a
signature by the new secret and, during the grace period, one by the old secret.

A claim moves the row's ``next_attempt_at`` past the send's time-out (a lease), so a process
that dies mid-send leaves a row that comes due again: delivery is at least once, and a 2xx is
recorded with a conditional UPDATE (``status = 'pending'``), so an acknowledged delivery is
never sent again by the dispatcher. Any number of API processes may dispatch at once
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

import json
import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database, utcnow
from domain.errors import Invalid
from domain.periodic import Periodic
from domain.settings import Settings
from domain.webhooks import urls
from domain.webhooks.models import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
BATCH = 100
SENDERS = 16
USER_AGENT = "sfd-unlearn-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    id: str
    endpoint_id: str
    url: str
    secret: str
    body: str
    attempt: int
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None

    def secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while its rotation grace period lasts."""
        until = self.previous_secret_expires_at
        if self.previous_secret and until is not None and now < until:
            return [self.secret, self.previous_secret]
        return [self.secret]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from the base, capped, +-10% jitter."""
    base = settings.webhook_retry_base_seconds * 2 ** (attempt - 1)
    return min(settings.webhook_retry_max_seconds, base) * random.uniform(0.9, 1.1)


class Dispatcher:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.client = httpx.Client(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self.pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="sfd-webhook")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def run(self) -> int:
        """Send due deliveries until none is left; how many were attempted."""
        total = 0
        while batch := self.claim():
            list(self.pool.map(self._deliver, batch))
            total += len(batch)
        return total

    def claim(self) -> list[Claimed]:
        """Take up to :data:`BATCH` due deliveries of enabled endpoints (a lease each)."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        with self.db.session() as session:
            query = (
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(BATCH)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            )
            claimed = []
            for delivery, endpoint in session.execute(query).all():
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.id,
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=lease, attempts=WebhookDelivery.attempts + 1)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    body = json.dumps(delivery.payload, separators=(",", ":"))
                    claimed.append(
                        Claimed(
                            delivery.id,
                            endpoint.id,
                            endpoint.url,
                            endpoint.secret,
                            body,
                            delivery.attempts + 1,
                            endpoint.previous_secret,
                            endpoint.previous_secret_expires_at,
                        )
                    )
            return claimed

    def send(self, item: Claimed) -> Outcome:
        """One signed POST; 2xx is success, anything else (or no answer) a failure."""
        try:
            target = urls.pin(item.url, self.settings.webhook_allow_private)
        except Invalid as exc:
            return Outcome(False, None, exc.detail)
        now = utcnow()
        # Several signatures, space-separated, are Standard Webhooks' way to rotate secrets.
        signature = " ".join(Webhook(s).sign(item.id, now, item.body) for s in item.secrets(now))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": item.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            response = self.client.post(
                target.url,
                content=item.body,
                headers=headers | target.headers,
                extensions=target.extensions,
            )
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}")

    def _deliver(self, item: Claimed) -> None:
        try:
            outcome = self.send(item)
            with self.db.session() as session:
                self.record(session, item, outcome)
        except Exception:
            log.exception("webhook delivery %s: recording failed; it will be retried", item.id)

    def record(self, session: Session, item: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, object] = {
            "last_attempt_at": now,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.ok:
            values |= {"status": DELIVERED, "delivered_at": now}
        elif item.attempt >= self.settings.webhook_max_attempts:
            values |= {"status": FAILED}
        else:
            values["next_attempt_at"] = now + timedelta(
                seconds=backoff(self.settings, item.attempt)
            )
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == item.id, WebhookDelivery.status == PENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if outcome.ok:
            session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id == item.endpoint_id,
                    WebhookEndpoint.failing_since.is_not(None),
                )
                .values(failing_since=None)
                .execution_options(synchronize_session=False)
            )
        else:
            self._failing(session, item.endpoint_id, now)

    def _failing(self, session: Session, endpoint_id: str, now: datetime) -> None:
        """Note the failure; disable the endpoint once it has failed for too long."""
        endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None or not endpoint.enabled:
            return
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            return
        failing = (now - endpoint.failing_since).total_seconds()
        if failing < self.settings.webhook_disable_after_seconds:
            return
        endpoint.enabled = False
        endpoint.disabled_reason = f"every delivery failed for {failing:.0f} s"
        audit.record(
            session,
            Actor.system(endpoint.tenant),
            "webhook.disabled",
            "webhook",
            endpoint.id,
            {"reason": endpoint.disabled_reason},
        )


def start_dispatcher(db: Database, settings: Settings) -> tuple[Dispatcher, Periodic]:
    """The dispatcher and its thread (every ``SFD_WEBHOOK_POLL_SECONDS``), started."""
    dispatcher = Dispatcher(db, settings)
    thread = Periodic("sfd-webhooks", dispatcher.run, settings.webhook_poll_seconds)
    thread.start()
    return dispatcher, thread

"""Talking to the broker outside of tasks: wake a worker, count waiting messages, ping."""

from __future__ import annotations

from celery import Celery
from kombu import Connection

RUN_JOB = "sfd.run_job"
PING_TIMEOUT_SECONDS = 2.0


def wake(app: Celery, job_id: str, queue: str) -> None:
    """Publish a wake-up for ``job_id`` (the row decides whether it still needs a worker)."""
    app.send_task(RUN_JOB, args=[job_id], queue=queue)


def queue_depth(app: Celery, queue: str) -> int:
    """Messages waiting in ``queue`` (not counting those a worker has taken)."""
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=PING_TIMEOUT_SECONDS)
        return conn.default_channel.queue_declare(queue=queue, durable=True).message_count


def ping(url: str) -> None:
    """Raise if the broker at ``url`` cannot be reached."""
    with Connection(url, connect_timeout=PING_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=PING_TIMEOUT_SECONDS)

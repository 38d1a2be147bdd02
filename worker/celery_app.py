"""The Celery application (``celery -A worker.celery_app``; ``sfd worker`` runs it).

The PostgreSQL job row is the source of truth; a message only wakes a worker, which claims the
row with a conditional UPDATE (:func:`worker.execute.execute_job`), so a duplicate or late
delivery is harmless. docs/DEPLOY.md explains each setting below.
"""

from __future__ import annotations

from celery import Celery

from domain.settings import Settings

# Redis re-delivers an unacknowledged message after the visibility timeout. It is set past the
# hard time limit so that only a message whose worker really vanished comes back (a running
# job's message never does); the reaper, not Redis, is what brings a lost job back quickly.
VISIBILITY_MARGIN_SECONDS = 600


def soft_time_limit(hard: int) -> int:
    """The soft limit (the job fails with a clear error) comes a little before the hard kill."""
    return hard - min(300, hard // 10)


def create_celery(settings: Settings) -> Celery:
    hard = settings.job_time_limit_seconds
    app = Celery("sfd", broker=settings.broker_url, include=["worker.tasks", "worker.advert"])
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=hard,
        task_soft_time_limit=soft_time_limit(hard),
        broker_transport_options={
            "visibility_timeout": hard + VISIBILITY_MARGIN_SECONDS,
            "socket_connect_timeout": 5,
        },
        task_ignore_result=True,
        # A broker outage must not stop training: the lease lives in PostgreSQL.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # The API publishes after committing the job row; if the broker is down it gives up
        # fast and the reaper publishes later.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        # Pool processes import torch and the engine before saying they are up.
        worker_proc_alive_timeout=300,
    )
    return app


settings = Settings()
app = create_celery(settings)

"""The FastAPI application factory (``uvicorn --factory api.app:create_app``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api import dashboard, problems
from api.middleware import BodyLimitMiddleware, NulGuardMiddleware, RequestIdMiddleware
from api.routes import (
    api_keys,
    artifacts,
    audit,
    certificates,
    health,
    jobs,
    models,
    signing_keys,
    webhooks,
    workers,
)
from api.routes.metrics import install as install_metrics
from domain.api_keys import service as api_key_service
from domain.audit.anchoring import open_anchoring
from domain.audit.refusals import RefusalLog
from domain.base_models import service as model_service
from domain.db import Database
from domain.migrate import upgrade
from domain.quotas.ratelimit import RateLimiter
from domain.retention.sweeper import start_sweeper
from domain.settings import Settings
from domain.storage import open_storage
from domain.webhooks.dispatch import start_dispatcher
from worker.runner import create_runner
from worker.threads import use_threads

log = logging.getLogger(__name__)


def prepare(settings: Settings, db: Database, admin_key_source: str = "SFD_ADMIN_API_KEY") -> None:
    """Migrate (if enabled), bootstrap the admin key, describe the bundled models."""
    if settings.auto_migrate:
        upgrade(settings.resolved_database_url)
    for attempt in range(2):
        try:
            with db.session() as session:
                if settings.admin_api_key is not None:
                    api_key_service.ensure_bootstrap_admin(
                        session,
                        settings.admin_api_key.get_secret_value(),
                        settings.admin_tenant,
                        source=admin_key_source,
                    )
                model_service.ensure_bundled(session)
            return
        except IntegrityError:  # a replica starting at the same time made the rows first
            if attempt:
                raise


def create_app(
    settings: Settings | None = None, admin_key_source: str = "SFD_ADMIN_API_KEY"
) -> FastAPI:
    """The app; ``admin_key_source`` names where the admin key came from (its label)."""
    settings = settings or Settings()
    # The API validates requests with the engine (torch); jobs need the cores, not the API.
    use_threads(1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.resolved_database_url,
            settings.database_pool_size,
            settings.database_max_overflow,
        )
        storage = open_storage(settings)
        await run_in_threadpool(storage.ensure)
        await run_in_threadpool(prepare, settings, db, admin_key_source)
        anchoring = open_anchoring(settings, db, storage)
        await run_in_threadpool(anchoring.start)
        runner = create_runner(settings, db)
        runner.start()
        sweeper = start_sweeper(db, storage, settings)
        dispatcher, dispatching = start_dispatcher(db, settings)
        app.state.settings, app.state.db = settings, db
        app.state.storage, app.state.runner = storage, runner
        app.state.anchoring = anchoring
        app.state.limiter = RateLimiter.from_settings(settings)
        app.state.refusals = RefusalLog(db, settings.admin_tenant)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.refusals.flush)
            await run_in_threadpool(dispatching.close)
            await run_in_threadpool(dispatcher.close)
            if sweeper is not None:
                await run_in_threadpool(sweeper.close)
            await run_in_threadpool(runner.close)
            await run_in_threadpool(anchoring.close)
            db.dispose()

    app = FastAPI(
        title="sfd-unlearn",
        version="0.1.0",
        summary="Unlearning-as-a-service for diffusion models (Score Forgetting Distillation).",
        lifespan=lifespan,
    )
    problems.install(app)
    routers = (
        health,
        models,
        jobs,
        artifacts,
        certificates,
        api_keys,
        audit,
        signing_keys,
        webhooks,
        workers,
    )
    for router in routers:
        app.include_router(router.router)
    install_metrics(app)
    dashboard.mount(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        upload_path="/v1/models",
    )
    app.add_middleware(NulGuardMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app

"""``GET /metrics``: Prometheus text format (unauthenticated, like ``/healthz``: keep it on the
internal network)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.metrics import HttpLatencyMiddleware, ServiceCollector, http_histogram

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Serve ``/metrics`` and time every request (one registry per app)."""
    registry = CollectorRegistry()
    registry.register(ServiceCollector(app))
    app.state.metrics = registry
    app.add_middleware(HttpLatencyMiddleware, histogram=http_histogram(registry))
    app.include_router(router)

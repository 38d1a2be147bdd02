"""Prometheus metrics: HTTP latencies measured by a middleware, and job, queue and worker
figures read from the job table and the broker at scrape time (workers run elsewhere, so the
database is where their work is visible)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.jobs import stats

log = logging.getLogger(__name__)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)


def http_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "sfd_http_request_duration_seconds",
        "HTTP request latency (to the end of the body, so streams count whole).",
        ["method", "route", "status"],
        buckets=HTTP_BUCKETS,
        registry=registry,
    )


class HttpLatencyMiddleware:
    """Times every request, labelled by route template (never the raw path: ids would explode
    the label set)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.histogram.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


class ServiceCollector(Collector):
    """Jobs by state, run-time histograms, worker heartbeats and (Celery) the broker queue."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        with state.db.sessions() as session:
            counts = stats.jobs_by_state(session)
            runs = stats.durations(session, JOB_BUCKETS)
            beats = stats.worker_heartbeats(session, state.settings.lease_seconds)
        jobs = GaugeMetricFamily("sfd_jobs", "Jobs by state.", labels=["state"])
        for name, count in counts.items():
            jobs.add_metric([name], count)
        yield jobs
        histogram = HistogramMetricFamily(
            "sfd_job_duration_seconds",
            "Run time of finished jobs (last attempt), by end state.",
            labels=["state"],
        )
        for name, run in runs.items():
            buckets = [(str(bound), count) for bound, count in run.buckets]
            histogram.add_metric([name], [*buckets, ("+Inf", run.count)], run.total_seconds)
        yield histogram
        heartbeat = GaugeMetricFamily(
            "sfd_worker_last_heartbeat_timestamp_seconds",
            "Unix time of each busy worker's last lease renewal.",
            labels=["worker"],
        )
        for worker, at in beats.items():
            heartbeat.add_metric([worker], at.timestamp())
        yield heartbeat
        yield from self._broker(state.runner)

    def _broker(self, runner: object) -> Iterator[Metric]:
        from worker.celery_runner import CeleryRunner  # Celery is loaded only where it is used

        if not isinstance(runner, CeleryRunner):
            return
        up = GaugeMetricFamily("sfd_broker_up", "1 if the broker answered this scrape.")
        try:
            depth = runner.queue_depth()
        except Exception as exc:
            log.warning("metrics: broker unreachable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        queue = GaugeMetricFamily(
            "sfd_queue_depth", "Messages waiting in the broker queue.", labels=["queue"]
        )
        queue.add_metric([runner.queue], depth)
        yield queue

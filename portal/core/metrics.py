"""The portal's own Prometheus metrics, exposed at /metrics."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds", "Request latency per view.", ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("portal_http_requests_total", "Requests per view and status.", ["view", "method", "status"])
TASKS = Counter("portal_celery_tasks_total", "Celery tasks by name and outcome.", ["task", "outcome"])
CACHE_UNAVAILABLE = Counter(
    "portal_cache_unavailable_total", "Shared-cache operations that found Redis unreachable and degraded.", ["op"]
)
INGEST_REJECTIONS = Counter(
    # `org` is the organization's database id, never its slug or name: /metrics may be public.
    "portal_ingest_rejections_total", "Telemetry rejected at ingest, per org (database id) and reason.",
    ["org", "signal", "reason"],
)


def registry() -> CollectorRegistry:
    """What /metrics (and a Celery worker's metrics port) serve. With PROMETHEUS_MULTIPROC_DIR set, as
    deploy/gunicorn.conf.py sets it, every process writes its samples there and a scrape sums all of them:
    otherwise each scrape would see whichever gunicorn worker (or prefork child) answered it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged
    return REGISTRY

"""The portal's own Prometheus metrics, exposed at /metrics."""

from prometheus_client import Counter, Histogram

REQUEST_LATENCY = Histogram(
    "portal_http_request_duration_seconds", "Request latency per view.", ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("portal_http_requests_total", "Requests per view and status.", ["view", "method", "status"])
TASKS = Counter("portal_celery_tasks_total", "Celery tasks by name and outcome.", ["task", "outcome"])
INGEST_REJECTIONS = Counter(
    "portal_ingest_rejections_total", "Telemetry rejected at ingest, per org and reason.", ["org", "signal", "reason"]
)

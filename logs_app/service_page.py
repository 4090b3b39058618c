"""The services list and one service's page (docs/services.md): the store's per-service aggregates
(logs_app/store/service_stats.py) plus what other backends know about the service: its recent error logs,
its active alerts (Alertmanager, already filtered to the org by the client) and its metrics-based request
rate (Prometheus, through the org-enforced federation path), and links to its dashboards.

Every function takes the org; a service the org never sent a span or log record of is a 404, the same answer
another org's service gets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from logs_app import performance
from logs_app.store.service_stats import Latency
from portal.errors import ServiceError
from portal.tenancy.models import Organization

SERIES_BUCKETS = 60
TOP_ENDPOINTS = 10
SLOWEST_OPERATIONS = 10
TRACE_ROWS = 10
ERROR_LOGS = 20
# Labels an alert names its service with (rules, exporters and OTel-derived metrics differ).
SERVICE_LABELS = ("service", "service_name")
OVERVIEW_DASHBOARDS = ("platform-overview", "performance")

Window = performance.Window


def services(org: Organization, window: Window) -> dict[str, Any]:
    """Every service that served a request in the window, with its headline numbers, by name."""
    rows = performance.stats().services(org, window.start, window.end)
    return {"start": _iso(window.start), "end": _iso(window.end),
            "services": [{"service": name, **lat.as_dict(window.seconds)} for name, lat in rows]}


def require_service(org: Organization, service: str) -> None:
    """404 unless the org has sent a span or log record of `service` (another org's is the same 404)."""
    if not service or len(service) > 256 or not performance.stats().exists(org, service):
        raise ServiceError(404, "not_found", "No such service in your organization.")


def summary(org: Organization, service: str, window: Window, buckets: int = SERIES_BUCKETS) -> dict[str, Any]:
    """Everything the service page shows, for one window."""
    require_service(org, service)
    st = performance.stats()
    start, end, seconds = window.start, window.end, window.seconds
    step_us, series = st.series(org, service, start, end, buckets)
    step_s = step_us / 1_000_000
    return {
        "service": service, "start": _iso(start), "end": _iso(end), "step_seconds": step_s,
        "totals": st.totals(org, service, start, end).as_dict(seconds),
        "series": [{"start": _iso(t), **lat.as_dict(step_s)} for t, lat in series],
        "endpoints": [{"endpoint": ep, **lat.as_dict(seconds)}
                      for _, ep, lat in st.endpoints(org, start, end, service=service, limit=TOP_ENDPOINTS)],
        "operations": [{"name": name, **lat.as_dict(seconds)}
                       for name, lat in st.operations(org, service, start, end, SLOWEST_OPERATIONS)],
        "slowest_traces": [r.as_dict() for r in st.requests(org, service, start, end, failed=False,
                                                            limit=TRACE_ROWS)],
        "failed_traces": [r.as_dict() for r in st.requests(org, service, start, end, failed=True,
                                                           limit=TRACE_ROWS)],
        "error_logs": error_logs(org, service, window),
        "alerts": alerts(org, service),
        "dashboards": dashboards(org, service),
        "metrics": metrics_request_rate(org, service, window, step_s),
    }


def error_logs(org: Organization, service: str, window: Window) -> list[dict[str, Any]]:
    from logs_app.record_json import log_json
    from logs_app.store import get_store

    page = get_store().search(org, f"service={_quoted(service)} level>=error", window.start, window.end,
                              limit=ERROR_LOGS)
    return [log_json(r) for r in page.records]


def alerts(org: Organization, service: str) -> dict[str, Any]:
    """The org's active alerts labelled with this service; Alertmanager being down is shown, not fatal."""
    from alerts_app.services import active_alerts

    try:
        found = active_alerts(org)
    except ServiceError as e:
        return {"available": False, "message": e.message, "alerts": []}
    mine = [a for a in found if any(a.get("labels", {}).get(k) == service for k in SERVICE_LABELS)]
    return {"available": True, "message": "", "alerts": [
        {"name": a.get("labels", {}).get("alertname", ""), "severity": a.get("labels", {}).get("severity", ""),
         "state": (a.get("status") or {}).get("state", ""), "starts_at": a.get("startsAt", ""),
         "summary": (a.get("annotations") or {}).get("summary", ""), "labels": a.get("labels", {})}
        for a in mine]}


def dashboards(org: Organization, service: str) -> list[dict[str, str]]:
    """The service's own built-in dashboard (built-ins are per service, slug = service name), then the
    overview ones, filtered to the service where they have a service variable."""
    from dashboards_app import builtin

    out = []
    doc = builtin.get(service)
    if doc is not None:
        out.append({"title": doc["title"], "url": f"/o/{org.slug}/dashboards/builtin/{quote(service)}/"})
    for slug in OVERVIEW_DASHBOARDS:
        other = builtin.get(slug)
        if other is None:
            continue
        has_var = any(v.get("name") == "service" for v in other.get("variables", []))
        query = f"?var-service={quote(service)}" if has_var else ""
        out.append({"title": other["title"], "url": f"/o/{org.slug}/dashboards/builtin/{slug}/{query}"})
    return out


def metrics_request_rate(org: Organization, service: str, window: Window, step_seconds: float) -> dict[str, Any]:
    """The service's request rate from metrics over the window where the org has such series: the
    OpenTelemetry HTTP server histogram's count (`service_name`), else a classic `http_requests_total`
    (`service`); no metrics backend, or no series, is an empty answer with a note."""
    from metrics_app import federation

    name = _promql_string(service)
    promql = (f'sum(rate(http_server_request_duration_seconds_count{{service_name="{name}"}}[5m])) '
              f'or sum(rate(http_requests_total{{service="{name}"}}[5m]))')
    try:
        data = federation.query_range(org, promql, window.start.timestamp(), window.end.timestamp(),
                                      max(15.0, round(step_seconds, 3)))
    except ServiceError as e:
        return {"query": promql, "available": False, "message": e.message, "points": []}
    result = data.get("result") or []
    points = [[float(t), float(v)] for t, v in result[0].get("values", [])] if result else []
    return {"query": promql, "available": True, "message": "" if points else "No request metrics for this service.",
            "points": points}


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _promql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _iso(t: datetime) -> str:
    return t.isoformat()


__all__ = ["Latency", "alerts", "dashboards", "error_logs", "metrics_request_rate", "require_service", "services",
           "summary"]

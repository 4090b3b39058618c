"""The built-in platform dashboards, provisioned from code: read-only, identical for every org, cloneable.

They live in code (not in an org's rows) because they belong to no org: each org sees them through
federation, which narrows every query to that org; staff see them for the whole platform. The metric
names are those of the platform's services (and of the demo workload in dashboards_app/demo/).
"""

from __future__ import annotations

import copy
from typing import Any

from dashboards_app import spec

RI = "$__rate_interval"


def _p(ptype: str, title: str, targets: list[tuple[str, str]], x: int, y: int, w: int = 12, h: int = 8,
       **extra: Any) -> dict[str, Any]:
    return {"type": ptype, "title": title, "targets": [{"expr": e, "legend": lg} for e, lg in targets],
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}


def _q(quantile: float, metric: str, by: str = "le", sel: str = "") -> str:
    return f"histogram_quantile({quantile}, sum by ({by}) (rate({metric}_bucket{sel}[{RI}])))"


_GREEN_RED = [{"value": None, "color": "red"}, {"value": 1, "color": "green"}]

PLATFORM_OVERVIEW: dict[str, Any] = {
    "title": "Platform Overview",
    "description": "Health, traffic, latency, errors and resource use of every platform service.",
    "tags": ["builtin", "platform"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("stat", "Health status per service", [("min by (service) (up{service!=\"\"})", "{{service}}")],
           0, 0, 24, 4, thresholds=_GREEN_RED, options={"reduce": "last", "mapping": {"1": "UP", "0": "DOWN"}}),
        _p("timeseries", "Request rate", [(f"sum by (service) (rate(http_requests_total[{RI}]))", "{{service}}")],
           0, 4, unit="reqps"),
        _p("timeseries", "Latency p50 / p95 / p99", [
            (_q(0.5, "http_request_duration_seconds"), "p50"),
            (_q(0.95, "http_request_duration_seconds"), "p95"),
            (_q(0.99, "http_request_duration_seconds"), "p99"),
        ], 12, 4, unit="seconds", thresholds=[{"value": None, "color": "green"}, {"value": 1, "color": "red"}]),
        _p("timeseries", "Error rate", [
            (f"sum by (service) (rate(http_requests_total{{status=~\"5..\"}}[{RI}])) / "
             f"sum by (service) (rate(http_requests_total[{RI}]))", "{{service}}"),
        ], 0, 12, unit="percentunit", thresholds=[{"value": None, "color": "green"}, {"value": 0.05, "color": "red"}]),
        _p("timeseries", "CPU use (cores)", [
            (f"sum by (service) (rate(process_cpu_seconds_total[{RI}]))", "{{service}}"),
        ], 12, 12, unit="short"),
        _p("timeseries", "Memory use", [("sum by (service) (process_resident_memory_bytes)", "{{service}}")],
           0, 20, unit="bytes"),
        _p("gauge", "Memory used of limit", [
            ("sum(process_resident_memory_bytes) / sum(memory_limit_bytes)", "all services"),
        ], 12, 20, unit="percentunit", min=0, max=1, options={"reduce": "last"},
           thresholds=[{"value": None, "color": "green"}, {"value": 0.7, "color": "orange"},
                       {"value": 0.9, "color": "red"}]),
    ],
}

API_ROUTER: dict[str, Any] = {
    "title": "API Router",
    "description": "Requests by route and by selected model, routing latency, upstream errors, model share.",
    "tags": ["builtin", "api-router"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "variables": [{"name": "model", "type": "query", "label": "Model", "multi": True, "includeAll": True,
                   "query": "label_values(router_requests_total, model)", "current": "$__all"}],
    "panels": [
        _p("timeseries", "Requests by route", [
            (f"sum by (route) (rate(http_requests_total{{service=\"api-router\"}}[{RI}]))", "{{route}}"),
        ], 0, 0, unit="reqps"),
        _p("timeseries", "Requests by model", [
            (f"sum by (model) (rate(router_requests_total{{model=~\"$model\"}}[{RI}]))", "{{model}}"),
        ], 12, 0, unit="reqps"),
        _p("timeseries", "Routing latency", [
            (_q(0.5, "router_routing_duration_seconds"), "p50"),
            (_q(0.95, "router_routing_duration_seconds"), "p95"),
        ], 0, 8, unit="seconds"),
        _p("timeseries", "Upstream errors", [
            (f"sum by (model, reason) (rate(router_upstream_errors_total{{model=~\"$model\"}}[{RI}]))",
             "{{model}} {{reason}}"),
        ], 12, 8, unit="reqps"),
        _p("bar", "Model selection share", [
            (f"sum by (model) (rate(router_requests_total[{RI}])) / ignoring (model) group_left "
             f"sum(rate(router_requests_total[{RI}]))", "{{model}}"),
        ], 0, 16, 24, 8, unit="percentunit"),
    ],
}

USER_ORG: dict[str, Any] = {
    "title": "User-Org Service",
    "description": "Logins, authentication failures, active users, user management operations, tokens issued.",
    "tags": ["builtin", "user-org-service"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("timeseries", "Logins", [(f"sum by (result) (rate(auth_logins_total[{RI}]))", "{{result}}")],
           0, 0, unit="ops"),
        _p("timeseries", "Authentication failures", [
            (f"sum by (reason) (rate(auth_failures_total[{RI}]))", "{{reason}}"),
        ], 12, 0, unit="ops", thresholds=[{"value": None, "color": "green"}, {"value": 1, "color": "red"}]),
        _p("stat", "Active users", [("sum(active_users)", "active users")], 0, 8, 6, 6, unit="short",
           options={"reduce": "last"}),
        _p("stat", "Tokens issued (range)", [("sum(increase(tokens_issued_total[$__range]))", "tokens")],
           6, 8, 6, 6, unit="short", options={"reduce": "last"}),
        _p("timeseries", "User management operations", [
            (f"sum by (operation) (rate(user_management_operations_total[{RI}]))", "{{operation}}"),
        ], 12, 8, unit="ops"),
        _p("timeseries", "Tokens issued", [(f"sum by (kind) (rate(tokens_issued_total[{RI}]))", "{{kind}}")],
           0, 14, 24, 8, unit="ops"),
    ],
}

ANALYTICS: dict[str, Any] = {
    "title": "Analytics Service",
    "description": "Usage events processed, rollup duration and lag, queue depth.",
    "tags": ["builtin", "analytics-service"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("timeseries", "Usage events processed", [
            (f"sum by (event_type) (rate(usage_events_processed_total[{RI}]))", "{{event_type}}"),
        ], 0, 0, unit="ops"),
        _p("timeseries", "Rollup duration", [
            (_q(0.5, "rollup_duration_seconds"), "p50"), (_q(0.95, "rollup_duration_seconds"), "p95"),
        ], 12, 0, unit="seconds"),
        _p("stat", "Rollup lag", [("max(rollup_lag_seconds)", "lag")], 0, 8, 6, 6, unit="seconds",
           options={"reduce": "last"}, thresholds=[{"value": None, "color": "green"}, {"value": 60, "color": "orange"},
                                                   {"value": 300, "color": "red"}]),
        _p("timeseries", "Rollup lag over time", [("max(rollup_lag_seconds)", "lag")], 6, 8, 18, 6, unit="seconds"),
        _p("timeseries", "Queue depth", [("sum by (queue) (queue_depth)", "{{queue}}")], 0, 14, 24, 8,
           unit="short"),
    ],
}

PERFORMANCE: dict[str, Any] = {
    "title": "Performance",
    "description": "Latency per endpoint, throughput, slowest endpoints and top error endpoints.",
    "tags": ["builtin", "performance"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "variables": [{"name": "service", "type": "query", "label": "Service", "includeAll": True, "multi": True,
                   "query": "label_values(http_requests_total, service)", "current": "$__all"}],
    "panels": [
        _p("timeseries", "p50 per endpoint", [
            (_q(0.5, "http_request_duration_seconds", "le, route", '{service=~"$service"}'), "{{route}}"),
        ], 0, 0, 8, 8, unit="seconds"),
        _p("timeseries", "p95 per endpoint", [
            (_q(0.95, "http_request_duration_seconds", "le, route", '{service=~"$service"}'), "{{route}}"),
        ], 8, 0, 8, 8, unit="seconds"),
        _p("timeseries", "p99 per endpoint", [
            (_q(0.99, "http_request_duration_seconds", "le, route", '{service=~"$service"}'), "{{route}}"),
        ], 16, 0, 8, 8, unit="seconds"),
        _p("timeseries", "Throughput", [
            (f"sum by (service) (rate(http_requests_total{{service=~\"$service\"}}[{RI}]))", "{{service}}"),
        ], 0, 8, unit="reqps"),
        _p("heatmap", "Latency distribution", [
            (f"sum by (le) (rate(http_request_duration_seconds_bucket{{service=~\"$service\"}}[{RI}]))", "{{le}}"),
        ], 12, 8, unit="seconds"),
        _p("table", "Slowest endpoints (p95)", [
            ("topk(10, histogram_quantile(0.95, sum by (le, service, route) "
             "(rate(http_request_duration_seconds_bucket{service=~\"$service\"}[5m]))))", "p95"),
        ], 0, 16, unit="seconds"),
        _p("table", "Top error endpoints", [
            ("topk(10, sum by (service, route) (rate(http_requests_total{service=~\"$service\",status=~\"5..\"}[5m])))",
             "errors/s"),
        ], 12, 16, unit="reqps"),
    ],
}

_7D, _30D = 7 * 86400, 30 * 86400
CAPACITY: dict[str, Any] = {
    "title": "Capacity planning",
    "description": "Resource trends with predict_linear forecasts over 7 and 30 days, headroom per service.",
    "tags": ["builtin", "capacity"],
    "time": {"from": "now-6h", "to": "now"},
    "refresh": "1m",
    "panels": [
        _p("timeseries", "Memory: now and forecast", [
            ("sum by (service) (process_resident_memory_bytes)", "{{service}} now"),
            (f"sum by (service) (predict_linear(process_resident_memory_bytes[1h], {_7D}))", "{{service}} +7d"),
            (f"sum by (service) (predict_linear(process_resident_memory_bytes[1h], {_30D}))", "{{service}} +30d"),
        ], 0, 0, unit="bytes"),
        _p("timeseries", "Disk: now and forecast", [
            ("sum by (service) (disk_used_bytes)", "{{service}} now"),
            (f"sum by (service) (predict_linear(disk_used_bytes[1h], {_7D}))", "{{service}} +7d"),
            (f"sum by (service) (predict_linear(disk_used_bytes[1h], {_30D}))", "{{service}} +30d"),
        ], 12, 0, unit="bytes"),
        _p("timeseries", "CPU: now and forecast (cores)", [
            ("sum by (service) (rate(process_cpu_seconds_total[5m]))", "{{service}} now"),
            (f"predict_linear(sum by (service) (rate(process_cpu_seconds_total[5m]))[1h:5s], {_7D})",
             "{{service}} +7d"),
            (f"predict_linear(sum by (service) (rate(process_cpu_seconds_total[5m]))[1h:5s], {_30D})",
             "{{service}} +30d"),
        ], 0, 8, unit="short"),
        _p("table", "Headroom per service", [
            ("1 - sum by (service) (process_resident_memory_bytes) / sum by (service) (memory_limit_bytes)",
             "memory"),
            ("1 - sum by (service) (disk_used_bytes) / sum by (service) (disk_total_bytes)", "disk"),
            ("1 - sum by (service) (rate(process_cpu_seconds_total[5m])) / sum by (service) (cpu_limit_cores)", "cpu"),
        ], 12, 8, unit="percentunit",
           thresholds=[{"value": None, "color": "red"}, {"value": 0.2, "color": "orange"},
                       {"value": 0.4, "color": "green"}]),
        _p("bar", "Days until disk full (30d trend)", [
            ("sum by (service) (disk_total_bytes - disk_used_bytes) / "
             "clamp_min(sum by (service) (deriv(disk_used_bytes[1h])), 1e-9) / 86400", "{{service}}"),
        ], 0, 16, 24, 7, unit="short", decimals=0),
    ],
}

BUILTINS: dict[str, dict[str, Any]] = {
    "platform-overview": PLATFORM_OVERVIEW,
    "api-router": API_ROUTER,
    "user-org-service": USER_ORG,
    "analytics-service": ANALYTICS,
    "performance": PERFORMANCE,
    "capacity-planning": CAPACITY,
}

# Normalized once at import: a broken built-in fails loudly at startup, not on a user's first view.
_NORMALIZED = {slug: spec.normalize(doc) for slug, doc in BUILTINS.items()}


def get(slug: str) -> dict[str, Any] | None:
    doc = _NORMALIZED.get(slug)
    return copy.deepcopy(doc) if doc is not None else None


def all_builtins() -> list[tuple[str, dict[str, Any]]]:
    return [(slug, copy.deepcopy(doc)) for slug, doc in _NORMALIZED.items()]

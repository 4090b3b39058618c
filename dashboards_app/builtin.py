"""The built-in platform dashboards, provisioned from code: read-only, identical for every org, cloneable.

They live in code (not in an org's rows) because they belong to no org. They read the shared
deployment's series (dashboards_app/demo/ simulates it; docs/dashboards.md "The demo deployment"):

- per-request series carry the calling org's label, so federation narrows them to the viewer's org
  ("your traffic"); staff see them for the whole platform, and the `by (…, $__org_label)` panels then break
  the platform down per org;
- instance series (`up`, CPU, memory, disk, analytics internals) carry no org label: an org reads them
  only through the `platform:*` recording rules (metrics_app.platform_series), the shared deployment's
  health that every tenant may see.
"""

from __future__ import annotations

import copy
from typing import Any

from dashboards_app import spec
from dashboards_app.builtin_ai_usage import AI_USAGE
from dashboards_app.builtin_capacity import CAPACITY

RI = "$__rate_interval"
# The org label of the datasource queried (a macro: the configured name, org_id by default); it only names
# the staff's per-org breakdown here, the org matcher itself is added by federation.
ORG = "$__org_label"
HTTP = "http_server_request_duration_seconds"
FIVE_XX = 'http_response_status_code=~"5.."'


def _p(ptype: str, title: str, targets: list[tuple[str, str]], x: int, y: int, w: int = 12, h: int = 8,
       **extra: Any) -> dict[str, Any]:
    return {"type": ptype, "title": title, "targets": [{"expr": e, "legend": lg} for e, lg in targets],
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}


def _q(quantile: float, metric: str, by: str = "le", sel: str = "", window: str = RI) -> str:
    return f"histogram_quantile({quantile}, sum by ({by}) (rate({metric}_bucket{sel}[{window}])))"


def _sel(*matchers: str) -> str:
    inner = ",".join(m for m in matchers if m)
    return "{" + inner + "}" if inner else ""


def error_share(by: str, sel: str = "", window: str = RI) -> str:
    """5xx share of requests `by` those labels; a group without a single 5xx answers 0, not nothing."""
    five = _sel(FIVE_XX, sel)
    every = _sel(sel)
    return (f"(sum by ({by}) (rate({HTTP}_count{five}[{window}])) or 0 * sum by ({by}) "
            f"(rate({HTTP}_count{every}[{window}]))) / sum by ({by}) (rate({HTTP}_count{every}[{window}]))")


# Platform side of "where is the problem": 1 when any service's platform-wide 5xx share is over 5 % or
# any instance is down.
_PLATFORM_BAD = ("clamp_max(max(platform:service_error_share:ratio_rate5m > bool 0.05) "
                 "+ max(platform:service_up:ratio < bool 1), 1)")
# Org side, per org: 1 when the org's own 5xx share of a service is over 5 % AND over twice the platform's
# share of that service, i.e. the errors concentrate in that org's requests (its models, payloads, keys).
# The org side uses $__rate_interval, not 5m: this runs at every step of the range, and the org's short
# window is what the viewer is looking at anyway.
_ORG_BAD = (f"max by ({ORG}) ({error_share(f'service_name, {ORG}')} > bool on (service_name) "
            "group_left clamp_min(2 * platform:service_error_share:ratio_rate5m, 0.05))")
# 2 = platform, 1 = your traffic, 0 = healthy; one value per org (staff see every org's).
PROBLEM_SIDE = f"2 * {_PLATFORM_BAD} + on () group_right () ((1 - {_PLATFORM_BAD}) * on () group_right () {_ORG_BAD})"
PROBLEM_SIDE_MAPPING = {"0": "healthy", "1": "your traffic", "2": "platform"}

_PCT_GOOD_HIGH = [{"value": None, "color": "red"}, {"value": 0.99, "color": "orange"},
                  {"value": 0.999, "color": "green"}]
_PCT_GOOD_LOW = [{"value": None, "color": "green"}, {"value": 0.7, "color": "orange"}, {"value": 0.9, "color": "red"}]
_ERR_THRESHOLDS = [{"value": None, "color": "green"}, {"value": 0.05, "color": "red"}]
_PLATFORM, _YOURS = {"row": "Platform"}, {"row": "Your traffic"}

PLATFORM_OVERVIEW: dict[str, Any] = {
    "title": "Platform Overview",
    "description": "The shared platform's health (availability, saturation, error share, latency per service) "
                   "beside your own traffic, errors and latency, and which side a problem is on.",
    "tags": ["builtin", "platform"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("stat", "Availability", [("platform:service_up:ratio", "{{service_name}}")],
           0, 0, 10, 4, unit="percentunit", decimals=1, thresholds=_PCT_GOOD_HIGH,
           options={"reduce": "last", **_PLATFORM},
           description="Share of each service's instances that are up (platform:service_up:ratio)."),
        _p("stat", "Where is the problem?", [(PROBLEM_SIDE, f"{{{{{ORG}}}}}")], 10, 0, 6, 4,
           thresholds=[{"value": None, "color": "green"}, {"value": 1, "color": "orange"},
                       {"value": 2, "color": "red"}],
           options={"reduce": "last", "mapping": PROBLEM_SIDE_MAPPING},
           description="platform: a service's platform-wide 5xx share is over 5 % or an instance is down. "
                       "your traffic: your own 5xx share of a service is over 5 % and over twice the "
                       "platform's, so the errors concentrate in your requests. healthy: neither."),
        _p("stat", "5xx share: you vs platform", [
            (f"({error_share(ORG)})", f"{{{{{ORG}}}}}"),
            ("sum(platform:service_error_share:ratio_rate5m * platform:service_request_rate:rate5m) "
             "/ sum(platform:service_request_rate:rate5m)", "platform"),
        ], 16, 0, 8, 4, unit="percentunit", decimals=2, thresholds=_ERR_THRESHOLDS, options={"reduce": "last"}),
        _p("timeseries", "5xx share per service",
           [("platform:service_error_share:ratio_rate5m", "{{service_name}}")], 0, 4, 8, 8,
           unit="percentunit", thresholds=_ERR_THRESHOLDS, options=_PLATFORM),
        _p("timeseries", "Latency p95 per service",
           [("platform:service_latency_p95:seconds_rate5m", "{{service_name}}")], 8, 4, 8, 8,
           unit="seconds", options=_PLATFORM),
        _p("table", "Saturation (used / limit)", [
            ("platform:service_cpu_saturation:ratio", "cpu"),
            ("platform:service_memory_saturation:ratio", "memory"),
            ("platform:service_disk_saturation:ratio", "disk"),
        ], 16, 4, 8, 8, unit="percentunit", thresholds=_PCT_GOOD_LOW, options=_PLATFORM,
           description="Used / limit per service: CPU cores, resident memory, filesystem."),
        _p("timeseries", "Requests per service", [
            (f"sum by (service_name, {ORG}) (rate({HTTP}_count[{RI}]))", f"{{{{service_name}}}} · {{{{{ORG}}}}}"),
        ], 0, 12, 8, 8, unit="reqps", options=_YOURS),
        _p("timeseries", "5xx share by service", [
            (error_share(f"service_name, {ORG}"), f"{{{{service_name}}}} · {{{{{ORG}}}}}"),
        ], 8, 12, 8, 8, unit="percentunit", thresholds=_ERR_THRESHOLDS, options=_YOURS),
        _p("timeseries", "p95 latency by service", [
            (_q(0.95, HTTP, f"le, service_name, {ORG}"), f"{{{{service_name}}}} · {{{{{ORG}}}}}"),
        ], 16, 12, 8, 8, unit="seconds", thresholds=[{"value": None, "color": "green"}, {"value": 5, "color": "red"}],
           options=_YOURS),
    ],
}

_ROUTER = 'service_name="api-router"'
API_ROUTER: dict[str, Any] = {
    "title": "API Router",
    "description": "Your requests through the router: by route, by model, status, routing latency, upstream "
                   "errors, model share; and the platform's error share per model.",
    "tags": ["builtin", "api-router"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "variables": [{"name": "model", "type": "query", "label": "Model", "multi": True, "includeAll": True,
                   "query": "label_values(router_requests_total, model)", "current": "$__all"}],
    "panels": [
        _p("timeseries", "Requests by route", [
            (f"sum by (http_route) (rate({HTTP}_count{{{_ROUTER}}}[{RI}]))", "{{http_route}}"),
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
        ], 0, 16, 8, 8, unit="percentunit"),
        _p("timeseries", "Responses by status", [
            (f"sum by (http_response_status_code) (rate({HTTP}_count{{{_ROUTER}}}[{RI}]))",
             "{{http_response_status_code}}"),
        ], 8, 16, 8, 8, unit="reqps"),
        _p("timeseries", "Platform error share per model", [
            ('platform:gen_ai_model_error_share:ratio_rate5m{gen_ai_request_model=~"$model"}',
             "{{gen_ai_request_model}}"),
        ], 16, 16, 8, 8, unit="percentunit", thresholds=_ERR_THRESHOLDS, options=_PLATFORM),
    ],
}

_UOS = 'service_name="user-org-service"'
USER_ORG: dict[str, Any] = {
    "title": "User-Org Service",
    "description": "Your logins, authentication failures, active users, user management operations, tokens "
                   "issued, and your requests to the service.",
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
           6, 8, 6, 6, unit="short", decimals=0, options={"reduce": "last"}),
        _p("timeseries", "User management operations", [
            (f"sum by (operation) (rate(user_management_operations_total[{RI}]))", "{{operation}}"),
        ], 12, 8, unit="ops"),
        _p("timeseries", "Tokens issued", [(f"sum by (kind) (rate(tokens_issued_total[{RI}]))", "{{kind}}")],
           0, 14, 12, 8, unit="ops"),
        _p("timeseries", "Requests by route (p95 latency)", [
            (_q(0.95, HTTP, "le, http_route", f"{{{_UOS}}}"), "{{http_route}}"),
        ], 12, 16, 12, 8, unit="seconds"),
    ],
}

_ANA = 'service_name="analytics-service"'
ANALYTICS: dict[str, Any] = {
    "title": "Analytics Service",
    "description": "Your usage events processed and requests; the platform pipeline's rollup lag and queues.",
    "tags": ["builtin", "analytics-service"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("timeseries", "Usage events processed", [
            (f"sum by (event_type) (rate(usage_events_processed_total[{RI}]))", "{{event_type}}"),
        ], 0, 0, unit="ops"),
        _p("timeseries", "Requests by route", [
            (f"sum by (http_route) (rate({HTTP}_count{{{_ANA}}}[{RI}]))", "{{http_route}}"),
        ], 12, 0, unit="reqps"),
        _p("stat", "Rollup lag (platform)", [("platform:analytics_rollup_lag:max_seconds", "lag")], 0, 8, 6, 6,
           unit="seconds", options={"reduce": "last", **_PLATFORM},
           thresholds=[{"value": None, "color": "green"}, {"value": 60, "color": "orange"},
                       {"value": 300, "color": "red"}]),
        _p("timeseries", "Rollup lag over time (platform)", [("platform:analytics_rollup_lag:max_seconds", "lag")],
           6, 8, 18, 6, unit="seconds", options=_PLATFORM),
        _p("timeseries", "Queue depth (platform)", [("platform:analytics_queue_depth:sum", "{{queue}}")],
           0, 14, 12, 8, unit="short", options=_PLATFORM),
        _p("timeseries", "Latency p95 by route", [
            (_q(0.95, HTTP, "le, http_route", f"{{{_ANA}}}"), "{{http_route}}"),
        ], 12, 14, 12, 8, unit="seconds"),
    ],
}

_SVC = '{service_name=~"$service"}'
_MODEL_TTFT = "gen_ai_server_time_to_first_token_seconds"
PERFORMANCE: dict[str, Any] = {
    "title": "Performance",
    "description": "Your latency per endpoint, throughput, slowest and most failing endpoints, and model "
                   "latency (time to first token) against the platform's.",
    "tags": ["builtin", "performance"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "variables": [{"name": "service", "type": "query", "label": "Service", "includeAll": True, "multi": True,
                   "query": f"label_values({HTTP}_count, service_name)", "current": "$__all"}],
    "panels": [
        _p("timeseries", "p50 per endpoint", [(_q(0.5, HTTP, "le, http_route", _SVC), "{{http_route}}")],
           0, 0, 8, 8, unit="seconds"),
        _p("timeseries", "p95 per endpoint", [(_q(0.95, HTTP, "le, http_route", _SVC), "{{http_route}}")],
           8, 0, 8, 8, unit="seconds"),
        _p("timeseries", "p99 per endpoint", [(_q(0.99, HTTP, "le, http_route", _SVC), "{{http_route}}")],
           16, 0, 8, 8, unit="seconds"),
        _p("timeseries", "Throughput", [
            (f"sum by (service_name) (rate({HTTP}_count{_SVC}[{RI}]))", "{{service_name}}"),
        ], 0, 8, unit="reqps"),
        _p("heatmap", "Latency distribution", [(f"sum by (le) (rate({HTTP}_bucket{_SVC}[{RI}]))", "{{le}}")],
           12, 8, unit="seconds"),
        _p("table", "Slowest endpoints (p95)", [
            (f"topk(10, {_q(0.95, HTTP, 'le, service_name, http_route', _SVC, '5m')})", "p95"),
        ], 0, 16, unit="seconds"),
        _p("table", "Top error endpoints (5xx share)", [
            ("topk(10, " + error_share("service_name, http_route", 'service_name=~"$service"', "5m") + ")",
             "5xx share"),
        ], 12, 16, unit="percentunit", thresholds=_ERR_THRESHOLDS),
        _p("timeseries", "Time to first token p95: you vs platform", [
            (_q(0.95, _MODEL_TTFT, "le, gen_ai_request_model"), "{{gen_ai_request_model}} (you)"),
            ("platform:gen_ai_model_ttft_p95:seconds_rate5m", "{{gen_ai_request_model}} (platform)"),
        ], 0, 24, unit="seconds"),
        _p("timeseries", "Model request duration p95", [
            (_q(0.95, "gen_ai_server_request_duration_seconds", "le, gen_ai_request_model",
                '{error_type=""}'), "{{gen_ai_request_model}}"),
        ], 12, 24, unit="seconds"),
    ],
}

BUILTINS: dict[str, dict[str, Any]] = {
    "platform-overview": PLATFORM_OVERVIEW,
    "api-router": API_ROUTER,
    "user-org-service": USER_ORG,
    "analytics-service": ANALYTICS,
    "performance": PERFORMANCE,
    "ai-usage": AI_USAGE,
    "capacity-planning": CAPACITY,
}

# Normalized once at import: a broken built-in fails loudly at startup, not on a user's first view.
_NORMALIZED = {slug: spec.normalize(doc) for slug, doc in BUILTINS.items()}


def get(slug: str) -> dict[str, Any] | None:
    doc = _NORMALIZED.get(slug)
    return copy.deepcopy(doc) if doc is not None else None


def all_builtins() -> list[tuple[str, dict[str, Any]]]:
    return [(slug, copy.deepcopy(doc)) for slug, doc in _NORMALIZED.items()]

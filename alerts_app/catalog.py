"""Templates for the alert classes users ask for. Each is a small form (params with defaults) that
builds an ordinary rule; nothing about a templated rule is special after it is created."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import Comparator, RuleKind, Severity


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    default: str | float | int


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    category: str
    params: tuple[Param, ...]
    severity: str
    for_duration: str
    summary: str
    kind: str = RuleKind.THRESHOLD
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self, values: dict[str, Any]) -> dict[str, Any]:
        p = {prm.name: values.get(prm.name, prm.default) for prm in self.params}
        rule: dict[str, Any] = {"name": values.get("name") or self.title, "kind": self.kind, "template": self.key,
                                "severity": values.get("severity") or self.severity,
                                "for_duration": values.get("for_duration") or self.for_duration,
                                "annotations": {"summary": self.summary.format(**p),
                                                "description": _DESCRIPTIONS.get(self.key, "").format(**p)},
                                "labels": {}}
        rule.update(_BUILDERS[self.key](p))
        return rule

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "category": self.category, "severity": self.severity,
                "for_duration": self.for_duration, "kind": self.kind,
                "params": [{"name": p.name, "label": p.label, "default": p.default} for p in self.params]}


def _f(v: Any) -> float:
    return float(v)


_BUILDERS: dict[str, Any] = {
    "service_down": lambda p: {"query": f'up{{job="{p["job"]}"}}' if p["job"] else "up",
                               "comparator": Comparator.EQ, "threshold": 0.0},
    "high_error_rate": lambda p: {
        "query": f'sum(rate({p["metric"]}{{{p["status_label"]}=~"5.."}}[{p["window"]}])) '
                 f'/ sum(rate({p["metric"]}[{p["window"]}]))',
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "memory_high": lambda p: {
        "query": "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes",
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "cpu_high": lambda p: {
        "query": '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "disk_high": lambda p: {
        "query": '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes',
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "disk_full_forecast": lambda p: {
        "query": f'predict_linear(node_filesystem_avail_bytes{{fstype!~"tmpfs|overlay"}}[{p["lookback"]}], '
                 f'{int(_f(p["hours"]) * 3600)})',
        "comparator": Comparator.LT, "threshold": 0.0},
    "auth_failures": lambda p: {
        "query": f'sum(rate({p["metric"]}[5m])) * 60', "comparator": Comparator.GT, "threshold": _f(p["per_minute"])},
    "latency_p95": lambda p: {
        "query": f'histogram_quantile(0.95, sum by (le) (rate({p["metric"]}[5m])))',
        "comparator": Comparator.GT, "threshold": _f(p["seconds"])},
    "latency_vs_yesterday": lambda p: {
        "expr": f'histogram_quantile(0.95, sum by (le) (rate({p["metric"]}[5m]))) > {_f(p["factor"])} * '
                f'histogram_quantile(0.95, sum by (le) (rate({p["metric"]}[5m] offset 1d)))'},
    "log_auth_failures": lambda p: {
        "log_query": str(p["search"]), "log_count": int(_f(p["count"])), "log_window_minutes": int(_f(p["minutes"]))},
}

_DESCRIPTIONS = {
    "service_down": "{{{{ $labels.instance }}}} of job {{{{ $labels.job }}}} has been down for the whole `for` period.",
    "high_error_rate": "More than {share} of requests answered 5xx over {window}: "
                       "{{{{ $value | humanizePercentage }}}}.",
    "disk_full_forecast": "At the current rate {{{{ $labels.mountpoint }}}} fills up within {hours} h.",
    "latency_vs_yesterday": "p95 latency is more than {factor}× the same hour yesterday.",
}

TEMPLATES: dict[str, Template] = {t.key: t for t in [
    Template("service_down", "Service down", "availability", (Param("job", "Job", ""),), Severity.CRITICAL, "1m",
             "Service {{{{ $labels.job }}}} is down"),
    Template("high_error_rate", "High error rate", "errors",
             (Param("metric", "Requests counter", "http_requests_total"),
              Param("status_label", "Status label", "status"),
              Param("share", "5xx share above", 0.05), Param("window", "Window", "5m")),
             Severity.WARNING, "5m", "5xx share above {share}"),
    Template("memory_high", "Memory above a share", "resources", (Param("share", "Used share above", 0.9),),
             Severity.WARNING, "5m", "Memory use above {share} on {{{{ $labels.instance }}}}"),
    Template("cpu_high", "CPU above a share", "resources", (Param("share", "Busy share above", 0.9),),
             Severity.WARNING, "10m", "CPU busy above {share} on {{{{ $labels.instance }}}}"),
    Template("disk_high", "Disk above a share", "resources", (Param("share", "Used share above", 0.85),),
             Severity.WARNING, "10m", "Disk use above {share} on {{{{ $labels.instance }}}}"),
    Template("disk_full_forecast", "Disk full forecast", "resources",
             (Param("hours", "Full within (hours)", 24), Param("lookback", "Trend window", "6h")),
             Severity.WARNING, "30m", "Disk {{{{ $labels.mountpoint }}}} predicted full within {hours} h"),
    Template("auth_failures", "Authentication failures per minute", "security",
             (Param("metric", "Failures counter", "auth_failures_total"), Param("per_minute", "Per minute above", 10)),
             Severity.CRITICAL, "2m", "More than {per_minute} authentication failures per minute"),
    Template("log_auth_failures", "auth_failure log records", "security",
             (Param("search", "Log search", "auth_failure"), Param("count", "At least N records", 10),
              Param("minutes", "Within W minutes", 5)),
             Severity.CRITICAL, "0s", "At least {count} log records matching {search} in {minutes} min",
             kind=RuleKind.LOG),
    Template("latency_p95", "p95 latency above a value", "performance",
             (Param("metric", "Histogram", "http_request_duration_seconds_bucket"), Param("seconds", "Seconds", 0.5)),
             Severity.WARNING, "10m", "p95 latency above {seconds}s"),
    Template("latency_vs_yesterday", "p95 latency vs same hour yesterday", "performance",
             (Param("metric", "Histogram", "http_request_duration_seconds_bucket"), Param("factor", "N×", 2)),
             Severity.WARNING, "15m", "p95 latency above {factor}× yesterday", kind=RuleKind.PROMQL),
]}

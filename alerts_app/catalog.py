"""Templates for the alert classes users ask for, written against the series the platform exports
(docs/platform-contract: per-request series carry the calling org's label, instance series carry none).

Two catalogues:

- `TEMPLATES` (tenant): a small form (params with defaults) that builds an ordinary org rule; it is
  validated, org-enforced and synced like any other rule (nothing about it is special once created).
  Every series it names carries the org label, so the enforcer's org matcher keeps it to the org's own
  traffic: token / spend quota forecasts, time to first token and error share per model, error share and
  p95 latency per service, plus the generic service-down / error-rate / latency / auth templates.
- `PLATFORM_TEMPLATES` (staff): alerts on instance series (`up`, process_*, container_*), which carry no
  org label and so cannot be an org's rule. They render into a Prometheus rule file that Prometheus loads
  through its own `rule_files` (`platform_rules_yaml()`; shipped as deploy/prometheus/platform-alerts.yml).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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


_DURATION_RE = re.compile(r"^(?:\d+[dhms])+\Z")
_RE_SAFE = re.compile(r"^[^\n\x00]{1,200}\Z")


def _f(v: Any) -> float:
    return float(v)


def _dur(v: Any) -> str:
    """A range-vector duration (`5m`, `1h30m`); anything else is a 400 from the from-template endpoint."""
    text = str(v)
    if not _DURATION_RE.match(text):
        raise ValueError(f"{text!r} is not a duration like 5m or 6h")
    return text


def _str(v: Any) -> str:
    """A PromQL string literal (JSON escapes are Go escapes), so a parameter cannot end the string early."""
    text = str(v)
    if not _RE_SAFE.match(text):
        raise ValueError("a label value of 1 to 200 characters without newlines is required")
    return json.dumps(text, ensure_ascii=False)


def _matchers(*pairs: tuple[str, str, Any]) -> str:
    """`name op "value"` for each pair whose value is not empty (an empty parameter means "every")."""
    return ",".join(f"{name}{op}{_str(value)}" for name, op, value in pairs if str(value))


def _sel(metric: str, *pairs: tuple[str, str, Any]) -> str:
    return f"{metric}{{{_matchers(*pairs)}}}"


# --- tenant: quota forecasts ------------------------------------------------------------------------
#
# Month-to-date usage is the sum of hourly increases at the subquery's hour-aligned steps whose hour lies
# in the month the rule is evaluated in (`@ end()` pins the quota sample to the evaluation time, so its
# timestamp names the current month inside the subquery). `month(vector(time() - 3600))` is the month of
# the hour a step covers: the 00:00 step on the 1st covers the last hour of the previous month. The
# current, unfinished hour is not counted yet, so the usage is exact to the last full hour.
#
# predict_linear of month-to-date usage over the trend window: the month-start offset of a counter is
# constant over that window, so predict_linear(mtd[w], t) = mtd + (predict_linear(counter[w], t) - counter),
# which is evaluated per series over the trend window only (the 31-day subquery runs once, not per point).

TOKENS = "gen_ai_client_token_usage_sum"


def _month_filter(quota: str) -> str:
    return f"month(vector(time() - 3600)) == on () max(month(timestamp({quota} @ end())))"


def month_to_date(inner: str, quota: str) -> str:
    """Sum of `inner` (a per-hour amount) over the full hours of the month the rule is evaluated in."""
    return f"sum_over_time(({inner} and on () ({_month_filter(quota)}))[31d:1h])"


def _growth(series: str, lookback: str, seconds: int) -> str:
    return f"(predict_linear({series}[{lookback}], {seconds}) - {series})"


def _quota(resource: str) -> str:
    # max, not sum: the quota gauge is exported by every instance of user-org-service.
    return _sel("org_quota_limit", ("resource", "=", resource))


def _token_quota_forecast(p: Mapping[str, Any]) -> dict[str, Any]:
    quota, lookback, seconds = _quota("tokens"), _dur(p["lookback"]), int(_f(p["days"]) * 86400)
    mtd = month_to_date(f"sum(increase({TOKENS}[1h]))", quota)
    growth = f"sum({_growth(TOKENS, lookback, seconds)})"
    return {"query": f"((({mtd}) or vector(0)) + {growth}) / on () max({quota})",
            "comparator": Comparator.GE, "threshold": 1.0}


def _spend(series_for: Callable[[str], str], per_model: Callable[[str], str]) -> str:
    """Spend of both token types: per-model token amounts / 1000 × the staff price per 1k tokens. The
    price vectors stay macros in the stored rule and are expanded when the rule file is rendered, so a
    price change reaches the rule at the next sync or reconcile."""
    parts = [f"sum(sum by (gen_ai_request_model) ({per_model(series_for(t))}) / 1000 "
             f"* on (gen_ai_request_model) group_left $__price_per_1k({t}))" for t in ("input", "output")]
    return f"(({parts[0]}) or vector(0)) + (({parts[1]}) or vector(0))"


def _spend_quota_forecast(p: Mapping[str, Any]) -> dict[str, Any]:
    quota, lookback, seconds = _quota("spend_usd"), _dur(p["lookback"]), int(_f(p["days"]) * 86400)

    def series(token_type: str) -> str:
        return _sel(TOKENS, ("gen_ai_token_type", "=", token_type))

    spend_per_hour = _spend(series, lambda s: f"increase({s}[1h])")
    mtd = month_to_date(f"({spend_per_hour})", quota)
    growth = _spend(series, lambda s: _growth(s, lookback, seconds))
    return {"query": f"((({mtd}) or vector(0)) + {growth}) / on () max({quota})",
            "comparator": Comparator.GE, "threshold": 1.0}


# --- tenant: per-model and per-service -------------------------------------------------------------

def _share(counter: str, bad: tuple[str, str, str], by: str, scope: tuple[str, str, Any], window: str) -> str:
    return (f"sum by ({by}) (rate({_sel(counter, bad, scope)}[{window}])) "
            f"/ sum by ({by}) (rate({_sel(counter, scope)}[{window}]))")


def _p95(bucket: str, by: str, scope: tuple[str, str, Any], window: str) -> str:
    return f"histogram_quantile(0.95, sum by ({by}, le) (rate({_sel(bucket, scope)}[{window}])))"


def _model_query(p: Mapping[str, Any], platform_series: str,
                 own: Callable[[tuple[str, str, Any], str], str]) -> str:
    """scope "org": the org's own requests to the model; "platform": every org's requests together, read
    from the platform series (metrics_app.platform_series), which carries no org label and which every
    org may read: the model's health as the upstream sees it, steadier for an org with little traffic."""
    model = ("gen_ai_request_model", "=", p["model"])
    if p["scope"] == "platform":
        return _sel(platform_series, model)
    if p["scope"] != "org":
        raise ValueError(f"scope must be org or platform, not {p['scope']!r}")
    return own(model, _dur(p["window"]))


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "service_down": lambda p: {"query": _sel("up", ("job", "=", p["job"])) if p["job"] else "up",
                               "comparator": Comparator.EQ, "threshold": 0.0},
    "high_error_rate": lambda p: {
        "query": f'sum(rate({p["metric"]}{{{p["status_label"]}=~"5.."}}[{_dur(p["window"])}])) '
                 f'/ sum(rate({p["metric"]}[{_dur(p["window"])}]))',
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
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
    "token_quota_forecast": _token_quota_forecast,
    "spend_quota_forecast": _spend_quota_forecast,
    "model_ttft_p95": lambda p: {
        "query": _model_query(p, "platform:gen_ai_model_ttft_p95:seconds_rate5m", lambda model, window: _p95(
            "gen_ai_server_time_to_first_token_seconds_bucket", "gen_ai_request_model", model, window)),
        "comparator": Comparator.GT, "threshold": _f(p["seconds"])},
    "model_error_share": lambda p: {
        "query": _model_query(p, "platform:gen_ai_model_error_share:ratio_rate5m", lambda model, window: _share(
            "gen_ai_server_request_duration_seconds_count", ("error_type", "=~", ".+"), "gen_ai_request_model",
            model, window)),
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "service_error_share": lambda p: {
        "query": _share("http_server_request_duration_seconds_count", ("http_response_status_code", "=~", "5.."),
                        "service_name", ("service_name", "=", p["service"]), _dur(p["window"])),
        "comparator": Comparator.GT, "threshold": _f(p["share"])},
    "service_latency_p95": lambda p: {
        "query": _p95("http_server_request_duration_seconds_bucket", "service_name",
                      ("service_name", "=", p["service"]), _dur(p["window"])),
        "comparator": Comparator.GT, "threshold": _f(p["seconds"])},
}

_DESCRIPTIONS = {
    "service_down": "{{{{ $labels.instance }}}} of job {{{{ $labels.job }}}} has been down for the whole `for` period.",
    "high_error_rate": "More than {share} of requests answered 5xx over {window}: "
                       "{{{{ $value | humanizePercentage }}}}.",
    "latency_vs_yesterday": "p95 latency is more than {factor}× the same hour yesterday.",
    "token_quota_forecast": "Month-to-date token usage plus the trend of the last {lookback} reaches "
                            "{{{{ $value | humanizePercentage }}}} of the monthly token quota within {days} days.",
    "spend_quota_forecast": "Month-to-date spend plus the trend of the last {lookback} reaches the monthly "
                            "spend quota within {days} days (prices from the staff price table).",
    "model_ttft_p95": "p95 time to first token of {{{{ $labels.gen_ai_request_model }}}} is "
                      "{{{{ $value | humanizeDuration }}}} (requests: {scope}).",
    "model_error_share": "{{{{ $value | humanizePercentage }}}} of the requests to "
                         "{{{{ $labels.gen_ai_request_model }}}} failed (requests: {scope}).",
    "service_error_share": "{{{{ $value | humanizePercentage }}}} of this organization's requests to "
                           "{{{{ $labels.service_name }}}} answered 5xx over {window}.",
    "service_latency_p95": "p95 latency of this organization's requests to {{{{ $labels.service_name }}}} "
                           "is {{{{ $value | humanizeDuration }}}}.",
}

_EVERY = "(empty: every one)"
_SCOPE = Param("scope", "Requests: org (this organization's) or platform (every organization's, 5m)", "org")

TEMPLATES: dict[str, Template] = {t.key: t for t in [
    Template("token_quota_forecast", "Token quota runs out within N days", "quota",
             (Param("days", "Within (days)", 7), Param("lookback", "Trend window", "6h")),
             Severity.WARNING, "30m", "Monthly token quota forecast to run out within {days} days"),
    Template("spend_quota_forecast", "Spend quota runs out within N days", "quota",
             (Param("days", "Within (days)", 7), Param("lookback", "Trend window", "6h")),
             Severity.WARNING, "30m", "Monthly spend quota forecast to run out within {days} days"),
    Template("model_ttft_p95", "Time to first token p95 per model above a value", "ai",
             (Param("model", f"Model {_EVERY}", ""), Param("seconds", "Seconds", 2), Param("window", "Window", "5m"),
              _SCOPE),
             Severity.WARNING, "10m",
             "p95 time to first token of {{{{ $labels.gen_ai_request_model }}}} above {seconds}s"),
    Template("model_error_share", "Model error share above a value", "ai",
             (Param("model", f"Model {_EVERY}", ""), Param("share", "Failed share above", 0.05),
              Param("window", "Window", "5m"), _SCOPE),
             Severity.WARNING, "5m", "Error share of {{{{ $labels.gen_ai_request_model }}}} above {share}"),
    Template("service_error_share", "Error share per service above a value", "errors",
             (Param("service", f"Service {_EVERY}", ""), Param("share", "5xx share above", 0.05),
              Param("window", "Window", "5m")),
             Severity.WARNING, "5m", "5xx share of {{{{ $labels.service_name }}}} above {share}"),
    Template("service_latency_p95", "p95 latency per service above a value", "performance",
             (Param("service", f"Service {_EVERY}", ""), Param("seconds", "Seconds", 1),
              Param("window", "Window", "5m")),
             Severity.WARNING, "10m", "p95 latency of {{{{ $labels.service_name }}}} above {seconds}s"),
    Template("service_down", "Service down", "availability", (Param("job", "Job", ""),), Severity.CRITICAL, "1m",
             "Service {{{{ $labels.job }}}} is down"),
    Template("high_error_rate", "High error rate", "errors",
             (Param("metric", "Requests counter", "http_server_request_duration_seconds_count"),
              Param("status_label", "Status label", "http_response_status_code"),
              Param("share", "5xx share above", 0.05), Param("window", "Window", "5m")),
             Severity.WARNING, "5m", "5xx share above {share}"),
    Template("auth_failures", "Authentication failures per minute", "security",
             (Param("metric", "Failures counter", "auth_failures_total"), Param("per_minute", "Per minute above", 10)),
             Severity.CRITICAL, "2m", "More than {per_minute} authentication failures per minute"),
    Template("log_auth_failures", "auth_failure log records", "security",
             (Param("search", "Log search", "auth_failure"), Param("count", "At least N records", 10),
              Param("minutes", "Within W minutes", 5)),
             Severity.CRITICAL, "0s", "At least {count} log records matching {search} in {minutes} min",
             kind=RuleKind.LOG),
    Template("latency_p95", "p95 latency above a value", "performance",
             (Param("metric", "Histogram", "http_server_request_duration_seconds_bucket"),
              Param("seconds", "Seconds", 0.5)),
             Severity.WARNING, "10m", "p95 latency above {seconds}s"),
    Template("latency_vs_yesterday", "p95 latency vs same hour yesterday", "performance",
             (Param("metric", "Histogram", "http_server_request_duration_seconds_bucket"), Param("factor", "N×", 2)),
             Severity.WARNING, "15m", "p95 latency above {factor}× yesterday", kind=RuleKind.PROMQL),
]}


# --- staff: platform rules on instance series --------------------------------------------------------
#
# Instance series carry no org label; `org_id=""` (the configured label name) keeps an org's own scrape
# target of the same metric name out, as metrics_app.platform_series does. Saturation divides by the
# container limit only where one is set (cAdvisor reports 0, or a quota of -1, for "unlimited").

PLATFORM_GROUP = "portal-platform-alerts"
PLATFORM_FILE = "platform-alerts.yml"
_BY = "service_name, instance"


@dataclass(frozen=True)
class PlatformTemplate:
    key: str
    alert: str
    title: str
    params: tuple[Param, ...]
    severity: str
    for_duration: str
    summary: str
    description: str
    expr: Callable[[Mapping[str, Any], str], str]

    def rule(self, values: Mapping[str, Any] | None = None, *, label: str = "org_id") -> dict[str, Any]:
        """The Prometheus alerting rule (a dict for a rule file); `values` overrides params and `for`."""
        values = values or {}
        p = {prm.name: values.get(prm.name, prm.default) for prm in self.params}
        doc: dict[str, Any] = {"alert": self.alert, "expr": self.expr(p, f'{label}=""')}
        duration = str(values.get("for", self.for_duration))
        if duration not in ("", "0s"):
            doc["for"] = _dur(duration)
        doc["labels"] = {"severity": str(values.get("severity", self.severity)), "scope": "platform"}
        doc["annotations"] = {"summary": self.summary.format(**p), "description": self.description.format(**p)}
        return doc

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "alert": self.alert, "title": self.title, "severity": self.severity,
                "for_duration": self.for_duration,
                "params": [{"name": p.name, "label": p.label, "default": p.default} for p in self.params]}


def _inst(metric: str, none: str, service: Any, extra: str = "") -> str:
    return f'{metric}{{{none},service_name=~{_str(service)}{extra}}}'


def _saturation(used: str, limit: str, p: Mapping[str, Any], none: str) -> str:
    """used / limit per instance above the share, only where a limit is set."""
    return (f"max by ({_BY}) ({_inst(used, none, p['service'])})"
            f" / max by ({_BY}) ({_inst(limit, none, p['service'])} > 0) > {_f(p['share'])}")


def _saturation_template(resource: str, title: str, used_what: str, limit_what: str, share: float, for_: str,
                         used: str, limit: str) -> PlatformTemplate:
    """A resource's use as a share of its container limit, above a threshold (memory, disk)."""
    return PlatformTemplate(
        f"{resource}_saturation", f"Platform{title}Saturation", f"{title} near the container limit",
        (Param("service", "Services (regex)", ".+"), Param("share", "Share of the limit above", share)),
        Severity.WARNING, for_, f"{{{{{{{{ $labels.instance }}}}}}}} uses more than {{share}} of its {resource} limit",
        f"{used_what} of {{{{{{{{ $labels.instance }}}}}}}} ({{{{{{{{ $labels.service_name }}}}}}}}) is "
        f"{{{{{{{{ $value | humanizePercentage }}}}}}}} of the container's {limit_what} limit.",
        lambda p, none: _saturation(used, limit, p, none))


PLATFORM_TEMPLATES: dict[str, PlatformTemplate] = {t.key: t for t in [
    PlatformTemplate(
        "instance_down", "PlatformInstanceDown", "Instance down", (Param("service", "Services (regex)", ".+"),),
        Severity.CRITICAL, "1m", "{{{{ $labels.instance }}}} of {{{{ $labels.service_name }}}} is down",
        "The scrape of {{{{ $labels.instance }}}} ({{{{ $labels.service_name }}}}) has failed for the whole "
        "`for` period.",
        lambda p, none: f"{_inst('up', none, p['service'])} == 0"),
    PlatformTemplate(
        "service_down", "PlatformServiceDown", "Every instance of a service down",
        (Param("service", "Services (regex)", ".+"),),
        Severity.CRITICAL, "1m", "Every instance of {{{{ $labels.service_name }}}} is down",
        "No instance of {{{{ $labels.service_name }}}} answers its scrape.",
        lambda p, none: f"max by (service_name) ({_inst('up', none, p['service'])}) == 0"),
    _saturation_template("memory", "Memory", "Resident memory", "memory", 0.9, "5m",
                         "process_resident_memory_bytes", "container_spec_memory_limit_bytes"),
    PlatformTemplate(
        "cpu_saturation", "PlatformCPUSaturation", "CPU near the container limit",
        (Param("service", "Services (regex)", ".+"), Param("share", "Share of the limit above", 0.9),
         Param("window", "Window", "5m")),
        Severity.WARNING, "10m", "{{{{ $labels.instance }}}} uses more than {share} of its CPU limit",
        "CPU use of {{{{ $labels.instance }}}} ({{{{ $labels.service_name }}}}) is "
        "{{{{ $value | humanizePercentage }}}} of the container's CPU limit (quota / period cores).",
        lambda p, none: (
            f"max by ({_BY}) (rate({_inst('process_cpu_seconds_total', none, p['service'])}[{_dur(p['window'])}]))"
            f" / (max by ({_BY}) ({_inst('container_spec_cpu_quota', none, p['service'])} > 0)"
            f" / max by ({_BY}) ({_inst('container_spec_cpu_period', none, p['service'])} > 0))"
            f" > {_f(p['share'])}")),
    _saturation_template("disk", "Disk", "Filesystem use", "filesystem", 0.85, "10m",
                         "container_fs_usage_bytes", "container_fs_limit_bytes"),
    PlatformTemplate(
        "disk_full_forecast", "PlatformDiskFullForecast", "Disk full within N hours",
        (Param("service", "Services (regex)", ".+"), Param("hours", "Full within (hours)", 24),
         Param("lookback", "Trend window", "6h")),
        Severity.WARNING, "30m", "{{{{ $labels.instance }}}} predicted to fill its disk within {hours} h",
        "At the trend of the last {lookback}, filesystem use of {{{{ $labels.instance }}}} "
        "({{{{ $labels.service_name }}}}) reaches {{{{ $value | humanizePercentage }}}} of its limit in {hours} h.",
        lambda p, none: (
            f"max by ({_BY}) (predict_linear({_inst('container_fs_usage_bytes', none, p['service'])}"
            f"[{_dur(p['lookback'])}], {int(_f(p['hours']) * 3600)}))"
            f" / max by ({_BY}) ({_inst('container_fs_limit_bytes', none, p['service'])} > 0) >= 1")),
]}


def platform_rules(values: Mapping[str, Mapping[str, Any] | None] | None = None, *,
                   label: str = "org_id") -> dict[str, Any]:
    """The platform rule file as a dict: every staff template (`values` = key -> param/`for` overrides;
    a key mapped to None is left out)."""
    values = values or {}
    rules = [t.rule(values.get(key), label=label) for key, t in PLATFORM_TEMPLATES.items()
             if key not in values or values[key] is not None]
    return {"groups": [{"name": PLATFORM_GROUP, "rules": rules}]}


def platform_rules_yaml(values: Mapping[str, Mapping[str, Any] | None] | None = None, *,
                        label: str = "org_id") -> str:
    """The platform rule file's text, as shipped in deploy/prometheus/platform-alerts.yml."""
    import yaml

    header = ("# Platform (staff) alerts on instance series, which carry no org label. Generated from\n"
              "# alerts_app.catalog.PLATFORM_TEMPLATES: python manage.py shell -c \"from alerts_app.catalog\n"
              "# import platform_rules_yaml; print(platform_rules_yaml(), end='')\" > "
              "deploy/prometheus/platform-alerts.yml\n")
    return header + yaml.safe_dump(platform_rules(values, label=label), sort_keys=False, width=1000,
                                   allow_unicode=True)

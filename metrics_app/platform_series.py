"""Platform series: a staff-defined, named allow-list of recording rules every organization may read.

A platform series is a recording rule over the shared deployment's series that aggregates the org label
away (`platform:service_up:ratio` = the average of `up` per service). Its result carries no org label, so
the PromQL enforcer (metrics_app/promql.py) gives a selector naming one `org_id=""` instead of the org's
matcher: an org sees the platform-wide aggregate and never a series carrying any org's label.

The rows live in `PlatformSeries` (seeded from DEFAULT_PLATFORM_SERIES by a data migration); the portal's
rule sync writes the enabled ones into Prometheus's rules dir (`rules_path()`), and the enforcer reads the
enabled names through the shared cache (`allowed_names()`), which every change invalidates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings

from portal.core import cache

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_PLATFORM_SERIES",
    "GROUP_NAME",
    "allowed_names",
    "default_series",
    "enabled_series",
    "invalidate",
    "org_label_name",
    "rules_path",
    "rules_yaml",
    "validate",
    "write_rules_file",
]

GROUP_NAME = "portal-platform-series"
_CACHE_KEY = "metrics:platform-series:v1:enabled"
_CACHE_TTL = 300  # invalidated on every change; the TTL only bounds a missed invalidation


def default_series(label: str = "org_id") -> dict[str, str]:
    """The shipped platform series (name -> expression) for org label `label`.

    Instance series (`up`, process_*, container_*, analytics internals) are read with `label=""`: the
    shared deployment's targets carry no org label, and an org's own scrape target of the same name
    must not feed (or name a label value in) a series every org reads. Per-request series carry the
    calling org's label; aggregating it away is the point (all orgs' traffic together)."""
    none = f'{label}=""'
    return {
        "platform:service_up:ratio": f"avg by (service_name) (up{{{none}}})",
        "platform:service_cpu_saturation:ratio": (
            f"sum by (service_name) (rate(process_cpu_seconds_total{{{none}}}[5m]))"
            f" / sum by (service_name) (container_spec_cpu_quota{{{none}}}"
            f" / container_spec_cpu_period{{{none}}})"
        ),
        "platform:service_memory_saturation:ratio": (
            f"sum by (service_name) (process_resident_memory_bytes{{{none}}})"
            f" / sum by (service_name) (container_spec_memory_limit_bytes{{{none}}})"
        ),
        "platform:service_disk_saturation:ratio": (
            f"sum by (service_name) (container_fs_usage_bytes{{{none}}})"
            f" / sum by (service_name) (container_fs_limit_bytes{{{none}}})"
        ),
        # `or 0 * all`: a service without a single 5xx answers 0, not "no data".
        "platform:service_error_share:ratio_rate5m": (
            "(sum by (service_name) (rate(http_server_request_duration_seconds_count"
            '{http_response_status_code=~"5.."}[5m]))'
            " or 0 * sum by (service_name) (rate(http_server_request_duration_seconds_count[5m])))"
            " / sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))"
        ),
        "platform:service_latency_p95:seconds_rate5m": (
            "histogram_quantile(0.95, sum by (service_name, le) "
            "(rate(http_server_request_duration_seconds_bucket[5m])))"
        ),
        "platform:service_request_rate:rate5m": (
            "sum by (service_name) (rate(http_server_request_duration_seconds_count[5m]))"
        ),
        "platform:gen_ai_model_error_share:ratio_rate5m": (
            "(sum by (gen_ai_request_model) (rate(gen_ai_server_request_duration_seconds_count"
            '{error_type!=""}[5m]))'
            " or 0 * sum by (gen_ai_request_model) (rate(gen_ai_server_request_duration_seconds_count[5m])))"
            " / sum by (gen_ai_request_model) (rate(gen_ai_server_request_duration_seconds_count[5m]))"
        ),
        "platform:gen_ai_model_ttft_p95:seconds_rate5m": (
            "histogram_quantile(0.95, sum by (gen_ai_request_model, le) "
            "(rate(gen_ai_server_time_to_first_token_seconds_bucket[5m])))"
        ),
        "platform:analytics_queue_depth:sum": f"sum by (queue) (queue_depth{{{none}}})",
        "platform:analytics_rollup_lag:max_seconds": f"max(rollup_lag_seconds{{{none}}})",
    }


# name -> expression, for the default org label `org_id` (what the data migration seeds).
DEFAULT_PLATFORM_SERIES: dict[str, str] = default_series()


# What each default shows, for the API listing and the staff page.
DEFAULT_DESCRIPTIONS: dict[str, str] = {
    "platform:service_up:ratio": "Share of a service's instances that are up (avg of up), by service_name.",
    "platform:service_cpu_saturation:ratio": "CPU used / CPU limit (quota/period), by service_name.",
    "platform:service_memory_saturation:ratio": "Resident memory / memory limit, by service_name.",
    "platform:service_disk_saturation:ratio": "Filesystem usage / filesystem limit, by service_name.",
    "platform:service_error_share:ratio_rate5m": "Share of 5xx among all requests (all orgs), by service_name.",
    "platform:service_latency_p95:seconds_rate5m": "95th percentile request duration (all orgs), by service_name.",
    "platform:service_request_rate:rate5m": "Requests per second (all orgs), by service_name.",
    "platform:gen_ai_model_error_share:ratio_rate5m": "Share of failed model requests, by gen_ai_request_model.",
    "platform:gen_ai_model_ttft_p95:seconds_rate5m": "p95 time to first token (all orgs), by gen_ai_request_model.",
    "platform:analytics_queue_depth:sum": "Analytics queue depth, by queue.",
    "platform:analytics_rollup_lag:max_seconds": "Largest analytics rollup lag, in seconds.",
}


def rules_yaml(series: Mapping[str, str] | None = None, *, interval: str | None = None) -> str:
    """A Prometheus rule file with one group recording `series` (default: DEFAULT_PLATFORM_SERIES).

    `interval` unset: the group follows Prometheus's global `evaluation_interval`, which the operator
    already chose for every other rule (the 5m rates here are fine at any interval up to a minute).
    Written as JSON, which is YAML too (like alerts_app.render.to_yaml)."""
    items = DEFAULT_PLATFORM_SERIES if series is None else series
    group: dict[str, object] = {"name": GROUP_NAME}
    if interval:
        group["interval"] = interval
    group["rules"] = [{"record": name, "expr": expr} for name, expr in sorted(items.items())]
    return json.dumps({"groups": [group]}, indent=1, ensure_ascii=False) + "\n"


def rules_path() -> Path:
    """Where the rule sync writes the file: beside the per-org `portal-org-<id>.yml` files (so the same
    `*.yml` glob loads it) under a name no org file can have."""
    return Path(settings.PROMETHEUS_RULES_DIR) / "portal-platform-series.yml"


def enabled_series() -> dict[str, str]:
    """Enabled platform series from the database: name -> expression."""
    from .models import PlatformSeries

    return dict(PlatformSeries.objects.filter(enabled=True).order_by("name").values_list("name", "expr"))


def allowed_names() -> frozenset[str]:
    """Names of the enabled platform series, read through the shared cache (a cache outage reads the
    database). The enforcer asks this only for queries naming a recording rule (a name with a colon)."""
    cached = cache.get(_CACHE_KEY)
    if isinstance(cached, list):
        return frozenset(str(n) for n in cached)
    names = sorted(enabled_series())
    cache.set(_CACHE_KEY, names, _CACHE_TTL)
    return frozenset(names)


def invalidate() -> None:
    """Forget the cached allow-list (after any change to PlatformSeries)."""
    cache.delete(_CACHE_KEY)


# ---------------------------------------------------------------- changes (staff) and the rule file


def org_label_name() -> str:
    """The org label platform series must aggregate away: the configured datasource's (default org_id)."""
    from .models import Datasource

    ds = Datasource.configured_for(None)
    return ds.org_label if ds is not None and ds.org_label else "org_id"


def validate(name: str, expr: str) -> None:
    """Raise platform_check.PlatformSeriesRefused / promql.PromQLError for a name or expression that
    may not be a platform series."""
    from .platform_check import check_expression, check_name

    check_name(name)
    check_expression(expr, org_label_name(), name)


def write_rules_file() -> int:
    """Called by the rule sync (alerts_app.sync reconcile): write the enabled platform series to
    `rules_path()` when it differs; 1 when written (Prometheus must reload), else 0. A file promtool
    refuses is never written (the definitions are checked when saved, so this means a changed
    Prometheus): the old file stays and the error is logged."""
    from alerts_app import checks

    text = rules_yaml(enabled_series())
    path = rules_path()
    try:
        if path.read_text() == text:
            return 0
    except FileNotFoundError:
        pass
    try:
        checks.check_rules(text)
    except checks.CheckFailed as exc:
        log.error("platform series rule file refused by promtool, not written: %s", exc)
        return 0
    return 1 if checks.atomic_write(path, text) else 0

"""The built-in Capacity planning dashboard: quotas for tenants, resources for the platform, each with a
server-side forecast (dashboards_app/forecast.py) and the time until the limit is reached.

Every panel draws for an org viewer on the shared deployment: tenant panels read the org's own series
(token usage, `org_quota_limit`), resource panels the `platform:*` saturation series (instance series
carry no org label, so an org cannot read them directly; the platform series are their per-service
rollups every org may read, docs/capacity.md). Staff see the same panels for the whole platform: one
line per org on the quota panels, whose limits are matched to each org's line.

Series are kept per org with `sum without (...)` rather than `sum by (org_id)`: the org label's name is
the datasource's (metrics_app/labels.org_label), and this document is the same for every datasource.
"""

from __future__ import annotations

from typing import Any

MONTH_S = 30 * 86400  # quotas are monthly: a run-rate per second times this is "per month at this pace"
# Labels of the token series other than the org's, summed away to keep one series per org.
_USAGE_OTHER_LABELS = "gen_ai_request_model, gen_ai_token_type, api_key, job, instance, service_name"
_QUOTA_LABELS = "resource, job, instance, service_name"


def _p(ptype: str, title: str, targets: list[tuple[str, str]], x: int, y: int, w: int = 12, h: int = 8,
       **extra: Any) -> dict[str, Any]:
    return {"type": ptype, "title": title, "targets": [{"expr": e, "legend": lg} for e, lg in targets],
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}


def _quota(resource: str) -> str:
    return f'max without ({_QUOTA_LABELS}) (org_quota_limit{{resource="{resource}"}})'


def _tokens_rate(window: str, token_type: str = "") -> str:
    sel = f'{{gen_ai_token_type="{token_type}"}}' if token_type else ""
    return f"sum without ({_USAGE_OTHER_LABELS}) (rate(gen_ai_client_token_usage_sum{sel}[{window}]))"


def _spend_rate(window: str) -> str:
    """USD per second, per org: tokens per model and type, priced by the staff table."""
    def part(token_type: str) -> str:
        labels = "gen_ai_token_type, api_key, job, instance, service_name"
        return (f"sum without (gen_ai_request_model) (sum without ({labels}) (rate(gen_ai_client_token_usage_sum"
                f'{{gen_ai_token_type="{token_type}"}}[{window}])) / 1000 * on (gen_ai_request_model) group_left '
                f"$__price_per_1k({token_type}))")
    return f"({part('input')} + {part('output')})"


def _increase_30d_tokens() -> str:
    return f"sum without ({_USAGE_OTHER_LABELS}) (increase(gen_ai_client_token_usage_sum[30d]))"


def _increase_30d_spend() -> str:
    return f"({_spend_rate('30d')} * {MONTH_S})"


_SATURATION_STEPS = [{"value": None, "color": "green"}, {"value": 0.7, "color": "orange"},
                     {"value": 0.9, "color": "red"}]
_USED_STEPS = [{"value": None, "color": "green"}, {"value": 0.8, "color": "orange"}, {"value": 1, "color": "red"}]


def _resource(title: str, series: str, what: str, method: str, x: int, y: int) -> dict[str, Any]:
    return _p("timeseries", title, [(f"platform:service_{series}_saturation:ratio", "{{service_name}}")], x, y,
              unit="percentunit", thresholds=[{"value": None, "color": "green"}, {"value": 1, "color": "red"}],
              description=f"{what} used / container {what} limit per service (1 = the limit), with a "
                          f"{method} forecast fitted on 7 days.",
              forecast={"method": method, "horizon": "14d", "history": "7d", "limit": 1,
                        "limit_label": f"{what} limit"})


CAPACITY: dict[str, Any] = {
    "title": "Capacity planning",
    "description": "Quotas and platform resources. Dashed lines are forecasts from now on, fitted on 7 days "
                   "(linear least squares, or trend plus a daily cycle for memory and CPU); each panel says "
                   "when the quota or limit is reached. Run-rates are per month at the last hour's pace.",
    "tags": ["builtin", "capacity"],
    "time": {"from": "now-6h", "to": "now"},
    "refresh": "1m",
    "panels": [
        _p("timeseries", "Tokens: monthly run-rate vs token quota",
           [(f"{_tokens_rate('1h')} * {MONTH_S}", "")], 0, 0, unit="short",
           description="Tokens per month at the last hour's pace, forecast linearly on 7 days of history "
                       "against the org's monthly token quota (org_quota_limit).",
           forecast={"method": "linear", "horizon": "30d", "history": "7d", "limit_expr": _quota("tokens"),
                     "limit_label": "token quota"}),
        _p("timeseries", "Spend: monthly run-rate vs spend quota (USD)",
           [(f"{_spend_rate('1h')} * {MONTH_S}", "")], 12, 0, unit="short", decimals=0,
           description="USD per month at the last hour's pace (the staff price table per model), forecast "
                       "linearly against the org's monthly spend quota.",
           forecast={"method": "linear", "horizon": "30d", "history": "7d", "limit_expr": _quota("spend_usd"),
                     "limit_label": "spend quota"}),
        _p("bar", "Token quota used (last 30 days)",
           [(f"{_increase_30d_tokens()} / {_quota('tokens')}", "")], 0, 8, 6, 7, unit="percentunit",
           thresholds=_USED_STEPS),
        _p("bar", "Spend quota used (last 30 days)",
           [(f"{_increase_30d_spend()} / {_quota('spend_usd')}", "")], 6, 8, 6, 7, unit="percentunit",
           thresholds=_USED_STEPS),
        _p("table", "Headroom per service (1 - used / limit)", [
            ("1 - platform:service_memory_saturation:ratio", "memory"),
            ("1 - platform:service_cpu_saturation:ratio", "cpu"),
            ("1 - platform:service_disk_saturation:ratio", "disk"),
        ], 12, 8, 12, 7, unit="percentunit",
           thresholds=[{"value": None, "color": "red"}, {"value": 0.2, "color": "orange"},
                       {"value": 0.4, "color": "green"}]),
        _resource("Memory: used of limit, forecast", "memory", "Memory", "seasonal", 0, 15),
        _resource("CPU: used of limit, forecast", "cpu", "CPU", "seasonal", 12, 15),
        _resource("Disk: used of limit, forecast", "disk", "Disk", "linear", 0, 23),
    ],
}

"""The built-in "AI usage" dashboard: tokens, requests, errors, latency, API keys, spend and quota per org.

Series are the OpenTelemetry GenAI ones the platform exports (see docs/ai-usage.md): token usage per request
(`gen_ai_client_token_usage`, a histogram whose `_sum` counts tokens), server request duration and time to first
token, plus `org_quota_limit`. Spend is tokens / 1000 × the staff price of the model (the `$__price_per_1k`
macro, dashboards_app/pricing.py), computed per model and token type before summing, in Prometheus.

Spend and quota panels are instant (bar, table): a month-long `increase` is evaluated once, not at every
point of a range.
"""

from __future__ import annotations

from typing import Any

RI = "$__rate_interval"
MODEL = "gen_ai_request_model"
TOKENS = "gen_ai_client_token_usage_sum"  # the histogram's sum: tokens, per model, token type and API key
REQUESTS = "gen_ai_server_request_duration_seconds"
TTFT = "gen_ai_server_time_to_first_token_seconds"
MTD = "$__month_to_date"
DAYS = 7
QUOTA_DEDUP = "max without (instance, job, service_name)"  # one quota per org, whichever instance exports it


def _p(ptype: str, title: str, targets: list[tuple[str, str]], x: int, y: int, w: int = 12, h: int = 8,
       **extra: Any) -> dict[str, Any]:
    return {"type": ptype, "title": title, "targets": [{"expr": e, "legend": lg} for e, lg in targets],
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, **extra}


def tokens(window: str, by: str = MODEL, token_type: str = "", offset: str = "") -> str:
    sel = f'{{gen_ai_token_type="{token_type}"}}' if token_type else ""
    off = f" offset {offset}" if offset else ""
    return f"sum by ({by}) (increase({TOKENS}{sel}[{window}]{off}))"


def spend(window: str, by: str = MODEL, offset: str = "") -> str:
    """USD spent in `window`, by `by` (which must include the model): each token type priced on its own,
    then united (the two halves differ in gen_ai_token_type, so `or` keeps both)."""
    halves = [f"{tokens(window, f'{by}, gen_ai_token_type', t, offset)} / 1000 * on ({MODEL}) group_left "
              f"$__price_per_1k({t})" for t in ("input", "output")]
    return f"({halves[0]}) or ({halves[1]})"


def _quantiles(metric: str) -> list[tuple[str, str]]:
    return [(f"histogram_quantile({q}, sum by (le, {MODEL}) (rate({metric}_bucket[{RI}])))",
             f"{{{{{MODEL}}}}} p{int(q * 100)}") for q in (0.5, 0.95, 0.99)]


def _day(k: int) -> str:
    label = "last 24h" if k == 0 else f"{k}d ago"
    return f'label_replace(sum({spend("1d", offset=f"{k}d" if k else "")}), "day", "{label}", "", "")'


def _spend_per_day() -> str:
    # Oldest first: instant results keep the order of `or`'s operands, and the bars are drawn in that order.
    days = [_day(k) for k in range(DAYS - 1, -1, -1)]
    return " or ".join(days)


_USD: dict[str, Any] = {"unit": "none", "decimals": 2}
_QUOTA = [{"value": None, "color": "green"}, {"value": 0.8, "color": "orange"}, {"value": 1, "color": "red"}]
_MODEL_LEGEND = f"{{{{{MODEL}}}}}"

AI_USAGE: dict[str, Any] = {
    "title": "AI usage",
    "description": "Tokens, requests, errors and latency per model; top API keys; spend (tokens × the staff "
                   "price table) per day and month to date; use of the monthly token and spend quotas.",
    "tags": ["builtin", "ai-usage", "gen-ai"],
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "30s",
    "panels": [
        _p("timeseries", "Tokens per second by model (input / output)", [
            (f"sum by ({MODEL}, gen_ai_token_type) (rate({TOKENS}[{RI}]))",
             f"{_MODEL_LEGEND} {{{{gen_ai_token_type}}}}"),
        ], 0, 0, unit="short"),
        _p("timeseries", "Requests by model", [
            (f"sum by ({MODEL}) (rate({REQUESTS}_count[{RI}]))", _MODEL_LEGEND),
        ], 12, 0, unit="reqps"),
        _p("timeseries", "Errors by model and error type", [
            (f'sum by ({MODEL}, error_type) (rate({REQUESTS}_count{{error_type!=""}}[{RI}]))',
             f"{_MODEL_LEGEND} {{{{error_type}}}}"),
        ], 0, 8, unit="reqps"),
        _p("timeseries", "Error share by model", [
            (f'sum by ({MODEL}) (rate({REQUESTS}_count{{error_type!=""}}[{RI}])) / '
             f"sum by ({MODEL}) (rate({REQUESTS}_count[{RI}]))", _MODEL_LEGEND),
        ], 12, 8, unit="percentunit",
           thresholds=[{"value": None, "color": "green"}, {"value": 0.05, "color": "red"}]),
        _p("timeseries", "Time to first token p50 / p95 / p99", _quantiles(TTFT), 0, 16, unit="seconds"),
        _p("timeseries", "Request duration p50 / p95 / p99", _quantiles(REQUESTS), 12, 16, unit="seconds"),
        _p("table", "Top API keys by tokens (time range)", [
            (f"topk(10, {tokens('$__range', 'api_key')})", "tokens"),
            (f"{tokens('$__range', 'api_key', 'input')} and on (api_key) topk(10, {tokens('$__range', 'api_key')})",
             "input"),
            (f"{tokens('$__range', 'api_key', 'output')} and on (api_key) topk(10, {tokens('$__range', 'api_key')})",
             "output"),
            (f"sum by (api_key) ({spend('$__range', f'{MODEL}, api_key')}) and on (api_key) "
             f"topk(10, {tokens('$__range', 'api_key')})", "spend (USD)"),
        ], 0, 24, unit="short", decimals=2),
        _p("bar", f"Spend per day (USD, last {DAYS} days)", [(_spend_per_day(), "{{day}}")], 12, 24, **_USD,
           description="Each bar is 24 hours ending now, 1 day ago, …; tokens × the staff price per model."),
        _p("table", "Month to date by model", [
            (f"sum by ({MODEL}) ({spend(MTD)})", "spend (USD)"),
            (tokens(MTD, MODEL, "input"), "input tokens"),
            (tokens(MTD, MODEL, "output"), "output tokens"),
        ], 0, 32, unit="none", decimals=2,
           description="Since the first of this month (UTC)."),
        _p("bar", "Quota used this month", [
            (f"sum({tokens(MTD, MODEL)}) / sum({QUOTA_DEDUP} (org_quota_limit{{resource=\"tokens\"}}))",
             "tokens"),
            (f"sum({spend(MTD)}) / sum({QUOTA_DEDUP} (org_quota_limit{{resource=\"spend_usd\"}}))", "spend"),
        ], 12, 32, unit="percentunit", decimals=2, thresholds=_QUOTA,
           description="Month-to-date tokens and spend as a share of the monthly quota (org_quota_limit)."),
    ],
}

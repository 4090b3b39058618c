"""Demo workload: one SHARED AI platform deployment whose services serve several orgs' API keys.

    .venv/bin/python -m dashboards_app.demo.workload --port 9464
    .venv/bin/python -m dashboards_app.demo.workload --port 9464 --print-scrape-config

The deployment (see docs/dashboards.md "The demo deployment"): api-router ×3, user-org-service ×2,
analytics-service ×2 and model-serving ×2 (the upstream serving every model). Each instance is its own
scrape target at `/metrics/<service>/<n>`; `scrape_config()` makes one Prometheus job per service with the
target label `service_name` and an `instance` naming the instance's path. Per-request and GenAI series
carry the org of the calling API key (label `org_id` by default) because the service itself knows whose
key it served; instance series (`up`, process_*, container_*, analytics internals) carry no org at all —
they belong to the platform, which every org shares. `/metrics` serves all instances at once (labelled
with service_name and instance) for a quick look with curl.

Stdlib only: scripts/devrun.py imports this module before Django is set up.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Service → number of instances (replicas).
SERVICES: dict[str, int] = {"api-router": 3, "user-org-service": 2, "analytics-service": 2, "model-serving": 2}
# API-key owners and their relative traffic; each org calls with a production and a development key.
ORGS: dict[str, float] = {"acme": 1.0, "globex": 0.6, "initech": 0.3}
API_KEYS: dict[str, float] = {"prod": 0.85, "dev": 0.15}
# Chance that the router refuses an org's request with 429 (its own rate limit): initech runs hot.
ORG_RATE_LIMITED: dict[str, float] = {"acme": 0.004, "globex": 0.008, "initech": 0.03}
# Monthly quotas exported by user-org-service: tokens and spend in USD.
ORG_QUOTAS: dict[str, dict[str, float]] = {
    "acme": {"tokens": 12e9, "spend_usd": 50000.0},
    "globex": {"tokens": 6e9, "spend_usd": 25000.0},
    "initech": {"tokens": 2e9, "spend_usd": 10000.0},
}
DEFAULT_ORG_LABEL = "org_id"


@dataclass(frozen=True)
class Model:
    share: float  # of chat/completion requests
    ttft: float  # median time to first token, seconds
    duration: float  # median whole-request duration, seconds
    input_tokens: float  # median input tokens per request
    output_tokens: float  # median output tokens per request
    failure: float  # base chance a request fails upstream (timeout / rate_limited / upstream_error)


MODELS: dict[str, Model] = {
    "gpt-4o": Model(0.40, 0.35, 2.4, 700, 280, 0.006),
    "claude-3-5-sonnet": Model(0.30, 0.45, 3.0, 900, 350, 0.008),
    "llama-3-70b": Model(0.20, 0.22, 1.5, 500, 220, 0.012),
    "mistral-large": Model(0.10, 0.30, 1.8, 600, 250, 0.015),
}
ERROR_TYPES: dict[str, tuple[float, int]] = {  # share of failures, HTTP status the router answers
    "timeout": (0.4, 504), "rate_limited": (0.25, 503), "upstream_error": (0.35, 502)}

# Requests per second of an org with weight 1.0 at the mean of the daily wave, per route.
ROUTER_ROUTES = {"/v1/chat/completions": ("POST", 2.4), "/v1/completions": ("POST", 0.6),
                 "/v1/embeddings": ("POST", 1.2), "/v1/models": ("GET", 0.3)}
USER_ORG_ROUTES = {"/auth/login": ("POST", 0.4), "/users": ("GET", 0.3), "/orgs": ("GET", 0.1),
                   "/tokens": ("POST", 0.2), "/internal/api-keys/verify": ("POST", 1.5)}
ANALYTICS_ROUTES = {"/events": ("POST", 3.0), "/usage": ("GET", 0.2), "/reports": ("GET", 0.05)}

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TOKEN_BUCKETS = (16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
GENAI_DURATION_BUCKETS = (0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
ROUTING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
ROLLUP_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIB, GIB = 1024 ** 2, 1024 ** 3


@dataclass(frozen=True)
class Resources:
    cores: float  # container CPU limit
    memory_limit: float
    memory_base: float  # resident memory at start
    memory_growth: float  # bytes per hour (a slow leak / growing caches): capacity forecasts show a trend
    fs_limit: float
    fs_base: float
    fs_growth: float  # bytes per hour at mean load
    cpu_base: float  # cores used idle
    cpu_per_request: float  # core-seconds per request served


RESOURCES: dict[str, Resources] = {
    "api-router": Resources(2, 2 * GIB, 650 * MIB, 40 * MIB, 20 * GIB, 6 * GIB, 60 * MIB, 0.08, 0.12),
    "user-org-service": Resources(1, 1 * GIB, 380 * MIB, 15 * MIB, 10 * GIB, 3 * GIB, 20 * MIB, 0.05, 0.08),
    "analytics-service": Resources(2, 4 * GIB, 1.6 * GIB, 90 * MIB, 100 * GIB, 55 * GIB, 420 * MIB, 0.15, 0.06),
    "model-serving": Resources(8, 32 * GIB, 21 * GIB, 150 * MIB, 200 * GIB, 140 * GIB, 80 * MIB, 0.6, 1.1),
}

LabelSet = tuple[tuple[str, str], ...]


def daily_wave(now: float) -> float:
    """Load relative to the mean: a compressed "day" (30 min period) plus a faster wobble."""
    return (1.0 + 0.35 * math.sin(2 * math.pi * now / 1800.0)) * (1.0 + 0.08 * math.sin(2 * math.pi * now / 97.0))


def failure_wave(now: float) -> float:
    """Upstream trouble comes and goes (a bad minute every few minutes), multiplying failure chances."""
    return 1.0 + 2.0 * max(0.0, math.sin(2 * math.pi * now / 420.0)) ** 4


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if n < 40:
        return sum(1 for _ in range(n) if rng.random() < p)
    return min(n, poisson(rng, n * p)) if n * p < 30 else \
        min(n, max(0, int(round(rng.gauss(n * p, math.sqrt(n * p * (1 - p)))))))


def split(rng: random.Random, n: int, shares: Iterable[float]) -> list[int]:
    """n requests spread over categories with the given shares (sums to n)."""
    out, left, rest = [], n, 1.0
    shares = list(shares)
    for s in shares[:-1]:
        k = binomial(rng, left, min(1.0, s / rest)) if rest > 0 else 0
        out.append(k)
        left, rest = left - k, rest - s
    out.append(left)
    return out


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: int = 0
    sum: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, n: int, median: float, sigma: float = 0.5) -> None:
        """n observations from a log-normal distribution around `median`: each bucket gets its expected
        share (the CDF at its bound), so the cost does not grow with the request rate."""
        if n <= 0:
            return
        mu = math.log(max(median, 1e-9))
        for i, b in enumerate(self.buckets):
            cdf = 0.5 * (1 + math.erf((math.log(b) - mu) / (sigma * math.sqrt(2))))
            self.counts[i] += int(round(n * cdf))
        self.total += n
        self.sum += n * median * math.exp(sigma * sigma / 2)

    def lines(self, name: str, labels: str) -> Iterable[str]:
        sep = "," if labels else ""
        for b, c in zip(self.buckets, self.counts, strict=True):
            yield f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {c}'
        yield f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.total}'
        braced = f"{{{labels}}}" if labels else ""
        yield f"{name}_sum{braced} {self.sum:.6f}"
        yield f"{name}_count{braced} {self.total}"


class Registry:
    """The series of one instance: counters only grow, gauges are set, histograms observe."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}
        self.values: dict[str, dict[LabelSet, float]] = {}
        self.hists: dict[str, dict[LabelSet, Histogram]] = {}

    def inc(self, name: str, amount: float, labels: dict[str, str]) -> None:
        self.kinds.setdefault(name, "counter")
        series = self.values.setdefault(name, {})
        key = tuple(labels.items())
        series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        self.kinds.setdefault(name, "gauge")
        self.values.setdefault(name, {})[tuple((labels or {}).items())] = value

    def observe(self, name: str, buckets: tuple[float, ...], n: int, median: float, labels: dict[str, str],
                sigma: float = 0.5) -> None:
        self.kinds.setdefault(name, "histogram")
        series = self.hists.setdefault(name, {})
        key = tuple(labels.items())
        if key not in series:
            series[key] = Histogram(buckets)
        series[key].observe(n, median, sigma)

    def exposition(self, extra: LabelSet = (), types: bool = True) -> str:
        out: list[str] = []
        for name in sorted(self.kinds):
            if types:
                out.append(f"# TYPE {name} {self.kinds[name]}")
            for key, value in sorted(self.values.get(name, {}).items()):
                out.append(f"{name}{_braced(extra + key)} {_num(value)}")
            for key, hist in sorted(self.hists.get(name, {}).items()):
                out.extend(hist.lines(name, _fmt(extra + key)))
        return "\n".join(out) + "\n"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _braced(labels: LabelSet) -> str:
    return f"{{{_fmt(labels)}}}" if labels else ""


def _fmt(labels: LabelSet) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


class Instance:
    """One instance of one service. It advances lazily (when scraped) by the time since its last scrape."""

    def __init__(self, service: str, index: int, orgs: dict[str, float], rng: random.Random,
                 org_label: str = DEFAULT_ORG_LABEL, started: float | None = None) -> None:
        self.service, self.index, self.orgs, self.rng, self.org_label = service, index, orgs, rng, org_label
        replicas = SERVICES[service]
        # Load balancers are never perfectly even: instance 0 gets a little more than its share.
        weights = [1.0 + 0.08 * (replicas - 1 - i) / max(1, replicas - 1) for i in range(replicas)]
        self.share = weights[index] / sum(weights)
        self.res = RESOURCES[service]
        self.started = started if started is not None else time.time()
        self.last = self.started
        self.reg = Registry()
        self.cpu_seconds = 0.0
        self.requests_in_tick = 0

    # -- helpers -----------------------------------------------------------------------------------

    def _org(self, org: str, **labels: str) -> dict[str, str]:
        return {**labels, self.org_label: org}

    def _http(self, route: str, method: str, status: int, org: str, n: int, median: float,
              sigma: float = 0.5) -> None:
        # service_name comes from the scrape target (an exposed one would be renamed exported_service_name).
        labels = {"http_route": route, "http_request_method": method,
                  "http_response_status_code": str(status), self.org_label: org}
        self.reg.observe("http_server_request_duration_seconds", HTTP_BUCKETS, n, median, labels, sigma)
        self.requests_in_tick += n

    def _n(self, rate: float, dt: float) -> int:
        return poisson(self.rng, rate * dt)

    # -- the simulation -----------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        dt = min(max(0.0, now - self.last), 60.0)
        if dt <= 0:
            return
        self.last = now
        self.requests_in_tick = 0
        load = daily_wave(now) * self.share
        trouble = failure_wave(now)
        {"api-router": self._api_router, "user-org-service": self._user_org, "analytics-service": self._analytics,
         "model-serving": self._model_serving}[self.service](now, dt, load, trouble)
        self._resources(now, dt)

    def _failures(self, model: Model, trouble: float, n: int) -> dict[str, int]:
        failed = binomial(self.rng, n, min(0.5, model.failure * trouble))
        kinds = split(self.rng, failed, [share for share, _ in ERROR_TYPES.values()])
        return dict(zip(ERROR_TYPES, kinds, strict=True))

    def _api_router(self, now: float, dt: float, load: float, trouble: float) -> None:
        for org, weight in self.orgs.items():
            limited_p = ORG_RATE_LIMITED.get(org, 0.01)
            for route, (method, rate) in ROUTER_ROUTES.items():
                if route in ("/v1/chat/completions", "/v1/completions"):
                    continue
                n = self._n(rate * weight * load, dt)
                errors = binomial(self.rng, n, 0.002 * trouble)
                self._http(route, method, 200, org, n - errors, 0.12 if route == "/v1/embeddings" else 0.006)
                self._http(route, method, 500, org, errors, 0.05)
            for key, key_share in API_KEYS.items():
                api_key = f"{org}-{key}"
                for model_name, model in MODELS.items():
                    for route in ("/v1/chat/completions", "/v1/completions"):
                        rate = ROUTER_ROUTES[route][1] * weight * load * key_share * model.share
                        n = self._n(rate, dt)
                        limited = binomial(self.rng, n, limited_p)
                        forwarded = n - limited
                        fails = self._failures(model, trouble, forwarded)
                        ok = forwarded - sum(fails.values())
                        self._http(route, "POST", 429, org, limited, 0.004)
                        self._http(route, "POST", 200, org, ok, model.duration * (1.0 + 0.15 * load), 0.6)
                        for error_type, count in fails.items():
                            status = ERROR_TYPES[error_type][1]
                            self._http(route, "POST", status, org, count, 30.0 if error_type == "timeout" else 0.8)
                            self.reg.inc("router_upstream_errors_total", count,
                                         self._org(org, model=model_name, reason=error_type))
                        self.reg.inc("router_requests_total", forwarded, self._org(org, model=model_name))
                        self.reg.observe("router_routing_duration_seconds", ROUTING_BUCKETS, forwarded,
                                         0.003 + 0.002 * load, self._org(org))
                        # The router is the GenAI client of model-serving: it counts the tokens per request.
                        sized = 1.0 if route == "/v1/chat/completions" else 0.6
                        for token_type, median in (("input", model.input_tokens * sized),
                                                   ("output", model.output_tokens * sized)):
                            self.reg.observe("gen_ai_client_token_usage", TOKEN_BUCKETS, ok, median, {
                                "gen_ai_request_model": model_name, "gen_ai_token_type": token_type,
                                self.org_label: org, "api_key": api_key}, 0.8)

    def _model_serving(self, now: float, dt: float, load: float, trouble: float) -> None:
        for org, weight in self.orgs.items():
            limited_p = ORG_RATE_LIMITED.get(org, 0.01)
            n_emb = self._n(ROUTER_ROUTES["/v1/embeddings"][1] * weight * load, dt)
            self._http("/v1/embeddings", "POST", 200, org, n_emb, 0.1)
            for model_name, model in MODELS.items():
                for route in ("/v1/chat/completions", "/v1/completions"):
                    rate = ROUTER_ROUTES[route][1] * weight * load * model.share * (1 - limited_p)
                    n = self._n(rate, dt)
                    fails = self._failures(model, trouble, n)
                    ok = n - sum(fails.values())
                    slow = 1.0 + 0.25 * load  # queueing: busier instances answer later
                    self._http(route, "POST", 200, org, ok, model.duration * slow, 0.6)
                    common = {"gen_ai_request_model": model_name, self.org_label: org}
                    self.reg.observe("gen_ai_server_request_duration_seconds", GENAI_DURATION_BUCKETS, ok,
                                     model.duration * slow, common, 0.6)
                    self.reg.observe("gen_ai_server_time_to_first_token_seconds", TTFT_BUCKETS, ok,
                                     model.ttft * slow, common, 0.45)
                    for error_type, count in fails.items():
                        status = ERROR_TYPES[error_type][1]
                        self._http(route, "POST", status, org, count, 30.0 if error_type == "timeout" else 0.5)
                        if count:  # OpenTelemetry: error.type only on failed requests, created when one fails
                            self.reg.observe("gen_ai_server_request_duration_seconds", GENAI_DURATION_BUCKETS,
                                             count, 30.0 if error_type == "timeout" else 0.5,
                                             {**common, "error_type": error_type}, 0.3)

    def _user_org(self, now: float, dt: float, load: float, trouble: float) -> None:
        rng = self.rng
        for org, weight in self.orgs.items():
            w = weight * load
            for route, (method, rate) in USER_ORG_ROUTES.items():
                n = self._n(rate * w, dt)
                errors = binomial(rng, n, 0.003 * trouble)
                if route == "/auth/login":
                    failed = binomial(rng, n - errors, 0.06)
                    ok = n - errors - failed
                    self.reg.inc("auth_logins_total", ok, self._org(org, result="success"))
                    self.reg.inc("auth_logins_total", failed, self._org(org, result="failure"))
                    for reason, k in zip(("bad_password", "expired_token", "unknown_user"),
                                         split(rng, failed, (0.6, 0.25, 0.15)), strict=True):
                        self.reg.inc("auth_failures_total", k, self._org(org, reason=reason))
                    self.reg.inc("tokens_issued_total", ok, self._org(org, kind="session"))
                    self._http(route, method, 401, org, failed, 0.08)
                    self._http(route, method, 200, org, ok, 0.09)
                else:
                    self._http(route, method, 200, org, n - errors, 0.004 if "verify" in route else 0.03)
                    if route == "/tokens":
                        self.reg.inc("tokens_issued_total", n - errors, self._org(org, kind="api"))
                self._http(route, method, 500, org, errors, 0.2)
            for op, rate in (("create", 0.02), ("update", 0.05), ("delete", 0.005), ("invite", 0.01)):
                self.reg.inc("user_management_operations_total", self._n(rate * w, dt), self._org(org, operation=op))
            # Sessions are sticky: each instance counts the users whose sessions it holds, so the sum is right.
            users = 150 * weight * self.share * daily_wave(now) * (1 + 0.03 * math.sin(now / 53.0 + self.index))
            self.reg.set("active_users", round(users), self._org(org))
            if self.index == 0:
                # Quotas come from the database; only the leader exports them, so sum and max agree.
                for resource, limit in ORG_QUOTAS.get(org, {"tokens": 1e9, "spend_usd": 5000.0}).items():
                    self.reg.set("org_quota_limit", limit, self._org(org, resource=resource))

    def _analytics(self, now: float, dt: float, load: float, trouble: float) -> None:
        for org, weight in self.orgs.items():
            w = weight * load
            for route, (method, rate) in ANALYTICS_ROUTES.items():
                n = self._n(rate * w, dt)
                errors = binomial(self.rng, n, 0.002 * trouble)
                self._http(route, method, 200, org, n - errors, 0.008 if route == "/events" else 0.35)
                self._http(route, method, 500, org, errors, 0.5)
            for event, rate in (("request", 3.0), ("token_usage", 2.6), ("billing", 0.1)):
                self.reg.inc("usage_events_processed_total", self._n(rate * w, dt), self._org(org, event_type=event))
        # Internals of the pipeline: no org, they are the platform's.
        base = daily_wave(now)
        self.reg.observe("rollup_duration_seconds", ROLLUP_BUCKETS, poisson(self.rng, 0.5 * dt),
                         2.0 + 2.0 * base, {}, 0.4)
        self.reg.set("rollup_lag_seconds", max(0.0, 15 + 25 * base * (1 + math.sin(now / 150.0 + self.index))
                                               + self.rng.random() * 3))
        for queue, depth in (("events", 180), ("rollups", 12)):
            self.reg.set("queue_depth", max(0, round(depth * base * (1 + 0.5 * math.sin(now / 60.0 + self.index)))),
                         {"queue": queue})

    def _resources(self, now: float, dt: float) -> None:
        res, rng = self.res, self.rng
        hours = (now - self.started) / 3600.0
        busy = self.requests_in_tick / dt if dt else 0.0
        self.cpu_seconds += dt * min(res.cores, res.cpu_base + res.cpu_per_request * busy * (0.9 + 0.2 * rng.random()))
        self.reg.set("process_cpu_seconds_total", self.cpu_seconds)
        self.reg.kinds["process_cpu_seconds_total"] = "counter"
        # Memory and disk grow steadily (a slow leak, caches, data) with a little noise, so predict_linear
        # has a trend to extrapolate; instances differ a little.
        skew = 1.0 + 0.04 * self.index
        rss = res.memory_base * skew + res.memory_growth * hours + 0.02 * res.memory_base * math.sin(now / 45.0)
        self.reg.set("process_resident_memory_bytes", round(rss + rng.random() * MIB))
        self.reg.set("container_spec_memory_limit_bytes", res.memory_limit)
        self.reg.set("container_spec_cpu_period", 100000)
        self.reg.set("container_spec_cpu_quota", round(res.cores * 100000))
        fs = res.fs_base * skew + res.fs_growth * hours * daily_wave(now)
        self.reg.set("container_fs_usage_bytes", round(max(fs, res.fs_base * skew)))
        self.reg.set("container_fs_limit_bytes", res.fs_limit)

    def exposition(self, extra: LabelSet = (), types: bool = True) -> str:
        return self.reg.exposition(extra, types)


class Workload:
    """Every instance of the shared deployment."""

    def __init__(self, orgs: dict[str, float] | None = None, seed: int = 42,
                 org_label: str = DEFAULT_ORG_LABEL, history: float = 60.0) -> None:
        self.lock = threading.Lock()
        rng = random.Random(seed)
        now = time.time()
        self.instances: dict[tuple[str, str], Instance] = {}
        for service, replicas in SERVICES.items():
            for i in range(replicas):
                self.instances[(service, str(i))] = Instance(
                    service, i, dict(orgs or ORGS), random.Random(rng.random()), org_label, started=now - history)
        for inst in self.instances.values():  # some history, so counters are not all zero on the first scrape
            inst.advance(now)

    def render(self, service: str, instance: str) -> str | None:
        inst = self.instances.get((service, instance))
        if inst is None:
            return None
        with self.lock:
            inst.advance(time.time())
            return inst.exposition()

    def render_all(self) -> str:
        with self.lock:
            now = time.time()
            parts = []
            for (service, index), inst in sorted(self.instances.items()):
                inst.advance(now)
                parts.append(inst.exposition((("service_name", service), ("instance", index)), types=False))
            return "".join(parts)


def targets(host: str, port: int) -> list[tuple[str, str, str]]:
    """(service, instance label, metrics path) of every instance."""
    return [(service, f"{host}:{port}/metrics/{service}/{i}", f"/metrics/{service}/{i}")
            for service, replicas in SERVICES.items() for i in range(replicas)]


def scrape_config(host: str, port: int, *, interval: str = "15s") -> str:
    """The Prometheus `scrape_configs` entries (YAML text, one list item per service): job = the service,
    target label `service_name` = the service, `instance` = host:port/path of the instance."""
    jobs = []
    for service in SERVICES:
        items = "".join(
            f"      - targets: ['{host}:{port}']\n"
            f"        labels: {{service_name: '{service}', instance: '{instance}', __metrics_path__: '{path}'}}\n"
            for svc, instance, path in targets(host, port) if svc == service)
        jobs.append(f"  - job_name: {service}\n    scrape_interval: {interval}\n    honor_labels: false\n"
                    f"    static_configs:\n{items}")
    return "".join(jobs)


def make_handler(workload: Workload) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            body: str | None
            if parts == ["metrics"]:
                body = workload.render_all()
            elif len(parts) == 3 and parts[0] == "metrics":
                body = workload.render(parts[1], parts[2])
            elif parts == ["healthz"]:
                body = "ok\n"
            else:
                body = None
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

    return Handler


def serve(port: int, host: str = "127.0.0.1", orgs: dict[str, float] | None = None,
          org_label: str = DEFAULT_ORG_LABEL) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Workload(orgs, org_label=org_label)))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve demo metrics of a shared AI platform deployment.")
    parser.add_argument("--port", type=int, default=9464)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--orgs", default=",".join(ORGS), help="comma-separated org label values (API-key owners)")
    parser.add_argument("--org-label", default=DEFAULT_ORG_LABEL, help="label carrying the org on per-request series")
    parser.add_argument("--print-scrape-config", action="store_true")
    args = parser.parse_args(argv)
    orgs = {o: ORGS.get(o, 0.5) for o in args.orgs.split(",") if o}
    if args.print_scrape_config:
        print(scrape_config(args.host, args.port), end="")
        return
    server = serve(args.port, args.host, orgs, args.org_label)
    print(f"demo workload on http://{args.host}:{args.port}/metrics", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

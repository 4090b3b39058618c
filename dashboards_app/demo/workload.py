"""Demo workload: realistic, moving metrics of the platform's three services for several orgs.

    .venv/bin/python -m dashboards_app.demo.workload --port 9464

Each (service, org) pair is its own scrape target at `/metrics/<service>/<org>`, and Prometheus adds the
`service` and `org_id` labels from the target (see `scrape_config`). So every series, `up` included,
carries the org label the way a real multi-tenant platform's telemetry does, and the exposed text never
claims an org itself. `/metrics` serves all pairs with both labels, for a quick look with curl.
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

SERVICES = ("api-router", "user-org-service", "analytics-service")
ORGS = {"acme": 1.0, "globex": 0.6, "initech": 0.3}  # relative traffic of each org
ROUTES = {
    "api-router": ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"],
    "user-org-service": ["/auth/login", "/users", "/orgs", "/tokens"],
    "analytics-service": ["/events", "/usage", "/reports"],
}
MODELS = {"gpt-4o": 0.4, "claude-3-5-sonnet": 0.3, "llama-3-70b": 0.2, "mistral-large": 0.1}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROLLUP_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
GIB = 1024 ** 3


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[float] = field(default_factory=list)
    total: float = 0.0
    sum: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0.0] * len(self.buckets)

    def observe_many(self, n: int, median: float, rng: random.Random) -> None:
        for _ in range(n):
            v = rng.lognormvariate(math.log(median), 0.6)
            self.total += 1
            self.sum += v
            for i, b in enumerate(self.buckets):
                if v <= b:
                    self.counts[i] += 1

    def lines(self, name: str, labels: str) -> Iterable[str]:
        sep = "," if labels else ""
        for b, c in zip(self.buckets, self.counts, strict=True):
            yield f'{name}_bucket{{{labels}{sep}le="{b}"}} {c}'
        yield f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.total}'
        yield f"{name}_sum{{{labels}}} {self.sum}"
        yield f"{name}_count{{{labels}}} {self.total}"


@dataclass
class ServiceState:
    """One service as seen by one org: counters only grow; gauges wander; load follows a daily-ish wave."""

    service: str
    org: str
    scale: float
    rng: random.Random
    started: float = field(default_factory=time.time)
    last: float = field(default_factory=time.time)
    counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    hists: dict[tuple[str, tuple[tuple[str, str], ...]], Histogram] = field(default_factory=dict)
    gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    def _inc(self, name: str, amount: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def _observe(self, name: str, buckets: tuple[float, ...], n: int, median: float, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self.hists.setdefault(key, Histogram(buckets)).observe_many(n, median, self.rng)

    def _set(self, name: str, value: float, **labels: str) -> None:
        self.gauges[(name, tuple(sorted(labels.items())))] = value

    def _count(self, rate: float, dt: float) -> int:
        lam = max(0.0, rate * dt)
        # Poisson-ish without numpy: mean lam, never negative.
        return max(0, int(round(self.rng.gauss(lam, math.sqrt(lam) if lam > 0 else 0))))

    def advance(self, now: float) -> None:
        dt = min(max(0.0, now - self.last), 60.0)
        self.last = now
        age = now - self.started
        wave = 1.0 + 0.3 * math.sin(now / 300.0) + 0.1 * math.sin(now / 37.0)
        load = self.scale * wave
        rng = self.rng
        error_ratio = 0.01 + 0.02 * max(0.0, math.sin(now / 120.0))
        for i, route in enumerate(ROUTES[self.service]):
            rate = 20.0 * load / (i + 1)
            n = self._count(rate, dt)
            errors = sum(1 for _ in range(n) if rng.random() < error_ratio)
            self._inc("http_requests_total", n - errors, route=route, method="POST" if i < 2 else "GET", status="200")
            self._inc("http_requests_total", errors, route=route, method="POST" if i < 2 else "GET", status="500")
            median = 0.04 * (i + 1) * (1.0 + 0.5 * max(0.0, math.sin(now / 90.0)))
            self._observe("http_request_duration_seconds", LATENCY_BUCKETS, min(n, 200), median, route=route)
        self._inc("process_cpu_seconds_total", dt * load * (0.3 + 0.05 * rng.random()))
        # Memory and disk grow slowly (a leak, data) with little noise, so predict_linear has a trend to show.
        self._set("process_resident_memory_bytes", (0.4 + 0.05 * self.scale) * GIB + age * 20_000 + rng.random() * 1e5)
        self._set("memory_limit_bytes", 2 * GIB)
        self._set("cpu_limit_cores", 2.0)
        self._set("disk_total_bytes", 50 * GIB)
        self._set("disk_used_bytes", (10 + 5 * self.scale) * GIB + age * 20_000 * (1 + self.scale))
        getattr(self, "_" + self.service.replace("-", "_"))(now, dt, load)

    def _api_router(self, now: float, dt: float, load: float) -> None:
        for model, share in MODELS.items():
            n = self._count(30.0 * load * share, dt)
            self._inc("router_requests_total", n, model=model)
            self._observe("router_routing_duration_seconds", LATENCY_BUCKETS, min(n, 100), 0.008)
            for reason, p in (("timeout", 0.01), ("rate_limited", 0.005), ("upstream_5xx", 0.008)):
                self._inc("router_upstream_errors_total", self._count(30.0 * load * share * p, dt),
                          model=model, reason=reason)

    def _user_org_service(self, now: float, dt: float, load: float) -> None:
        self._inc("auth_logins_total", self._count(5.0 * load, dt), result="success")
        self._inc("auth_logins_total", self._count(0.3 * load, dt), result="failure")
        for reason, rate in (("bad_password", 0.2), ("expired_token", 0.08), ("unknown_user", 0.05)):
            self._inc("auth_failures_total", self._count(rate * load, dt), reason=reason)
        self._set("active_users", round(120 * self.scale * (1 + 0.2 * math.sin(now / 200.0))))
        for op, rate in (("create", 0.2), ("update", 0.5), ("delete", 0.05), ("invite", 0.1)):
            self._inc("user_management_operations_total", self._count(rate * load, dt), operation=op)
        for kind, rate in (("api", 0.3), ("session", 2.0)):
            self._inc("tokens_issued_total", self._count(rate * load, dt), kind=kind)

    def _analytics_service(self, now: float, dt: float, load: float) -> None:
        for event, rate in (("request", 50.0), ("token_usage", 40.0), ("billing", 2.0)):
            self._inc("usage_events_processed_total", self._count(rate * load, dt), event_type=event)
        self._observe("rollup_duration_seconds", ROLLUP_BUCKETS, self._count(0.5, dt), 3.0 * (1 + load / 2))
        self._set("rollup_lag_seconds", max(0.0, 20 + 40 * math.sin(now / 150.0) + self.rng.random() * 5))
        for queue, base in (("events", 200), ("rollups", 20)):
            self._set("queue_depth", max(0, round(base * load * (1 + 0.5 * math.sin(now / 60.0)))), queue=queue)

    def exposition(self, extra: str = "") -> str:
        out: list[str] = []
        sep = "," if extra else ""
        for (name, labels), value in sorted(self.counters.items()):
            out.append(f"{name}{{{extra}{sep if labels else ''}{_fmt(labels)}}} {value}")
        for (name, labels), value in sorted(self.gauges.items()):
            out.append(f"{name}{{{extra}{sep if labels else ''}{_fmt(labels)}}} {value}")
        for (name, labels), hist in sorted(self.hists.items(), key=lambda kv: kv[0]):
            lab = extra + (sep if labels else "") + _fmt(labels)
            out.extend(hist.lines(name, lab))
        return "\n".join(out) + "\n"


def _fmt(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


class Workload:
    def __init__(self, orgs: dict[str, float] | None = None, seed: int = 42) -> None:
        self.lock = threading.Lock()
        rng = random.Random(seed)
        self.states = {(s, o): ServiceState(s, o, scale, random.Random(rng.random()))
                       for s in SERVICES for o, scale in (orgs or ORGS).items()}
        now = time.time()
        for st in self.states.values():  # some history so counters are not all zero on the first scrape
            st.last = now - 5
            st.advance(now)

    def render(self, service: str, org: str) -> str | None:
        st = self.states.get((service, org))
        if st is None:
            return None
        with self.lock:
            st.advance(time.time())
            return st.exposition()

    def render_all(self) -> str:
        with self.lock:
            now = time.time()
            parts = []
            for (service, org), st in sorted(self.states.items()):
                st.advance(now)
                parts.append(st.exposition(f'service="{service}",org_id="{org}"'))
            return "".join(parts)


def scrape_config(host: str, port: int, *, interval: str = "15s", orgs: Iterable[str] = ORGS,
                  job: str = "demo-workload") -> str:
    """The Prometheus `scrape_configs` entry (YAML text, one list item) that scrapes the workload."""
    targets = []
    for service in SERVICES:
        for org in orgs:
            targets.append(
                f"      - targets: ['{host}:{port}']\n"
                f"        labels: {{service: '{service}', org_id: '{org}', "
                f"__metrics_path__: '/metrics/{service}/{org}'}}\n")
    return (f"  - job_name: {job}\n    scrape_interval: {interval}\n    honor_labels: false\n"
            f"    static_configs:\n" + "".join(targets))


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


def serve(port: int, host: str = "127.0.0.1", orgs: dict[str, float] | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(Workload(orgs)))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve demo metrics of the platform's services.")
    parser.add_argument("--port", type=int, default=9464)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--orgs", default=",".join(ORGS), help="comma-separated org label values")
    parser.add_argument("--print-scrape-config", action="store_true")
    args = parser.parse_args(argv)
    orgs = {o: ORGS.get(o, 0.5) for o in args.orgs.split(",") if o}
    if args.print_scrape_config:
        print(scrape_config(args.host, args.port, orgs=orgs))
        return
    server = serve(args.port, args.host, orgs)
    print(f"demo workload on http://{args.host}:{args.port}/metrics", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

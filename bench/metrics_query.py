"""Benchmark: federated query_range through the portal vs the same query straight to Prometheus.

Starts what it measures, in the shipped configuration: a Prometheus filled by remote write with `--series`
series (default 102,000) spread over three orgs, Redis (the result cache), its own PostgreSQL database
`portal_bench_metrics_query` (created and migrated) with three orgs and an API token, and the portal under
gunicorn as deploy/gunicorn.conf.py runs it. Every timed answer is checked: status 200, and `X-Cache`
`bypass` for the uncached requests and `hit` for the cached ones. Then, from one run:

- direct Prometheus query_range median (the reference),
- portal query_range median, uncached (`Cache-Control: no-cache`)   target ≤ 1.2× direct,
- portal query_range median, cached (X-Cache: hit)                  target ≤ 0.5× direct,
- PromQL parse+inject p99 over a mix of dashboard queries           target ≤ 1 ms,
- cached-query throughput with `--clients` concurrent clients (reported; every answer a 200, hit or
  the one miss that refills an expired entry).

    .venv/bin/python bench/metrics_query.py [--series 102000] [--samples 30] [--requests 40]
                                            [--clients 8] [--seconds 5]

The defaults take about two minutes on 2 cores. Last line: `PASS|FAIL name=value … config=…`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from tests import procs  # noqa: E402
from tests.metrics import remote_write  # noqa: E402

ORGS = ("acme", "globex", "initech")
TARGET_UNCACHED, TARGET_CACHED, TARGET_P99_MS = 1.2, 0.5, 1.0
QUERY = "sum by (job, code) (rate(bench_requests_total[5m]))"
ENFORCE_MIX = [
    QUERY,
    "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=\"api\"}[5m])))",
    "sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))",
    "topk(10, sum by (model) (increase(tokens_total[1h])))",
    "max_over_time(sum(up{job=\"router\"})[30m:1m]) unless on() absent(up)",
    "avg by (instance) (1 - rate(node_cpu_seconds_total{mode=\"idle\"}[2m])) > bool 0.8",
]


def fill_prometheus(url: str, n_series: int, samples: int, step_s: int = 60) -> int:
    """Remote-write n_series (split over the orgs), `samples` points each ending now."""
    now_ms = int(time.time() * 1000)
    stamps = [now_ms - (samples - 1 - i) * step_s * 1000 for i in range(samples)]
    batch: list[remote_write.Series] = []
    written = 0
    for i in range(n_series):
        org = ORGS[i % len(ORGS)]
        labels = {"__name__": "bench_requests_total", "org_id": org, "job": f"job{i % 7}",
                  "code": ("200", "404", "500")[i % 3], "instance": f"i{i}"}
        batch.append((labels, [(t, float(k * (1 + i % 5))) for k, t in enumerate(stamps)]))
        if len(batch) == 2000:
            remote_write.push(url + "/api/v1/write", batch)
            written += len(batch)
            batch = []
    if batch:
        remote_write.push(url + "/api/v1/write", batch)
        written += len(batch)
    return written


def setup_portal(redis_url: str) -> tuple[str, str]:
    """The bench database with three orgs and a read token of the first. Returns (database URL, token)."""
    db_url = harness.fresh_database("metrics_query", redis_url)
    from portal.tenancy import services

    orgs = [services.create_org(s, s.title(), s) for s in ORGS]
    m = services.add_member(orgs[0], "bench@acme.example", "viewer", password="Bench-pass-42")
    token = services.create_api_token(orgs[0], m.user, "bench", "read")[1]
    from django.db import connections

    connections.close_all()
    return db_url, token


def timed_get(c: httpx.Client, url: str, params: dict[str, Any], headers: dict[str, str], x_cache: str | None,
              n: int) -> list[float]:
    """`n` timed GETs, each one checked: 200 and, when given, the X-Cache the request must get."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = c.get(url, params=params, headers=headers)
        out.append(time.perf_counter() - t)
        harness.check(r.status_code == 200, f"{url}: {r.status_code} {r.text[:300]}")
        if x_cache is not None:
            harness.check(r.headers.get("X-Cache") == x_cache, f"X-Cache {r.headers.get('X-Cache')}, expected {x_cache}")
    return out


def enforce_p99_ms() -> tuple[float, float]:
    """(CPU-time p99, wall-clock p99) of parse+inject, in ms. The target is judged on CPU time: on a
    shared 2-core box the wall-clock tail measures the scheduler (other processes preempting us), not
    the code; both are printed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from metrics_app.promql import enforce

    cpu, wall = [], []
    for _ in range(500):
        for q in ENFORCE_MIX:
            t, c = time.perf_counter_ns(), time.thread_time_ns()
            enforce(q, "org_id", "acme")
            cpu.append(time.thread_time_ns() - c)
            wall.append(time.perf_counter_ns() - t)
    cpu.sort()
    wall.sort()
    i = int(len(cpu) * 0.99)
    return cpu[i] / 1e6, wall[i] / 1e6


def throughput(url: str, params: dict[str, Any], headers: dict[str, str], clients: int,
               seconds: float) -> tuple[float, dict[str, int]]:
    """Answers per second from `clients` concurrent clients, and what answered: `hit`, `miss` (the cached
    entry expired and one request refilled it) or anything else (a status other than 200: wrong)."""
    tally: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                r = c.get(url, params=params, headers=headers)
                key = str(r.headers.get("X-Cache")) if r.status_code == 200 else f"status {r.status_code}"
                with lock:
                    tally[key] = tally.get(key, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(tally.values()) / seconds, tally


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=102_000)
    ap.add_argument("--samples", type=int, default=30, help="points per series, one per minute")
    ap.add_argument("--requests", type=int, default=40, help="timed requests per measurement")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args, _ = ap.parse_known_args()  # scripts/bench.sh passes its arguments to every bench

    redis_url = harness.redis_url()
    db_url, token = setup_portal(redis_url)
    # Measured first, before Prometheus and gunicorn compete for the two cores.
    p99, p99_wall = enforce_p99_ms()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    prom = procs.start_prometheus()
    server: harness.Gunicorn | None = None
    config = "not started"
    try:
        t0 = time.monotonic()
        written = fill_prometheus(prom.url, args.series, args.samples)
        print(f"prometheus: {written} series ({args.samples} samples each) over {len(ORGS)} orgs "
              f"written in {time.monotonic() - t0:.1f}s")
        server = harness.start_gunicorn(harness.portal_env(db_url, redis_url, var_dir, PROMETHEUS_URL=prom.url),
                                        harness.free_port())
        config = harness.config_label(server.label)

        end = float(int(time.time()) // 60 * 60)  # step-aligned, as the portal aligns it
        start = end - (args.samples - 1) * 60
        params = {"query": QUERY, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": "60"}
        # Direct: the reference is the same work Prometheus does for the portal, i.e. the enforced query.
        direct_params = {**params, "query": QUERY.replace("bench_requests_total[5m]",
                                                          'bench_requests_total{org_id="acme"}[5m]')}
        portal_url = f"{server.url}/prometheus/api/v1/query_range"
        direct_url = prom.url + "/api/v1/query_range"
        auth = {"Authorization": f"Bearer {token}"}
        no_cache = {**auth, "Cache-Control": "no-cache"}
        with httpx.Client(timeout=60) as c:
            r = c.get(portal_url, params=params, headers=auth)
            harness.check(r.status_code == 200, r.text[:300])
            d = c.get(direct_url, params=direct_params).json()
            harness.check(bool(d["data"]["result"]), "the direct query returned no series")
            harness.check(r.json()["data"]["result"] == d["data"]["result"], "portal and direct results differ")
            n_out = len(d["data"]["result"])
            # Warm both paths, then interleave so drift (GC, page cache) hits both alike.
            direct, uncached = [], []
            for _ in range(args.requests):
                direct += timed_get(c, direct_url, direct_params, {}, None, 1)
                uncached += timed_get(c, portal_url, params, no_cache, "bypass", 1)
            c.get(portal_url, params=params, headers=auth)
            cached = timed_get(c, portal_url, params, auth, "hit", args.requests)
        rps, tally = throughput(portal_url, params, auth, args.clients, args.seconds)
        harness.check(set(tally) <= {"hit", "miss"}, f"throughput run answers: {tally}")
    except harness.BenchInvalid as exc:
        print(f"invalid answer: {exc}")
        return harness.verdict(False, {"valid": False}, config)
    finally:
        if server is not None:
            server.stop()
        prom.cleanup()
        shutil.rmtree(var_dir, ignore_errors=True)

    md, mu, mc = (statistics.median(x) * 1000 for x in (direct, uncached, cached))
    r_unc, r_cac = mu / md, mc / md
    print(f"query: {QUERY}  ({n_out} result series, {args.samples} points, acme's "
          f"{args.series // len(ORGS)} of {args.series} series)")
    print(f"direct prometheus median     {md:8.2f} ms")
    print(f"portal uncached median       {mu:8.2f} ms   ratio {r_unc:.2f} (target <= {TARGET_UNCACHED})")
    print(f"portal cached median         {mc:8.2f} ms   ratio {r_cac:.2f} (target <= {TARGET_CACHED})")
    print(f"parse+inject p99 (CPU time)  {p99:8.3f} ms  (target <= {TARGET_P99_MS}); wall-clock p99 "
          f"{p99_wall:.3f} ms")
    print(f"cached throughput            {rps:8.0f} req/s with {args.clients} clients, {config} (answers: {tally})")
    ok = r_unc <= TARGET_UNCACHED and r_cac <= TARGET_CACHED and p99 <= TARGET_P99_MS
    return harness.verdict(ok, {"uncached_ratio": r_unc, "cached_ratio": r_cac, "enforce_p99_ms": p99,
                                "enforce_ratio": p99 / TARGET_P99_MS, "direct_median_ms": md,
                                "cached_rps": round(rps), "valid": True}, config)


if __name__ == "__main__":
    sys.exit(main())

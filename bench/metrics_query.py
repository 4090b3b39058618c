"""Benchmark: federated query_range through the portal vs the same query straight to Prometheus (issue 5,
"Must show" 7).

Starts what it measures: a Prometheus filled by remote write with `--series` series (default 102,000)
spread over three orgs, Redis (already running; DB `--redis-db`), and the portal under gunicorn on a
fresh SQLite database with three orgs and an API token. Then, from one run:

- direct Prometheus query_range median (the reference),
- portal query_range median, uncached (`Cache-Control: no-cache`)   target ≤ 1.2× direct,
- portal query_range median, cached (X-Cache: hit)                  target ≤ 0.5× direct,
- PromQL parse+inject p99 over a mix of dashboard queries           target ≤ 1 ms,
- cached-query throughput with `--clients` concurrent clients on 2 workers (reported).

    .venv/bin/python bench/metrics_query.py [--series 102000] [--samples 30] [--requests 40]
                                            [--clients 8] [--seconds 5] [--redis-db 12]

The defaults take about two minutes on 2 cores. Last line: `PASS|FAIL name=value …`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import start_gunicorn, stop  # noqa: E402
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


def setup_portal(var_dir: Path, prom_url: str, redis_url: str) -> tuple[dict[str, str], str]:
    env = {**os.environ, "PORTAL_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'bench.sqlite3'}",
           "PROMETHEUS_URL": prom_url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "portal.settings",
           "METRICS_MAX_CONCURRENT_PER_ORG": "1000", "LOG_LEVEL": "WARNING"}
    py = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    script = (
        "from portal.tenancy import services\n"
        "orgs = [services.create_org(s, s.title(), s) for s in ('acme', 'globex', 'initech')]\n"
        "m = services.add_member(orgs[0], 'bench@acme.example', 'viewer', password='Bench-pass-42')\n"
        "print(services.create_api_token(orgs[0], m.user, 'bench', 'read')[1])\n"
    )
    out = subprocess.run([py, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return env, out.stdout.strip().splitlines()[-1]


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
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
               seconds: float) -> tuple[float, int]:
    counts = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < stop:
                r = c.get(url, params=params, headers=headers)
                if r.status_code == 200 and r.headers.get("X-Cache") == "hit":
                    counts[i] += 1
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds, sum(errors)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=102_000)
    ap.add_argument("--samples", type=int, default=30, help="points per series, one per minute")
    ap.add_argument("--requests", type=int, default=40, help="timed requests per measurement")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--redis-db", type=int, default=12)
    args = ap.parse_args()

    # Measured first, before Prometheus and gunicorn compete for the two cores.
    p99, p99_wall = enforce_p99_ms()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    prom = procs.start_prometheus()
    gunicorn: subprocess.Popen[bytes] | None = None
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    try:
        t0 = time.monotonic()
        written = fill_prometheus(prom.url, args.series, args.samples)
        print(f"prometheus: {written} series ({args.samples} samples each) over {len(ORGS)} orgs "
              f"written in {time.monotonic() - t0:.1f}s")
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        env, token = setup_portal(var_dir, prom.url, redis_url)
        port = procs.free_port()
        gunicorn = start_gunicorn(env, port, args.workers)

        end = float(int(time.time()) // 60 * 60)  # step-aligned, as the portal aligns it
        start = end - (args.samples - 1) * 60
        params = {"query": QUERY, "start": f"{start:.0f}", "end": f"{end:.0f}", "step": "60"}
        # Direct: the reference is the same work Prometheus does for the portal, i.e. the enforced query.
        direct_params = {**params, "query": QUERY.replace("bench_requests_total[5m]",
                                                          'bench_requests_total{org_id="acme"}[5m]')}
        portal_url = f"http://127.0.0.1:{port}/prometheus/api/v1/query_range"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=60) as c:
            r = c.get(portal_url, params=params, headers=auth)
            assert r.status_code == 200, r.text[:300]
            d = c.get(prom.url + "/api/v1/query_range", params=direct_params).json()
            assert r.json()["data"]["result"] == d["data"]["result"], "portal and direct results differ"
            n_out = len(d["data"]["result"])
            # Warm both paths, then interleave so drift (GC, page cache) hits both alike.
            direct, uncached = [], []
            for _ in range(args.requests):
                direct += timed(lambda: c.get(prom.url + "/api/v1/query_range", params=direct_params), 1)
                uncached += timed(lambda: c.get(portal_url, params=params,
                                                headers={**auth, "Cache-Control": "no-cache"}), 1)
            c.get(portal_url, params=params, headers=auth)
            cached = timed(lambda: c.get(portal_url, params=params, headers=auth), args.requests)
            assert c.get(portal_url, params=params, headers=auth).headers["X-Cache"] == "hit"
        rps, errors = throughput(portal_url, params, auth, args.clients, args.seconds)

        md, mu, mc = (statistics.median(x) * 1000 for x in (direct, uncached, cached))
        r_unc, r_cac = mu / md, mc / md
        print(f"query: {QUERY}  ({n_out} result series, {args.samples} points, acme's "
              f"{args.series // len(ORGS)} of {args.series} series)")
        print(f"direct prometheus median     {md:8.2f} ms")
        print(f"portal uncached median       {mu:8.2f} ms   ratio {r_unc:.2f} (target <= {TARGET_UNCACHED})")
        print(f"portal cached median         {mc:8.2f} ms   ratio {r_cac:.2f} (target <= {TARGET_CACHED})")
        print(f"parse+inject p99 (CPU time)  {p99:8.3f} ms  (target <= {TARGET_P99_MS}); wall-clock p99 "
              f"{p99_wall:.3f} ms")
        print(f"cached throughput            {rps:8.0f} req/s with {args.clients} clients, {args.workers} "
              f"gunicorn workers ({errors} non-hit answers)")
        ok = r_unc <= TARGET_UNCACHED and r_cac <= TARGET_CACHED and p99 <= TARGET_P99_MS and errors == 0
        print(f"{'PASS' if ok else 'FAIL'} uncached_ratio={r_unc:.3f} cached_ratio={r_cac:.3f} "
              f"enforce_p99_ms={p99:.3f} cached_rps={rps:.0f}")
        return 0 if ok else 1
    finally:
        stop(gunicorn)
        prom.cleanup()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

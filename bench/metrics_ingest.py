"""Benchmark: custom metrics in, end to end into Prometheus through the portal (issue 10, "Must show" 9).

Starts what it measures: a real Prometheus (remote-write receiver on), a fresh portal database
(SQLite in a temp dir, or --database-url), the portal under gunicorn (2 gthread workers), and sender
processes that post pre-built batches (10 samples per series per batch, as a remote-write queue or
an SDK with several collection cycles would) as fast as the answers come back:

1. reference: the same remote-write load straight to Prometheus's own receiver;
2. remote write through the portal (`/prometheus/api/v1/write`);
3. OTLP/HTTP protobuf through the portal (`/otlp/v1/metrics`), the same number of samples.

Every acknowledged sample is then counted back in Prometheus. Prints samples/s, the ratio to the
reference and p99 request latency. Target (issue): >= 50,000 samples/s sustained for both paths.

    .venv/bin/python bench/metrics_ingest.py [--senders 4] [--batches 30] [--series 1000] [--workers 2]

Last line: `PASS|FAIL otlp_samples_per_s=<n> remote_write_samples_per_s=<n>`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET = 50_000
SAMPLES_PER_SERIES = 10


def rw_body(name: str, sender: int, batch: int, series: int, base_ms: int, org: str | None) -> bytes:
    from metrics_in_app import remote_pb

    wr = remote_pb.WriteRequest()
    t0 = base_ms + batch * SAMPLES_PER_SERIES
    for i in range(series):
        ts = wr.timeseries.add()
        labels = {"__name__": name, "instance": f"sender-{sender}", "job": "bench", "series": str(i)}
        if org:
            labels["org_id"] = org
        for k in sorted(labels):
            ts.labels.add(name=k, value=labels[k])
        for j in range(SAMPLES_PER_SERIES):
            ts.samples.add(timestamp=t0 + j, value=float(batch * SAMPLES_PER_SERIES + j))
    return remote_pb.encode(wr)


def otlp_body(name: str, sender: int, batch: int, series: int, base_ms: int) -> bytes:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", "bench"), ("service.instance.id", f"sender-{sender}")):
        kv = rm.resource.attributes.add(key=k)
        kv.value.string_value = v
    m = rm.scope_metrics.add().metrics.add(name=name)
    t0 = base_ms + batch * SAMPLES_PER_SERIES
    for i in range(series):
        for j in range(SAMPLES_PER_SERIES):
            p = m.gauge.data_points.add(time_unix_nano=(t0 + j) * 1_000_000, as_double=float(j))
            a = p.attributes.add(key="series")
            a.value.string_value = str(i)
    return req.SerializeToString()


def sender(kind: str, url: str, token: str, idx: int, args: Any, base_ms: int, ready: Any, go: Any,
           out: Any) -> None:
    import httpx

    name = {"reference": "bench_ref", "remote_write": "bench_rw", "otlp": "bench_otlp"}[kind]
    if kind == "otlp":
        bodies = [otlp_body(name, idx, b, args.series, base_ms) for b in range(args.batches)]
        headers = {"Content-Type": "application/x-protobuf"}
    else:
        bodies = [rw_body(name, idx, b, args.series, base_ms, "bench" if kind == "reference" else None)
                  for b in range(args.batches)]
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                   "X-Prometheus-Remote-Write-Version": "0.1.0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    per_batch = args.series * SAMPLES_PER_SERIES
    acked, latencies, errors = 0, [], {}
    ready.put(idx)
    go.wait()
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            for _attempt in range(20):  # resend on 429/503, as real senders do
                t = time.perf_counter()
                r = client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t)
                if r.status_code in (200, 204):
                    acked += per_batch
                    break
                errors[r.status_code] = errors.get(r.status_code, 0) + 1
                if r.status_code not in (429, 503):
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")))
    out.put((acked, latencies, errors, time.perf_counter()))


def run_phase(kind: str, url: str, token: str, args: Any, base_ms: int) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=sender, args=(kind, url, token, i, args, base_ms, ready, go, out))
             for i in range(args.senders)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    start = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(10)
    end = max(r[3] for r in results)
    acked = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    errors: dict[int, int] = {}
    for r in results:
        for k, v in r[2].items():
            errors[k] = errors.get(k, 0) + v
    return {"acked": acked, "seconds": end - start, "rate": acked / (end - start) if end > start else 0.0,
            "p50_ms": 1000 * lat[len(lat) // 2] if lat else 0.0,
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0,
            "requests": len(lat), "errors": errors}


def count_in_prometheus(prom_url: str, name: str) -> int:
    import httpx

    r = httpx.get(prom_url + "/api/v1/query", params={"query": f'sum(count_over_time({name}{{org_id="bench"}}[2h]))'},
                  timeout=60)
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--batches", type=int, default=30, help="batches per sender and phase")
    ap.add_argument("--series", type=int, default=1000, help="series per batch (10 samples each)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    ap.add_argument("--database-url", default="")
    args, _ = ap.parse_known_args()

    from tests import procs

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-in-"))
    prom = procs.start_prometheus()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(tmp),
           "PROMETHEUS_URL": prom.url, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1",
           "METRICS_IN_SAMPLES_PER_SECOND": "100000000", "METRICS_IN_MAX_ACTIVE_SERIES": "100000000",
           "REDIS_URL": "", "CELERY_BROKER_URL": ""}
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    os.environ.update({k: v for k, v in env.items() if k != "DATABASE_URL"})
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    gunicorn = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from portal.tenancy import services

        org = services.create_org("bench", "Bench", "bench")
        token = services.create_ingest_token(org)[1]
        port = procs.free_port()
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "-k", "gthread", "-w", str(args.workers),
             "--threads", str(args.threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
             "--timeout", "120"], cwd=ROOT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        import httpx

        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        base_ms = int(time.time() * 1000) - 30 * 60 * 1000
        samples = args.senders * args.batches * args.series * SAMPLES_PER_SERIES
        print(f"load: {args.senders} senders x {args.batches} batches x {args.series} series x "
              f"{SAMPLES_PER_SERIES} samples = {samples} samples per phase; gunicorn {args.workers}x{args.threads}")
        ref = run_phase("reference", prom.url + "/api/v1/write", "", args, base_ms)
        rw = run_phase("remote_write", base + "/prometheus/api/v1/write", token, args, base_ms)
        otlp = run_phase("otlp", base + "/otlp/v1/metrics", token, args, base_ms)
        stored = {"reference": count_in_prometheus(prom.url, "bench_ref"),
                  "remote_write": count_in_prometheus(prom.url, "bench_rw"),
                  "otlp": count_in_prometheus(prom.url, "bench_otlp")}
        for name, r in (("reference", ref), ("remote_write", rw), ("otlp", otlp)):
            print(f"{name:13s} {r['rate']:>10,.0f} samples/s  acked={r['acked']} stored={stored[name]} "
                  f"in {r['seconds']:.1f}s  requests={r['requests']} p50={r['p50_ms']:.1f}ms "
                  f"p99={r['p99_ms']:.1f}ms  errors={r['errors']}")
        print(f"ratio vs reference: remote_write={rw['rate'] / ref['rate']:.2f} otlp={otlp['rate'] / ref['rate']:.2f}")
        lost = [n for n, r in (("remote_write", rw), ("otlp", otlp)) if stored[n] < r["acked"]]
        if lost:
            print(f"acknowledged samples missing in Prometheus: {lost}")
        ok = rw["rate"] >= TARGET and otlp["rate"] >= TARGET and not lost
        print(f"{'PASS' if ok else 'FAIL'} otlp_samples_per_s={otlp['rate']:.0f} "
              f"remote_write_samples_per_s={rw['rate']:.0f} reference_samples_per_s={ref['rate']:.0f} "
              f"otlp_p99_ms={otlp['p99_ms']:.1f} remote_write_p99_ms={rw['p99_ms']:.1f}")
        return 0 if ok else 1
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(15)
        prom.cleanup()


if __name__ == "__main__":
    sys.exit(main())

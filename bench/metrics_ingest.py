"""Benchmark: custom metrics in, end to end into Prometheus through the portal, in the shipped configuration,
against a same-run reference.

Starts what it measures: a real Prometheus (remote-write receiver on), its own PostgreSQL database
`portal_bench_metrics_in` (created and migrated), Redis, the portal under gunicorn as
deploy/gunicorn.conf.py runs it, and sender processes that post pre-built requests shaped as real senders
make them, as fast as the answers come back:

- remote write as Prometheus sends it: `max_samples_per_send` samples per request (2000, the default of
  Prometheus's queue_config since 2.2x, v2.53 in docker-compose.yml included), one sample per series (a
  shard's batch holds one scrape's sample of each series it owns), labels sorted, snappy-compressed
  protobuf, remote write 1.0 headers;
- OTLP/HTTP as an SDK's PeriodicExportingMetricReader sends it: one request per collection, one point per
  series (cumulative monotonic sums and gauges), each point with several attributes, the resource naming
  the service and instance.

Phases, each `--senders` × `--requests` requests:
1. reference: the same remote-write requests straight to Prometheus's own receiver (with the org label
   the portal would add);
2. remote write through the portal (`/prometheus/api/v1/write`);
3. OTLP/HTTP protobuf through the portal (`/otlp/v1/metrics`), the same number of samples.

Every answer's status is checked (2xx; 429/503 are resent, as real senders do, and counted); every
acknowledged sample is then counted back in Prometheus. Targets: >= 50,000 samples/s for both portal paths,
and each at least TARGET_RATIO of the reference's rate in the same run.

    .venv/bin/python bench/metrics_ingest.py [--senders 4] [--requests 30] [--series 4000]

Last line: `PASS|FAIL otlp_samples_per_s=… remote_write_samples_per_s=… …_ratio=… config=…`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import harness  # noqa: E402

TARGET = 50_000
# The portal decodes, checks and relabels every series and re-encodes the request for Prometheus, which
# then does the reference's whole work again: half of the reference's rate is the floor.
TARGET_RATIO = 0.5
MAX_SAMPLES_PER_SEND = 2000  # Prometheus config.DefaultQueueConfig.MaxSamplesPerSend
SCRAPE_INTERVAL_MS = 15_000
ROUTES = ["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/images", "/healthz"]
METHODS = ["GET", "POST"]
CODES = ["200", "400", "429", "500"]
REGIONS = ["eu-west-1", "us-east-1", "ap-south-1"]


def series_labels(i: int) -> dict[str, str]:
    """Several labels per series, as an instrumented HTTP service has them."""
    return {"method": METHODS[i % 2], "route": ROUTES[i // 2 % 5], "code": CODES[i // 10 % 4],
            "region": REGIONS[i // 40 % 3], "shard": str(i // 120)}


def rw_body(name: str, sender: int, request: int, args: Any, base_ms: int, org: str | None) -> bytes:
    """One request of a Prometheus remote-write shard: the next chunk of the sender's series, one sample each."""
    from metrics_in_app import remote_pb

    chunks = max(1, args.series // MAX_SAMPLES_PER_SEND)
    chunk, scrape = request % chunks, request // chunks
    wr = remote_pb.WriteRequest()
    ts_ms = base_ms + scrape * SCRAPE_INTERVAL_MS
    for i in range(chunk * MAX_SAMPLES_PER_SEND, (chunk + 1) * MAX_SAMPLES_PER_SEND):
        labels = {"__name__": name, "instance": f"10.0.{sender}.1:9100", "job": "bench", **series_labels(i)}
        if org:
            labels["org_id"] = org
        ts = wr.timeseries.add()
        for k in sorted(labels):
            ts.labels.add(name=k, value=labels[k])
        ts.samples.add(timestamp=ts_ms, value=float(scrape * 7 + i % 13))
    return remote_pb.encode(wr)


def otlp_body(name: str, sender: int, request: int, args: Any, base_ms: int) -> bytes:
    """One export of an SDK's metric reader: every series of a chunk once, with its current value."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    chunks = max(1, args.series // MAX_SAMPLES_PER_SEND)
    chunk, collection = request % chunks, request // chunks
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", f"bench-{chunk}"), ("service.instance.id", f"sender-{sender}"),
                 ("host.name", f"node-{sender}"), ("deployment.environment", "prod")):
        kv = rm.resource.attributes.add(key=k)
        kv.value.string_value = v
    sm = rm.scope_metrics.add()
    sm.scope.name = "bench"
    t_ns = (base_ms + collection * SCRAPE_INTERVAL_MS) * 1_000_000
    start_ns = base_ms * 1_000_000 - 1
    counter = sm.metrics.add(name=f"{name}.requests")
    counter.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    counter.sum.is_monotonic = True
    gauge = sm.metrics.add(name=f"{name}.inflight")
    for i in range(MAX_SAMPLES_PER_SEND):
        if i % 2 == 0:
            p = counter.sum.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=t_ns,
                                            as_double=float(collection * 7 + i % 13))
        else:
            p = gauge.gauge.data_points.add(time_unix_nano=t_ns, as_double=float(i % 13))
        for k, v in series_labels(chunk * MAX_SAMPLES_PER_SEND + i // 2).items():
            a = p.attributes.add(key=k)
            a.value.string_value = v
    return req.SerializeToString()


def sender(kind: str, url: str, token: str, idx: int, args: Any, base_ms: int, ready: Any, go: Any,
           out: Any) -> None:
    import httpx

    name = {"reference": "bench_ref", "remote_write": "bench_rw", "otlp": "bench_otlp"}[kind]
    if kind == "otlp":
        bodies = [otlp_body(name, idx, r, args, base_ms) for r in range(args.requests)]
        headers = {"Content-Type": "application/x-protobuf"}
    else:
        bodies = [rw_body(name, idx, r, args, base_ms, "bench" if kind == "reference" else None)
                  for r in range(args.requests)]
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                   "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "Prometheus/2.53.0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    acked, latencies, errors, resent = 0, [], {}, 0
    ready.put(idx)
    go.wait()
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            for _attempt in range(20):
                t = time.perf_counter()
                r = client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t)
                if r.status_code in (200, 204):
                    acked += MAX_SAMPLES_PER_SEND
                    break
                if r.status_code not in (429, 503):
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1
                    break
                resent += 1  # overload answers are resent, as real senders do
                time.sleep(float(r.headers.get("Retry-After", "1")))
    out.put((acked, latencies, errors, time.perf_counter(), resent))


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
            "requests": len(lat), "errors": errors, "resent": sum(r[4] for r in results)}


def count_in_prometheus(prom_url: str, prefix: str) -> int:
    """Samples stored in the bench org under every metric name starting with `prefix`."""
    import httpx

    names = httpx.get(prom_url + "/api/v1/label/__name__/values",
                      params={"match[]": f'{{__name__=~"{prefix}.*", org_id="bench"}}'}, timeout=60).json()["data"]
    total = 0
    for name in names:
        query = f'sum(count_over_time({name}{{org_id="bench"}}[2h]))'
        body = httpx.get(prom_url + "/api/v1/query", params={"query": query}, timeout=60).json()
        harness.check(body.get("status") == "success", f"counting {name} in Prometheus: {body}")
        total += sum(int(float(r["value"][1])) for r in body["data"]["result"])
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--requests", type=int, default=30, help="requests per sender and phase")
    ap.add_argument("--series", type=int, default=4000, help="series per sender (2000 per request)")
    args, _ = ap.parse_known_args()  # scripts/bench.sh passes its arguments to every bench

    from tests import procs

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-in-"))
    prom = procs.start_prometheus()
    redis_url = harness.redis_url()
    server = None
    config = "not started"
    try:
        db_url = harness.fresh_database("metrics_in", redis_url)
        from portal.tenancy import services

        org = services.create_org("bench", "Bench", "bench")
        token = services.create_ingest_token(org)[1]
        server = harness.start_gunicorn(harness.portal_env(db_url, redis_url, tmp, PROMETHEUS_URL=prom.url),
                                        harness.free_port())
        config = harness.config_label(server.label)
        from django.db import connections

        connections.close_all()  # the forked senders must not share this process's database connection
        base_ms = int(time.time() * 1000) - 30 * 60 * 1000
        samples = args.senders * args.requests * MAX_SAMPLES_PER_SEND
        print(f"load: {args.senders} senders x {args.requests} requests x {MAX_SAMPLES_PER_SEND} samples (one per "
              f"series, {args.series} series per sender) = {samples} samples per phase; {server.label}", flush=True)
        import httpx

        # Warm up: every worker loads its code and opens its connections before the clock runs.
        warm = SimpleNamespace(series=MAX_SAMPLES_PER_SEND)
        for i in range(2 * server.workers):
            for path, body, ctype in (
                    ("/prometheus/api/v1/write", rw_body("bench_warm", 99, i, warm, base_ms, None), "snappy"),
                    ("/otlp/v1/metrics", otlp_body("bench_warm", 99, i, warm, base_ms), "")):
                headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}",
                           **({"Content-Encoding": ctype, "X-Prometheus-Remote-Write-Version": "0.1.0"} if ctype else {})}
                r = httpx.post(server.url + path, content=body, headers=headers, timeout=60)
                harness.check(r.status_code in (200, 204), f"warm-up {path}: {r.status_code} {r.text[:300]}")
        ref = run_phase("reference", prom.url + "/api/v1/write", "", args, base_ms)
        rw = run_phase("remote_write", server.url + "/prometheus/api/v1/write", token, args, base_ms)
        otlp = run_phase("otlp", server.url + "/otlp/v1/metrics", token, args, base_ms)
        stored = {"reference": count_in_prometheus(prom.url, "bench_ref"),
                  "remote_write": count_in_prometheus(prom.url, "bench_rw"),
                  "otlp": count_in_prometheus(prom.url, "bench_otlp")}
    except harness.BenchInvalid as exc:
        print(f"invalid run: {exc}")
        return harness.verdict(False, {"valid": False}, config)
    finally:
        if server is not None:
            server.stop()
        prom.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, r in (("reference", ref), ("remote_write", rw), ("otlp", otlp)):
        print(f"{name:13s} {r['rate']:>10,.0f} samples/s  acked={r['acked']} stored={stored[name]} "
              f"in {r['seconds']:.1f}s  requests={r['requests']} resent={r['resent']} p50={r['p50_ms']:.1f}ms "
              f"p99={r['p99_ms']:.1f}ms  wrong answers={r['errors'] or 0}")
    rw_ratio = rw["rate"] / ref["rate"] if ref["rate"] else 0.0
    otlp_ratio = otlp["rate"] / ref["rate"] if ref["rate"] else 0.0
    print(f"ratio vs reference: remote_write={rw_ratio:.2f} otlp={otlp_ratio:.2f} (target >= {TARGET_RATIO})")
    lost = [n for n, r in (("reference", ref), ("remote_write", rw), ("otlp", otlp)) if stored[n] < r["acked"]]
    if lost:
        print(f"acknowledged samples missing in Prometheus: {lost}")
    valid = not lost and not any(r["errors"] for r in (ref, rw, otlp)) and all(r["acked"] for r in (ref, rw, otlp))
    ok = (valid and rw["rate"] >= TARGET and otlp["rate"] >= TARGET and rw_ratio >= TARGET_RATIO
          and otlp_ratio >= TARGET_RATIO)
    return harness.verdict(ok, {
        "otlp_samples_per_s": round(otlp["rate"]), "remote_write_samples_per_s": round(rw["rate"]),
        "reference_samples_per_s": round(ref["rate"]), "otlp_ratio": otlp_ratio, "remote_write_ratio": rw_ratio,
        "otlp_p99_ms": otlp["p99_ms"], "remote_write_p99_ms": rw["p99_ms"], "valid": valid}, config)


if __name__ == "__main__":
    sys.exit(main())

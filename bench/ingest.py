"""Benchmark: OTLP/HTTP log ingest end to end on PostgreSQL (issue 8, "Must show" 9).

Starts what it measures: a fresh PostgreSQL database (migrated), the portal under gunicorn, and several
concurrent sender processes posting OTLP/protobuf log batches (as the SDK's BatchLogRecordProcessor
does) with an ingest token. Counts records the portal answered 200 for, checks they are all in the
store, and prints records/s against the issue's reference (>= 30,000 records/s on 2 cores).

Each batch is stamped just before it is sent: its records' times span the last second, oldest first, as
an SDK's batch of records emitted over its export interval is (the bodies are encoded once; only the
fixed64 time fields are rewritten). Everything runs on the same machine: senders, gunicorn and
PostgreSQL share its cores. The CPU lines split where a record's CPU goes (gunicorn, PostgreSQL
backends, senders) and how much WAL it costs.

    .venv/bin/python bench/ingest.py [--senders 4] [--seconds 20] [--batch 1000] [--workers 2]

Last line: `PASS|FAIL ingest_records_per_s=<n>`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.harness import start_gunicorn, stop  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_logs"
TARGET = 30_000
SERVICES = ["api-router", "user-service", "analytics", "billing", "auth"]
LEVELS = [(9, 70), (13, 15), (17, 10), (5, 5)]  # (severity number, weight): info, warn, error, debug
WORDS = ("request completed upstream timeout cache miss token refreshed model loaded queue full retry "
         "connection reset by peer auth_failure rate limited payload validated").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_database(url: str) -> tuple[str, str]:
    """Recreate the bench database, migrate it, and make one org with an ingest token.
    Returns (org slug, ingest token). Must run before Django is imported elsewhere in this process."""
    import psycopg

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from portal.tenancy import services

    org = services.create_org("bench", "Bench Org", "bench")
    services.create_org("other", "Other Org", "other")
    return org.slug, services.create_ingest_token(org)[1]


class Body:
    """One serialized OTLP request and the byte offsets of its records' `time_unix_nano` (a fixed64), so a
    sender can stamp the records with the current time, in order, without re-encoding: a real SDK exports
    records emitted over the last moments, oldest first."""

    def __init__(self, data: bytes, time_offsets: list[int]) -> None:
        self.data = data
        self.time_offsets = time_offsets

    def stamped(self, now_ns: int, span_ns: int = 1_000_000_000) -> bytearray:
        buf = bytearray(self.data)
        step = span_ns // max(1, len(self.time_offsets))
        t = now_ns - span_ns
        for off in self.time_offsets:
            struct.pack_into("<Q", buf, off, t)
            t += step
        return buf


_SENTINEL = 0x5A5A_0000_0000_0000  # placeholder times, unique per record, found again in the encoding


def build_bodies(n_bodies: int, batch: int, seed: int) -> list[Body]:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    rnd = random.Random(seed)
    out = []
    sev = [s for s, w in LEVELS for _ in range(w)]
    for b in range(n_bodies):
        req = logs_service_pb2.ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        for k, v in (("service.name", SERVICES[b % len(SERVICES)]), ("host.name", f"node-{b % 7}"),
                     ("deployment.environment", "prod")):
            a = rl.resource.attributes.add()
            a.key, a.value.string_value = k, v
        sl = rl.scope_logs.add()
        sl.scope.name = "bench"
        for i in range(batch):
            lr = sl.log_records.add()
            lr.time_unix_nano = _SENTINEL + i
            lr.severity_number = rnd.choice(sev)
            lr.body.string_value = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(4, 12))) + f" #{b}-{i}"
            lr.trace_id = rnd.randbytes(16)
            lr.span_id = rnd.randbytes(8)
            for k, v in (("request_id", f"req-{rnd.randrange(10**9):09d}"), ("user_id", str(rnd.randrange(5000)))):
                a = lr.attributes.add()
                a.key, a.value.string_value = k, v
            a = lr.attributes.add()
            a.key, a.value.int_value = "latency_ms", rnd.randrange(1, 3000)
            a = lr.attributes.add()
            a.key, a.value.int_value = "status", rnd.choice([200, 200, 200, 201, 404, 500, 503])
        data = req.SerializeToString()
        offsets, pos = [], 0
        for i in range(batch):
            pos = data.index(struct.pack("<Q", _SENTINEL + i), pos)
            offsets.append(pos)
        out.append(Body(data, offsets))
    return out


def start_server(url: str, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    # Persistent connections, as a production deployment would run (a new PostgreSQL backend per request
    # costs a fork and a few milliseconds).
    env = dict(os.environ, DATABASE_URL=url + "?conn_max_age=600", DEBUG="0", ALLOWED_HOSTS="127.0.0.1,localhost",
               LOG_LEVEL="WARNING", LOGS_INGEST_MAX_CONCURRENCY="64")
    env.pop("REDIS_URL", None)
    return start_gunicorn(env, port, workers, threads)


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (those that still exist), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def gunicorn_pids(server: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [server.pid, *(int(p) for p in children.read_text().split())] if children.exists() else [server.pid]


def server_pids(server: subprocess.Popen[bytes], db_name: str) -> list[int]:
    """gunicorn's master and workers, and the PostgreSQL backends connected to the bench database."""
    pids = gunicorn_pids(server)
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        pids += [r[0] for r in c.fetchall()]
    return pids


def sender(url: str, token: str, bodies: list[Body], batch: int, seconds: float, start_at: float,
           results: Any) -> None:
    import httpx

    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"}
    ok = rejected = other = 0
    latencies: list[float] = []
    cpu0 = time.process_time()
    with httpx.Client(timeout=60) as client:
        while time.time() < start_at:
            time.sleep(0.01)
        end = start_at + seconds
        i = 0
        while time.time() < end:
            body = bodies[i % len(bodies)].stamped(time.time_ns())
            t = time.perf_counter()
            r = client.post(url, content=bytes(body), headers=headers)
            latencies.append(time.perf_counter() - t)
            i += 1
            if r.status_code == 200:
                ok += batch
            elif r.status_code in (429, 503):
                rejected += 1
            else:
                other += 1
    results.put((ok, rejected, other, latencies, time.time(), time.process_time() - cpu0))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--batch", type=int, default=1000, help="records per OTLP request (SDK default max: 512)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    print(f"setting up {args.database_url} ...", flush=True)
    _, token = setup_database(args.database_url)
    bodies = build_bodies(16, args.batch, seed=1)
    print(f"{len(bodies)} distinct bodies of {args.batch} records, {statistics.mean(len(b.data) for b in bodies) / 1024:.0f} KiB "
          f"each; cores={os.cpu_count()}", flush=True)
    port = free_port()
    server = start_server(args.database_url, port, args.workers, args.threads)
    try:
        url = f"http://127.0.0.1:{port}/otlp/v1/logs"
        # Warm up: creates today's partitions and loads code in every worker.
        import httpx

        for _ in range(args.workers * 2):
            httpx.post(url, content=bytes(bodies[0].stamped(time.time_ns())), headers={"Content-Type": "application/x-protobuf",
                                                        "Authorization": f"Bearer {token}"}, timeout=60)
        from django.db import connection

        with connection.cursor() as c:
            c.execute("SELECT count(*) FROM logs_record")
            warm = c.fetchone()[0]
        db_name = args.database_url.rpartition("/")[2]
        pids = server_pids(server, db_name)
        backend_pids = set(pids) - set(gunicorn_pids(server))
        cpu_before = cpu_seconds(pids)
        gunicorn_before = cpu_seconds([p for p in pids if p not in backend_pids])
        with connection.cursor() as c:
            c.execute("SELECT pg_current_wal_lsn()")
            wal_before = c.fetchone()[0]
        results: Any = mp.Queue()
        start_at = time.time() + 1.0
        procs = [mp.Process(target=sender, args=(url, token, bodies, args.batch, args.seconds, start_at, results))
                 for _ in range(args.senders)]
        for pr in procs:
            pr.start()
        outs = [results.get(timeout=args.seconds + 180) for _ in procs]
        for pr in procs:
            pr.join(30)
        # Backends opened during the run (a gunicorn thread's first connection) count whole: all their
        # CPU was spent in the run.
        new_pids = [p for p in server_pids(server, db_name) if p not in pids]
        server_cpu = cpu_seconds(pids) - cpu_before + cpu_seconds(new_pids)
        gunicorn_cpu = cpu_seconds([p for p in pids if p not in backend_pids]) - gunicorn_before
        elapsed = max(o[4] for o in outs) - start_at
        ok = sum(o[0] for o in outs)
        rejected = sum(o[1] for o in outs)
        other = sum(o[2] for o in outs)
        lat = sorted(x for o in outs for x in o[3])
        with connection.cursor() as c:
            c.execute("SELECT count(*) FROM logs_record")
            stored = c.fetchone()[0] - warm
            c.execute("SELECT count(*) FROM logs_record WHERE org_id <> (SELECT id FROM tenancy_organization "
                      "WHERE slug = 'bench')")
            foreign = c.fetchone()[0]
            c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
            wal_bytes = float(c.fetchone()[0])
    finally:
        stop(server)
    rate = ok / elapsed
    sender_cpu = sum(o[5] for o in outs)
    server_us = server_cpu / max(ok, 1) * 1e6
    sender_us = sender_cpu / max(ok, 1) * 1e6
    cores = os.cpu_count() or 1
    print(f"senders={args.senders} gunicorn workers={args.workers}x{args.threads} threads, {elapsed:.1f}s")
    print(f"requests={len(lat)} accepted_records={ok} stored_records={stored} overload_answers(429/503)={rejected} "
          f"errors={other} records_in_other_org={foreign}")
    if lat:
        print(f"request latency p50={lat[len(lat) // 2] * 1000:.0f}ms p95={lat[int(len(lat) * 0.95)] * 1000:.0f}ms")
    gunicorn_us = gunicorn_cpu / max(ok, 1) * 1e6
    print(f"cpu per record: server {server_us:.1f}us (gunicorn {gunicorn_us:.1f}us, postgres backends "
          f"{server_us - gunicorn_us:.1f}us), senders {sender_us:.1f}us; WAL {wal_bytes / max(stored, 1):,.0f} bytes/record")
    print(f"machine load: {os.getloadavg()[0]:.1f} (1 min avg, {cores} cores); cpu-bound capacity of {cores} dedicated "
          f"cores: {cores * 1e6 / (server_us + sender_us):,.0f} records/s (projection, not the measured figure)")
    print(f"ingest: {rate:,.0f} records/s (reference {TARGET:,}/s, ratio {rate / TARGET:.2f})")
    passed = rate >= TARGET and stored == ok and other == 0 and foreign == 0
    print(f"{'PASS' if passed else 'FAIL'} ingest_records_per_s={rate:.0f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

# ruff: noqa: S608 - the load SQL interpolates only constants of this script
"""Benchmark: log search on PostgreSQL over a large store (issue 8, "Must show" 9).

Starts what it measures: a fresh PostgreSQL database (migrated, daily partitions), loads --rows log
records (default 10,000,000, the issue's size; spread over --days days, 80 % in the measured org,
the rest in another) with indexes built after the load, then times the store's own `search()` (the
code behind GET /api/v1/logs/search) for three query shapes, --iterations each, with varying
parameters:

- filtered:    `level=error service=<X>` over one hour      reference p95 <= 100 ms
- correlation: `correlation_id=<id>` over the whole range   reference p95 <= 20 ms
- full text:   a rare word (`auth_failure`) over 24 hours   reference p95 <= 500 ms

    .venv/bin/python bench/search.py [--rows 10000000] [--days 7] [--iterations 40] [--reuse]

Loading 10 M rows takes several minutes on 2 cores (index builds dominate); `--rows 2000000` is a quick
run, and `--reuse` measures an already loaded database again. Last line: `PASS|FAIL filtered_p95_ms=…
correlation_p95_ms=… fulltext_p95_ms=…`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import setup_database  # noqa: E402 - same database setup as the ingest bench

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_search"
TARGETS_MS = {"filtered": 100.0, "correlation": 20.0, "fulltext": 500.0}
N_SERVICES = 10
WORDS = ["request", "completed", "upstream", "timeout", "cache", "miss", "token", "refreshed", "model", "loaded",
         "queue", "full", "retry", "connection", "reset", "by", "peer", "rate", "limited", "payload", "validated",
         "billing", "invoice", "webhook", "delivered", "session", "expired", "tenant", "resolved", "shard"]
PARENT_INDEXES = ["logs_record_org_time", "logs_record_org_svc_level", "logs_record_trace",
                  "logs_record_cid", "logs_record_user", "logs_record_body_trgm"]


def load(rows: int, days: int, now_us: int, bench_org: int, other_org: int) -> None:
    """Bulk load with the parent's indexes dropped, then rebuild them (as a restore would)."""
    from django.db import connection

    from logs_app.store import get_store
    from logs_app.store.postgres import DAY_US

    store = get_store()
    start_us = now_us - days * DAY_US
    with connection.cursor() as c:
        store._ensure_partitions(c, "logs_record", {d - d % DAY_US for d in range(start_us, now_us + DAY_US, DAY_US)})
        # The parent's indexes as the migrations left them, rebuilt from their own definitions after the load.
        c.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'logs_record' AND indexname = ANY(%s)",
                  [PARENT_INDEXES])
        # pg_indexes shows a partitioned table's index as "ON ONLY parent": rebuilt that way, the partitions
        # would get none.
        definitions = {name: sql.replace(" ON ONLY ", " ON ", 1) for name, sql in c.fetchall()}
        assert sorted(definitions) == sorted(PARENT_INDEXES), definitions
        for name in PARENT_INDEXES:
            c.execute(f"DROP INDEX IF EXISTS {name}")
        c.execute("SELECT setseed(0.42)")
        chunk = 500_000
        words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
        step = (now_us - start_us) / rows
        t = time.perf_counter()
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            c.execute(f"""
                INSERT INTO logs_record (org_id, time_us, service, level, severity_number, body, trace_id, span_id,
                                         correlation_id, user_id, resource, attributes)
                SELECT CASE WHEN g %% 5 = 0 THEN %s ELSE %s END,
                       %s + (g * %s)::bigint,
                       'svc-' || (g %% {N_SERVICES}),
                       lv,
                       CASE lv WHEN 'error' THEN 17 WHEN 'warn' THEN 13 WHEN 'debug' THEN 5 ELSE 9 END,
                       CASE WHEN random() < 0.001 THEN 'auth_failure for token ' ELSE '' END
                         || {words}[1 + floor(random() * {len(WORDS)})::int] || ' '
                         || {words}[1 + floor(random() * {len(WORDS)})::int] || ' '
                         || {words}[1 + floor(random() * {len(WORDS)})::int] || ' '
                         || {words}[1 + floor(random() * {len(WORDS)})::int] || ' in '
                         || floor(random() * 3000)::int || 'ms id=' || g,
                       md5((g / 8)::text), left(md5(g::text), 16),
                       'req-' || left(md5((g / 4)::text || 'c'), 20),
                       floor(random() * 10000)::int::text,
                       jsonb_build_object('service.name', 'svc-' || (g %% {N_SERVICES}), 'host.name', 'node-' || (g %% 7)),
                       jsonb_build_object('status', (ARRAY[200, 200, 200, 201, 404, 500])[1 + floor(random() * 6)::int],
                                          'latency_ms', floor(random() * 3000)::int)
                FROM (SELECT g, CASE WHEN r < 0.05 THEN 'error' WHEN r < 0.15 THEN 'warn'
                                     WHEN r < 0.25 THEN 'debug' ELSE 'info' END AS lv
                      FROM (SELECT g, random() AS r FROM generate_series(%s, %s) g) x) y
            """, [other_org, bench_org, start_us, step, offset, offset + n - 1])
            done = offset + n
            print(f"  loaded {done:,} rows ({done / (time.perf_counter() - t):,.0f}/s)", flush=True)
        t = time.perf_counter()
        c.execute("SET maintenance_work_mem = '512MB'")
        for name in PARENT_INDEXES:
            c.execute(definitions[name])
        c.execute("SELECT count(*) FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent "
                  "WHERE p.relname = ANY(%s)", [PARENT_INDEXES])
        built = c.fetchone()[0]
        c.execute("SELECT count(*) FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent WHERE p.relname = 'logs_record'")
        partitions = c.fetchone()[0]
        assert built == partitions * len(PARENT_INDEXES), f"{built} partition indexes for {partitions} partitions"
        print(f"  indexes built in {time.perf_counter() - t:.0f}s ({built} on {partitions} partitions)", flush=True)
        c.execute("ANALYZE logs_record")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default=os.environ.get("BENCH_SEARCH_DATABASE_URL", DEFAULT_DB))
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--reuse", action="store_true", help="measure an already loaded bench database")
    args = p.parse_args()

    if args.reuse:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
    else:
        print(f"setting up {args.database_url} ...", flush=True)
        setup_database(args.database_url)
    from django.db import connection

    from logs_app.store import get_store
    from logs_app.store.records import to_us
    from portal.tenancy.models import Organization

    org = Organization.objects.get(slug="bench")
    other = Organization.objects.get(slug="other")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if not args.reuse:
        t = time.perf_counter()
        load(args.rows, args.days, to_us(now), org.pk, other.pk)
        print(f"loaded {args.rows:,} rows over {args.days} days in {time.perf_counter() - t:.0f}s", flush=True)
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM logs_record")
        total = c.fetchone()[0]
        c.execute("SELECT correlation_id FROM logs_record WHERE org_id = %s AND time_us > %s LIMIT 5000",
                  [org.pk, to_us(now - timedelta(days=args.days - 1))])
        cids = [r[0] for r in c.fetchall()]
    store = get_store()
    rnd = random.Random(7)
    timings: dict[str, list[float]] = {k: [] for k in TARGETS_MS}
    counts: dict[str, list[int]] = {k: [] for k in TARGETS_MS}
    for i in range(args.iterations + 10):  # the first ten warm caches and are not counted
        hour_end = now - timedelta(hours=rnd.randrange(0, args.days * 24 - 24))
        cases = {
            "filtered": (f"level=error service=svc-{rnd.randrange(N_SERVICES)}", hour_end - timedelta(hours=1),
                         hour_end),
            "correlation": (f"correlation_id={rnd.choice(cids)}", now - timedelta(days=args.days), now),
            "fulltext": ("auth_failure", hour_end - timedelta(hours=24), hour_end),
        }
        for name, (q, start, end) in cases.items():
            t = time.perf_counter()
            page = store.search(org, q, start, end, limit=100)
            elapsed = (time.perf_counter() - t) * 1000
            if i >= 10:
                timings[name].append(elapsed)
                counts[name].append(len(page.records))
    print(f"rows in store: {total:,}; iterations per query: {args.iterations}; page size 100")
    figures = {}
    passed = True
    for name, values in timings.items():
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        figures[name] = p95
        ok = p95 <= TARGETS_MS[name]
        passed &= ok
        print(f"{name:12s} p50={p50:7.1f}ms p95={p95:7.1f}ms (reference p95 <= {TARGETS_MS[name]:.0f}ms, "
              f"ratio {p95 / TARGETS_MS[name]:.2f}) rows/page avg={sum(counts[name]) / len(counts[name]):.0f}")
    if args.rows < 10_000_000 and not args.reuse:
        print(f"note: {args.rows:,} rows, below the issue's 10,000,000")
    print(f"{'PASS' if passed else 'FAIL'} filtered_p95_ms={figures['filtered']:.1f} "
          f"correlation_p95_ms={figures['correlation']:.1f} fulltext_p95_ms={figures['fulltext']:.1f}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

# ruff: noqa: S608 - the load SQL interpolates only constants of this script
"""Benchmark: log search over a large store, through the REST API, in the shipped configuration.

Starts what it measures: its own PostgreSQL database `portal_bench_search` (created and migrated), Redis,
and the portal under gunicorn as deploy/gunicorn.conf.py runs it. Loads --rows log records (default
10,000,000; spread over --days days, 80 % in the measured org, the rest in another) generated inside
PostgreSQL (`INSERT … SELECT generate_series`, two sessions at once) with the indexes built after the load,
then times `GET /api/v1/logs/search` for three query shapes, --iterations each, with varying parameters:

- filtered:    `level=error service=<X>` over one hour      target p95 <= 100 ms
- correlation: `correlation_id=<id>` over the whole range   target p95 <= 20 ms
- full text:   a rare word (`auth_failure`) over 24 hours   target p95 <= 500 ms

Every timed answer must be 200 with a non-empty page whose records all match the query and lie in the
window; the first --oracle answers of each shape must also equal, record for record, what a plain SQL
query over the measured org's rows returns (the known subset).

`--reuse` (on in `make bench`) measures the database loaded by an earlier run again when it is still
valid: same migrations, same generator, same row count; otherwise it loads afresh. The data set is
generated around a fixed anchor time recorded with it, so the queries' windows do not depend on when the
data was loaded.

    .venv/bin/python bench/search.py [--rows 10000000] [--days 7] [--iterations 40] [--reuse]

Last line: `PASS|FAIL filtered_p95_ms=… filtered_ratio=… … config=…`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import harness  # noqa: E402

NAME = "search"
GENERATOR = "search-v2"  # change when load() changes: a reused data set must come from the same generator
TARGETS_MS = {"filtered": 100.0, "correlation": 20.0, "fulltext": 500.0}
N_SERVICES = 10
WORDS = ["request", "completed", "upstream", "timeout", "cache", "miss", "token", "refreshed", "model", "loaded",
         "queue", "full", "retry", "connection", "reset", "by", "peer", "rate", "limited", "payload", "validated",
         "billing", "invoice", "webhook", "delivered", "session", "expired", "tenant", "resolved", "shard"]
PARENT_INDEXES = ["logs_record_org_time", "logs_record_org_svc_level", "logs_record_trace",
                  "logs_record_cid", "logs_record_user", "logs_record_body_trgm"]
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def _insert_sql(bench_org: int, other_org: int, start_us: int, step: float) -> str:
    """Rows g of the data set. Every fifth belongs to the other org; a service holds rows of both orgs."""
    words = "(ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "])"
    pick = f"{words}[1 + floor(random() * {len(WORDS)})::int]"
    return f"""
        INSERT INTO logs_record (org_id, time_us, service, level, severity_number, body, trace_id, span_id,
                                 correlation_id, user_id, resource, attributes)
        SELECT CASE WHEN g %% 5 = 0 THEN {other_org} ELSE {bench_org} END,
               {start_us} + (g * {step})::bigint,
               'svc-' || (g / 5 %% {N_SERVICES}),
               lv,
               CASE lv WHEN 'error' THEN 17 WHEN 'warn' THEN 13 WHEN 'debug' THEN 5 ELSE 9 END,
               CASE WHEN r2 < 0.001 THEN 'auth_failure for token ' ELSE '' END
                 || {pick} || ' ' || {pick} || ' ' || {pick} || ' ' || {pick} || ' in '
                 || floor(r2 * 3000)::int || 'ms id=' || g,
               md5((g / 8)::text), left(md5(g::text), 16),
               'req-' || left(md5((g / 4)::text || 'c'), 20),
               floor(random() * 10000)::int::text,
               jsonb_build_object('service.name', 'svc-' || (g / 5 %% {N_SERVICES}), 'host.name', 'node-' || (g %% 7)),
               jsonb_build_object('status', (ARRAY[200, 200, 200, 201, 404, 500])[1 + floor(r2 * 6)::int],
                                  'latency_ms', floor(r2 * 3000)::int)
        FROM (SELECT g, r2, CASE WHEN r < 0.05 THEN 'error' WHEN r < 0.15 THEN 'warn'
                                 WHEN r < 0.25 THEN 'debug' ELSE 'info' END AS lv
              FROM (SELECT g, random() AS r, random() AS r2 FROM generate_series(%s, %s) g) x) y
    """


def load(db_url: str, rows: int, days: int, anchor_us: int, bench_org: int, other_org: int, sessions: int) -> None:
    """Bulk load with the parent's indexes dropped, then rebuild them (as a restore would): each partition's
    indexes are built one partition at a time, in parallel sessions, then attached to the parent's."""
    from django.db import connection

    from logs_app.store import get_store

    store = get_store()
    start_us = anchor_us - days * DAY_US
    with connection.cursor() as c:
        store._ensure_partitions(c, "logs_record", {d - d % DAY_US for d in range(start_us, anchor_us + DAY_US, DAY_US)})  # type: ignore[attr-defined]
        c.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'logs_record' AND indexname = ANY(%s)",
                  [PARENT_INDEXES])
        definitions = dict(c.fetchall())
        assert sorted(definitions) == sorted(PARENT_INDEXES), definitions
        for name in PARENT_INDEXES:
            c.execute(f"DROP INDEX IF EXISTS {name}")
        c.execute("SELECT c.relname FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                  "JOIN pg_class p ON p.oid = h.inhparent WHERE p.relname = 'logs_record' ORDER BY 1")
        partitions = [r[0] for r in c.fetchall()]
    connection.close()
    t = time.perf_counter()
    chunk = 250_000
    step = (anchor_us - start_us) / rows
    sql = _insert_sql(bench_org, other_org, start_us, step)
    harness.parallel_sql([(sql, [o, min(o + chunk, rows) - 1]) for o in range(0, rows, chunk)], sessions, db_url)
    print(f"  generated {rows:,} rows in {time.perf_counter() - t:.0f}s ({rows / (time.perf_counter() - t):,.0f}/s)",
          flush=True)
    t = time.perf_counter()
    # The parent's index, defined ON ONLY the parent (no partition builds), then each partition's own index
    # built in parallel and attached: the same indexes the migrations create, built after the load.
    parents, children, attach = [], [], []
    for name in PARENT_INDEXES:
        parents.append((definitions[name], None))
        on_parent = definitions[name].split(" USING ", 1)[1]
        for part in partitions:
            child = f"{part}_{name.removeprefix('logs_record_')}_b"
            children.append((f"CREATE INDEX {child} ON {part} USING {on_parent}", None))
            attach.append((f"ALTER INDEX {name} ATTACH PARTITION {child}", None))
    harness.parallel_sql(parents, 1, db_url)
    harness.parallel_sql(children, sessions, db_url)
    harness.parallel_sql(attach + [("ANALYZE logs_record", None)], 1, db_url)
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent "
                  "WHERE p.relname = ANY(%s)", [PARENT_INDEXES])
        built = c.fetchone()[0]
        c.execute("SELECT count(*) FROM pg_index i JOIN pg_class p ON p.oid = i.indexrelid "
                  "WHERE p.relname = ANY(%s) AND NOT i.indisvalid", [PARENT_INDEXES])
        invalid = c.fetchone()[0]
    assert built == len(partitions) * len(PARENT_INDEXES) and not invalid, f"{built} partition indexes, {invalid} invalid"
    print(f"  indexes built in {time.perf_counter() - t:.0f}s ({built} on {len(partitions)} partitions)", flush=True)
    for part in partitions:  # the store's own setting on a partition's trigram index
        with connection.cursor() as c:
            store._tune_trigram_index(c, part)  # type: ignore[attr-defined]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


def oracle(org_id: int, case: str, arg: str, start_us: int, end_us: int) -> list[str]:
    """The expected first page, by plain SQL over the org's rows (independent of the query language)."""
    from django.db import connection

    where = {"filtered": "level = 'error' AND service = %s", "correlation": "correlation_id = %s",
             "fulltext": "body ILIKE '%%' || %s || '%%'"}[case]
    with connection.cursor() as c:
        c.execute(f"SELECT time_us, id FROM logs_record WHERE org_id = %s AND time_us >= %s AND time_us < %s "
                  f"AND {where} ORDER BY time_us DESC, id DESC LIMIT 100", [org_id, start_us, end_us, arg])
        return [f"{t}.{i}" for t, i in c.fetchall()]


def check_page(case: str, arg: str, start_us: int, end_us: int, body: dict[str, Any]) -> None:
    records = body["records"]
    harness.check(bool(records), f"{case} {arg!r}: empty page")
    harness.check(body["org"] == "bench", f"{case}: answered for org {body['org']}")
    for r in records:
        t = int(r["id"].split(".")[0])
        harness.check(start_us <= t < end_us, f"{case}: record {r['id']} outside the window")
        ok = {"filtered": r["level"] == "error" and r["service"] == arg,
              "correlation": r["correlation_id"] == arg,
              "fulltext": arg in r["body"]}[case]
        harness.check(ok, f"{case} {arg!r}: record does not match: {r}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--oracle", type=int, default=5, help="answers per shape compared with plain SQL")
    p.add_argument("--sessions", type=int, default=2, help="PostgreSQL sessions loading and indexing at once")
    p.add_argument("--reuse", action="store_true", help="measure the already loaded database again when valid")
    args, _ = p.parse_known_args()  # scripts/bench.sh passes its arguments to every bench

    redis_url = harness.redis_url()
    generator = f"{GENERATOR}:days={args.days}"
    anchor_us = None
    if args.reuse:
        anchor_us = harness.reusable_dataset(NAME, redis_url, generator, args.rows, "SELECT count(*) FROM logs_record")
    db_url = harness.database_url(NAME)
    from_scratch = anchor_us is None
    if anchor_us is None:
        harness.fresh_database(NAME, redis_url)
        from portal.tenancy import services

        services.create_org("bench", "Bench Org", "bench")
        services.create_org("other", "Other Org", "other")
        anchor_us = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp()) * 1_000_000
    from portal.tenancy import services
    from portal.tenancy.models import Organization

    org = Organization.objects.get(slug="bench")
    other = Organization.objects.get(slug="other")
    if from_scratch:
        t = time.perf_counter()
        load(db_url, args.rows, args.days, anchor_us, org.pk, other.pk, args.sessions)
        harness.record_dataset(NAME, generator, args.rows, anchor_us)
        print(f"loaded {args.rows:,} rows over {args.days} days in {time.perf_counter() - t:.0f}s", flush=True)
    member = services.add_member(org, f"search-{time.time_ns()}@bench.example", "viewer")
    token = services.create_api_token(org, member.user, "bench", "read")[1]
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM logs_record")
        total = c.fetchone()[0]
        c.execute("SELECT correlation_id FROM logs_record WHERE org_id = %s AND time_us > %s LIMIT 5000",
                  [org.pk, anchor_us - args.days * DAY_US])
        cids = [r[0] for r in c.fetchall()]
    rnd = random.Random(7)
    timings: dict[str, list[float]] = {k: [] for k in TARGETS_MS}
    counts: dict[str, list[int]] = {k: [] for k in TARGETS_MS}
    checked = dict.fromkeys(TARGETS_MS, 0)
    server = harness.start_gunicorn(harness.portal_env(db_url, redis_url), harness.free_port())
    config = harness.config_label(server.label)
    import httpx

    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for i in range(args.iterations + 10):  # the first ten warm caches and are not counted
                hour_end = anchor_us - rnd.randrange(0, max(1, args.days * 24 - 24)) * HOUR_US
                service = f"svc-{rnd.randrange(N_SERVICES)}"
                cid = rnd.choice(cids)
                cases = {
                    "filtered": (f"level=error service={service}", service, hour_end - HOUR_US, hour_end),
                    "correlation": (f"correlation_id={cid}", cid, anchor_us - args.days * DAY_US, anchor_us),
                    "fulltext": ("auth_failure", "auth_failure", hour_end - 24 * HOUR_US, hour_end),
                }
                for name, (q, arg, start_us, end_us) in cases.items():
                    params = {"q": q, "start": iso(start_us), "end": iso(end_us), "limit": 100}
                    t = time.perf_counter()
                    r = client.get("/api/v1/logs/search", params=params)
                    elapsed = (time.perf_counter() - t) * 1000
                    harness.check(r.status_code == 200, f"{name}: {r.status_code} {r.text[:300]}")
                    body = r.json()
                    check_page(name, arg, start_us, end_us, body)
                    if checked[name] < args.oracle:
                        got = [rec["id"] for rec in body["records"]]
                        want = oracle(org.pk, name, arg, start_us, end_us)
                        harness.check(got == want, f"{name} {q!r}: {len(got)} records, plain SQL gives {len(want)}; "
                                                   f"first differ: {got[:2]} vs {want[:2]}")
                        checked[name] += 1
                    if i >= 10:
                        timings[name].append(elapsed)
                        counts[name].append(len(body["records"]))
    except harness.BenchInvalid as exc:
        print(f"invalid answer: {exc}")
        return harness.verdict(False, {"valid": False}, config)
    finally:
        server.stop()
    print(f"rows in store: {total:,}; iterations per query: {args.iterations}; page size 100; answers compared "
          f"with plain SQL: {sum(checked.values())}")
    figures: dict[str, Any] = {}
    passed = True
    for name, values in timings.items():
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        figures[f"{name}_p95_ms"] = p95
        figures[f"{name}_ratio"] = p95 / TARGETS_MS[name]
        passed &= p95 <= TARGETS_MS[name]
        print(f"{name:12s} p50={p50:7.1f}ms p95={p95:7.1f}ms (target p95 <= {TARGETS_MS[name]:.0f}ms, "
              f"ratio {p95 / TARGETS_MS[name]:.2f}) rows/page avg={sum(counts[name]) / len(counts[name]):.0f}")
    if args.rows < 10_000_000:
        print(f"note: {args.rows:,} rows, below the specified 10,000,000")
    figures["rows"] = total
    figures["reused"] = not from_scratch
    figures["valid"] = True
    return harness.verdict(passed, figures, config)


if __name__ == "__main__":
    sys.exit(main())

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
- facets:      `GET /api/v1/logs/facets` of a query over 24 hours (sample of 10,000)   target p95 <= 300 ms
- counts:      `GET /api/v1/logs/counts` by service/level/status over 24 hours, 60 buckets   target p95 <= 300 ms
  (measure_analytics: each answer non-empty; the first --oracle equal plain SQL over the same rows)

Then the service pages (docs/services.md), over --spans spans (default 1,000,000) in the 24 hours before the
anchor, generated the same way (a quarter are requests, the rest client/internal children):

- service page: `GET /api/v1/services/<X>/summary` over 24 hours     target p95 <= 500 ms
- services list: `GET /api/v1/services/` over 24 hours               target p95 <= 500 ms

Each must be non-empty; its totals must equal a plain count over the org's rows, and for the first --oracle
answers the service's request count, error count and p50/p95/p99 must equal those computed in Python from
the durations a plain SELECT returns (the known subset).

Every timed answer must be 200 with a non-empty page whose records all match the query and lie in the
window; the first --oracle answers of each shape must also equal, record for record, what a plain SQL
query over the measured org's rows returns (the known subset).

`--store clickhouse` then measures the ClickHouse store too, beside these figures (bench/search_clickhouse.py):
--ch-rows rows (default 100,000,000) generated inside the engine, the filtered, correlation and full-text
shapes through the store's API (targets p95 <= 200 ms, 100 ms, 1 s) and its bytes on disk per row (<= 60),
printed in one table with PostgreSQL's p95 and bytes per row of the same run.

`--reuse` (on in `make bench`) measures the database loaded by an earlier run again when it is still
valid: same migrations, same generator, same row count; otherwise it loads afresh. The data set is
generated around a fixed anchor time recorded with it, so the queries' windows do not depend on when the
data was loaded.

    .venv/bin/python bench/search.py [--rows 10000000] [--days 7] [--iterations 40] [--reuse]
                                     [--store clickhouse [--ch-rows 100000000] [--ch-dir DIR]]

Last line: `PASS|FAIL filtered_p95_ms=… filtered_ratio=… … config=…`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
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


# -- analytics: facets and counts over time by a field (logs_app/store/facets.py) ------------------------

ANALYTICS_TARGETS_MS = {"facets": 300.0, "counts": 300.0}
FACET_SAMPLE = 10_000  # the API's default sample: the newest this many matching records


def analytics_cases(rnd: random.Random, anchor_us: int, days: int) -> dict[str, tuple[dict[str, Any], str, list[Any]]]:
    """One facets and one counts request over 24 hours, with the plain-SQL condition each one's query means."""
    end_us = anchor_us - rnd.randrange(0, max(1, days * 24 - 24)) * HOUR_US
    service = f"svc-{rnd.randrange(N_SERVICES)}"
    window = {"start": iso(end_us - 24 * HOUR_US), "end": iso(end_us)}
    facet_q, facet_sql, facet_args = rnd.choice([
        ("", "TRUE", []), ("level=error", "level = 'error'", []), (f"service={service}", "service = %s", [service])])
    by, counts_q, counts_sql, counts_args = rnd.choice([
        ("service", "level=error", "level = 'error'", []), ("level", f"service={service}", "service = %s", [service]),
        ("status", "level=warn", "level = 'warn'", [])])
    return {
        "facets": ({"q": facet_q, **window}, facet_sql, facet_args),
        "counts": ({"q": counts_q, "by": by, "buckets": 60, "top": 5, **window}, counts_sql, [by, *counts_args]),
    }


def _window_us(params: dict[str, Any]) -> tuple[int, int]:
    def us(text: str) -> int:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000
    return us(params["start"]), us(params["end"])


def check_facets(org_id: int, params: dict[str, Any], where: str, args: list[Any], body: dict[str, Any],
                 against_sql: bool) -> None:
    """Non-empty, bounded as stated; with `against_sql`, every service/level/status count equals plain SQL over
    the same sample (the newest FACET_SAMPLE matching rows of the org in the window)."""
    harness.check(body.get("org") == "bench", f"facets: answered for org {body.get('org')}")
    harness.check(bool(body["service"]) and bool(body["level"]), f"facets {params['q']!r}: empty")
    harness.check(body["sample"]["records"] <= FACET_SAMPLE, f"facets: sample {body['sample']} over the limit")
    if not against_sql:
        return
    from django.db import connection

    start_us, end_us = _window_us(params)
    sample = (f"SELECT service, level, attributes->>'status' AS status FROM logs_record WHERE org_id = %s "
              f"AND time_us >= %s AND time_us < %s AND {where} ORDER BY time_us DESC LIMIT {FACET_SAMPLE}")
    with connection.cursor() as c:
        for column, got in (("service", body["service"]), ("level", body["level"]),
                            ("status", next(a["values"] for a in body["attributes"] if a["key"] == "status"))):
            c.execute(f"SELECT {column}, count(*) FROM ({sample}) s GROUP BY 1", [org_id, start_us, end_us, *args])
            want = {str(v): int(n) for v, n in c.fetchall()}
            for v in got:
                harness.check(want.get(v["value"]) == v["count"],
                              f"facets {params['q']!r}: {column}={v['value']} counted {v['count']}, "
                              f"plain SQL {want.get(v['value'])}")


def check_counts(org_id: int, params: dict[str, Any], where: str, args: list[Any], body: dict[str, Any],
                 against_sql: bool) -> None:
    """Non-empty, 60 buckets; with `against_sql`, each top value's total and the sum of all series equal plain
    SQL over the org's rows in the window."""
    harness.check(body.get("org") == "bench", f"counts: answered for org {body.get('org')}")
    harness.check(bool(body["series"]) and all(len(s["counts"]) == 60 for s in body["series"]),
                  f"counts {params['q']!r} by {params['by']}: empty or wrong bucket count")
    if not against_sql:
        return
    from django.db import connection

    by, *rest = args
    column = "attributes->>'status'" if by == "status" else by
    start_us, end_us = _window_us(params)
    with connection.cursor() as c:
        c.execute(f"SELECT COALESCE({column}, ''), count(*) FROM logs_record WHERE org_id = %s AND time_us >= %s "
                  f"AND time_us < %s AND {where} GROUP BY 1", [org_id, start_us, end_us, *rest])
        want = {str(v): int(n) for v, n in c.fetchall()}
    harness.check(sum(s["total"] for s in body["series"]) == sum(want.values()),
                  f"counts {params['q']!r}: {sum(s['total'] for s in body['series'])} records, plain SQL "
                  f"{sum(want.values())}")
    for s in body["series"]:
        if s["value"] is not None:
            harness.check(want.get(s["value"]) == s["total"], f"counts {params['q']!r} by {by}: {s['value']} "
                                                              f"{s['total']}, plain SQL {want.get(s['value'])}")


def measure_analytics(client: Any, org_id: int, anchor_us: int, days: int, iterations: int, n_oracle: int,
                      rnd: random.Random) -> dict[str, list[float]]:
    """Time facets and counts-by-field requests (24-hour windows); the first `n_oracle` of each are checked
    against plain SQL, every one for being non-empty. The first five warm caches and are not counted."""
    timings: dict[str, list[float]] = {k: [] for k in ANALYTICS_TARGETS_MS}
    checks = {"facets": check_facets, "counts": check_counts}
    for i in range(iterations + 5):
        for name, (params, where, args) in analytics_cases(rnd, anchor_us, days).items():
            t = time.perf_counter()
            r = client.get(f"/api/v1/logs/{name}", params=params)
            elapsed = (time.perf_counter() - t) * 1000
            harness.check(r.status_code == 200, f"{name}: {r.status_code} {r.text[:300]}")
            checks[name](org_id, params, where, args, r.json(), against_sql=i < n_oracle)
            if i >= 5:
                timings[name].append(elapsed)
    return timings


# -- service pages ----------------------------------------------------------------------------------------

SERVICE_TARGETS_MS = {"service_page": 500.0, "services_list": 500.0}
SPAN_GENERATOR = "spans-v1"
ROUTES = ["/v1/chat", "/v1/models", "/v1/embeddings", "/v1/users/{id}", "/v1/orgs/{id}", "/v1/usage", "/healthz",
          "/v1/files"]


def _span_sql(bench_org: int, other_org: int, start_us: int, step: float) -> str:
    """Spans g: every fourth a server request (root), the others its client/internal children in the same
    trace; durations log-uniform in 1 ms .. 3 s; 3 % errors; every fifth in the other org."""
    routes = "(ARRAY[" + ",".join(f"'{r}'" for r in ROUTES) + "])"
    return f"""
        INSERT INTO logs_span (org_id, trace_id, span_id, parent_span_id, name, service, kind, status,
                               status_message, start_us, end_us, duration_ms, resource, attributes, events)
        SELECT CASE WHEN g %% 5 = 0 THEN {other_org} ELSE {bench_org} END,
               md5('t' || (g / 4)::text), left(md5('s' || g::text), 16),
               CASE WHEN g %% 4 = 0 THEN '' ELSE left(md5('s' || (g - g %% 4)::text), 16) END,
               CASE WHEN g %% 4 = 0 THEN method || ' ' || route WHEN g %% 4 = 1 THEN 'SELECT ' || (g %% 7)
                    ELSE 'render ' || (g %% 5) END,
               'svc-' || (g / 5 %% {N_SERVICES}),
               CASE WHEN g %% 4 = 0 THEN 'server' WHEN g %% 4 = 1 THEN 'client' ELSE 'internal' END,
               CASE WHEN r < 0.03 THEN 'error' ELSE 'ok' END, '',
               st, st + (dur * 1000)::bigint, (dur * 1000)::bigint / 1000.0, '{{}}'::jsonb,
               CASE WHEN g %% 4 = 0 THEN jsonb_build_object('http.route', route, 'http.request.method', method)
                    ELSE '{{}}'::jsonb END, '[]'::jsonb
        FROM (SELECT g, random() AS r, {start_us} + (g * {step})::bigint AS st, exp(random() * 8) AS dur,
                     {routes}[1 + floor(random() * {len(ROUTES)})::int] AS route,
                     (ARRAY['GET', 'GET', 'POST'])[1 + floor(random() * 3)::int] AS method
              FROM generate_series(%s, %s) g) x
    """


def load_spans(db_url: str, spans: int, anchor_us: int, bench_org: int, other_org: int, sessions: int) -> None:
    """--spans spans in the 24 hours before the anchor (replacing any earlier set), then VACUUM ANALYZE."""
    from django.db import connection

    from logs_app.store import get_store

    start_us = anchor_us - DAY_US
    with connection.cursor() as c:
        get_store()._ensure_partitions(c, "logs_span", {d - d % DAY_US for d in (start_us, anchor_us - 1)})  # type: ignore[attr-defined]
        c.execute("TRUNCATE logs_span")
    connection.close()
    t = time.perf_counter()
    chunk = 250_000
    sql = _span_sql(bench_org, other_org, start_us, DAY_US / spans)
    harness.parallel_sql([(sql, [o, min(o + chunk, spans) - 1]) for o in range(0, spans, chunk)], sessions, db_url)
    # What autovacuum does after a bulk insert (PostgreSQL 13+ vacuums insert-only tables too): statistics,
    # and the visibility map the service pages' index-only scans rely on (docs/services.md, Speed).
    harness.parallel_sql([("VACUUM (ANALYZE) logs_span", None)], 1, db_url)
    print(f"  generated {spans:,} spans in {time.perf_counter() - t:.0f}s", flush=True)


def spans_loaded(spans: int, anchor_us: int) -> bool:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT count(*), min(start_us), max(start_us) FROM logs_span")
        n, first, last = c.fetchone()
    return bool(n == spans and first is not None and first >= anchor_us - DAY_US and last < anchor_us)


def exact_pct(values: list[float], q: float) -> float:
    """Linear interpolation between the nearest ranks: the definition the store uses on every engine."""
    s = sorted(values)
    h = (len(s) - 1) * q
    lo = int(h)
    return s[lo] + (s[lo + 1] - s[lo]) * (h - lo) if lo + 1 < len(s) else s[lo]


def service_oracle(org_id: int, service: str, start_us: int, end_us: int) -> dict[str, float]:
    """Requests, errors and percentiles of one service, from the raw durations (plain SQL + Python)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT duration_ms, status FROM logs_span WHERE org_id = %s AND service = %s AND start_us >= %s "
                  "AND start_us < %s AND (kind IN ('server', 'consumer') OR parent_span_id = '')",
                  [org_id, service, start_us, end_us])
        rows = c.fetchall()
    durations = [float(d) for d, _ in rows]
    return {"count": len(rows), "errors": sum(1 for _, st in rows if st == "error"),
            **{f"p{round(q * 100)}_ms": exact_pct(durations, q) for q in (0.5, 0.95, 0.99)}}


def check_summary(body: dict[str, Any], service: str, start_us: int, end_us: int,
                  want: dict[str, float] | None) -> None:
    totals = body["totals"]
    harness.check(body["service"] == service and totals["count"] > 0, f"service {service}: empty summary")
    harness.check(sum(b["count"] for b in body["series"]) == totals["count"], f"{service}: buckets != totals")
    harness.check(bool(body["endpoints"]) and bool(body["operations"]) and bool(body["slowest_traces"]),
                  f"{service}: no endpoints, operations or traces")
    for r in body["slowest_traces"]:
        t = datetime.fromisoformat(r["start"]).timestamp() * 1e6
        harness.check(start_us <= t < end_us, f"{service}: trace {r['trace_id']} outside the window")
    if want is not None:
        for key, value in want.items():
            harness.check(abs(totals[key] - value) <= 0.001 + 1e-9 * abs(value),
                          f"{service}: {key} {totals[key]} but the raw rows give {value}")


def measure_services(client: Any, org_id: int, anchor_us: int, iterations: int, oracles: int,
                     rnd: random.Random) -> dict[str, list[float]]:
    """Time the service page and the services list over the 24 hours of spans; check every answer."""
    timings: dict[str, list[float]] = {k: [] for k in SERVICE_TARGETS_MS}
    start_us, end_us = anchor_us - DAY_US, anchor_us
    window = {"start": iso(start_us), "end": iso(end_us)}
    checked = 0
    for i in range(iterations + 5):  # the first five warm caches and are not counted
        service = f"svc-{rnd.randrange(N_SERVICES)}"
        t = time.perf_counter()
        r = client.get(f"/api/v1/services/{service}/summary", params=window)
        elapsed = (time.perf_counter() - t) * 1000
        harness.check(r.status_code == 200, f"service page: {r.status_code} {r.text[:300]}")
        want = service_oracle(org_id, service, start_us, end_us) if checked < oracles else None
        check_summary(r.json(), service, start_us, end_us, want)
        checked += want is not None
        if i >= 5:
            timings["service_page"].append(elapsed)
        t = time.perf_counter()
        r = client.get("/api/v1/services/", params=window)
        elapsed = (time.perf_counter() - t) * 1000
        harness.check(r.status_code == 200, f"services list: {r.status_code} {r.text[:300]}")
        listed = {s["service"]: s["count"] for s in r.json()["services"]}
        harness.check(len(listed) == N_SERVICES and all(listed.values()), f"services list: {listed}")
        if i >= 5:
            timings["services_list"].append(elapsed)
    print(f"service pages: {iterations} timed per shape, {checked} compared with the raw rows")
    return timings


def _report(figures: dict[str, Any], timings: dict[str, list[float]], targets: dict[str, float],
            detail: Callable[[str], str]) -> bool:
    """Print each query shape's p50/p95 against its target, add them to the figures; True when all pass."""
    passed = True
    for name, values in timings.items():
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        figures[f"{name}_p95_ms"] = p95
        figures[f"{name}_ratio"] = p95 / targets[name]
        passed &= p95 <= targets[name]
        print(f"{name:13s} p50={p50:7.1f}ms p95={p95:7.1f}ms (target p95 <= {targets[name]:.0f}ms, "
              f"ratio {p95 / targets[name]:.2f}) {detail(name)}")
    return passed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--oracle", type=int, default=5, help="answers per shape compared with plain SQL")
    p.add_argument("--sessions", type=int, default=2, help="PostgreSQL sessions loading and indexing at once")
    p.add_argument("--reuse", action="store_true", help="measure the already loaded database again when valid")
    p.add_argument("--spans", type=int, default=1_000_000, help="spans in the 24 hours the service pages read")
    p.add_argument("--service-iterations", type=int, default=20)
    p.add_argument("--name", default=NAME, help="the bench database is portal_bench_<name> (a trial run's own)")
    p.add_argument("--store", choices=["postgres", "clickhouse"], default="postgres",
                   help="clickhouse: also measure the ClickHouse store (bench/search_clickhouse.py) beside PostgreSQL")
    p.add_argument("--ch-rows", type=int, default=100_000_000, help="rows of the ClickHouse data set")
    p.add_argument("--ch-dir", default="/var/tmp/portal-bench-chdb", help="where the ClickHouse data set lives")
    args, _ = p.parse_known_args()  # scripts/bench.sh passes its arguments to every bench

    redis_url = harness.redis_url()
    generator = f"{GENERATOR}:days={args.days}"
    anchor_us = None
    if args.reuse:
        anchor_us = harness.reusable_dataset(args.name, redis_url, generator, args.rows, "SELECT count(*) FROM logs_record")
    db_url = harness.database_url(args.name)
    from_scratch = anchor_us is None
    if anchor_us is None:
        harness.fresh_database(args.name, redis_url)
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
        harness.record_dataset(args.name, generator, args.rows, anchor_us)
        print(f"loaded {args.rows:,} rows over {args.days} days in {time.perf_counter() - t:.0f}s", flush=True)
    if from_scratch or not spans_loaded(args.spans, anchor_us):
        load_spans(db_url, args.spans, anchor_us, org.pk, other.pk, args.sessions)
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
                    params: dict[str, Any] = {"q": q, "start": iso(start_us), "end": iso(end_us), "limit": 100}
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
            service_timings = measure_services(client, org.pk, anchor_us, args.service_iterations, args.oracle, rnd)
            analytics = measure_analytics(client, org.pk, anchor_us, args.days, args.iterations, args.oracle, rnd)
    except harness.BenchInvalid as exc:
        print(f"invalid answer: {exc}")
        return harness.verdict(False, {"valid": False}, config)
    finally:
        server.stop()
    print(f"rows in store: {total:,}; iterations per query: {args.iterations}; page size 100; answers compared "
          f"with plain SQL: {sum(checked.values())}")
    figures: dict[str, Any] = {}
    passed = _report(figures, timings, TARGETS_MS, lambda name: f"rows/page avg={sum(counts[name]) / len(counts[name]):.0f}")
    passed &= _report(figures, analytics, ANALYTICS_TARGETS_MS, lambda _: "over 24 h windows")
    passed &= _report(figures, service_timings, SERVICE_TARGETS_MS, lambda _: f"over {args.spans:,} spans in 24 h")
    if args.spans < 1_000_000:
        print(f"note: {args.spans:,} spans, below the specified 1,000,000")
    if args.rows < 10_000_000:
        print(f"note: {args.rows:,} rows, below the specified 10,000,000")
    from logs_app.store import get_store

    figures["store"] = get_store().name
    figures["rows"] = total
    figures["reused"] = not from_scratch
    if args.store == "clickhouse":
        from bench import search_clickhouse

        pg_p95 = {k: figures[f"{k}_p95_ms"] for k in TARGETS_MS}
        try:
            ch_passed, ch_figures = search_clickhouse.run(args, org, other, pg_p95, total, pg_bytes_per_row(total), pct)
        except harness.BenchInvalid as exc:
            print(f"invalid answer: {exc}")
            return harness.verdict(False, {**figures, "valid": False}, config + ",clickhouse=chdb(in-process)")
        passed &= ch_passed
        figures.update(ch_figures)
        config += ",clickhouse=chdb(in-process)"
    figures["valid"] = True
    return harness.verdict(passed, figures, config)


def pg_bytes_per_row(rows: int) -> float:
    """logs_record's partitions with their indexes and TOAST, per row."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('logs_record')")
        return float(c.fetchone()[0] or 0) / max(1, rows)


if __name__ == "__main__":
    sys.exit(main())

# ruff: noqa: S608 - the load SQL interpolates only constants of this module; query values are bound
"""The ClickHouse half of `bench/search.py --store clickhouse` (a helper module, not a bench of its own).

The engine runs in this process (`chdb`: ClickHouse as a library, one process per data directory), so the
queries go through the store's Python API (`ClickHouseLogStore.search`: the search language compiled to
ClickHouse SQL with bound parameters, the org condition, the time budget), not through gunicorn: a server
is what a deployment talks to (`LOGS_STORE_URL=clickhouse://…`) and there is none on this machine.

The data set: --ch-rows log rows (default 100,000,000) over --days days before a fixed anchor, generated
inside the engine (`INSERT … SELECT … FROM numbers(N)`), shaped as the PostgreSQL bench's (80 % in the
measured org, ten services, 5 % errors, four words of thirty per body, one body in a thousand holding
`auth_failure`, a trace id shared by eight rows, a correlation id by four). It lives in a data directory
under --ch-dir and, with --reuse (as `make bench` runs it), is measured again while its generator, row count
and org ids match.

Timed, --iterations each after ten warm-up queries, with the PostgreSQL shapes and targets of the issue:
filtered (`level=error service=<X>`, one hour) p95 <= 200 ms, correlation id (whole range) p95 <= 100 ms,
full text (`auth_failure`, 24 hours) p95 <= 1 s; every page non-empty and matching, the first --oracle of each
equal record for record to a plain SQL query. Storage: bytes on disk per row of `logs_record` (active parts,
indexes and marks included) <= 60.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import harness

GENERATOR = "search-ch-v1"
TARGETS_MS = {"filtered": 200.0, "correlation": 100.0, "fulltext": 1000.0}
TARGET_BYTES_PER_ROW = 60.0
N_SERVICES = 10
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
WORDS = ["request", "completed", "upstream", "timeout", "cache", "miss", "token", "refreshed", "model", "loaded",
         "queue", "full", "retry", "connection", "reset", "by", "peer", "rate", "limited", "payload", "validated",
         "billing", "invoice", "webhook", "delivered", "session", "expired", "tenant", "resolved", "shard"]


def _insert_sql(bench_org: int, other_org: int, start_us: int, step: float, first: int, rows: int) -> str:
    words = "[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    pick = [f"arrayElement({words}, 1 + rand({k}) % {len(WORDS)})" for k in range(4)]
    md5 = "lower(hex(MD5({})))"
    return f"""
        INSERT INTO logs_record (org_id, time_us, service, level, severity_number, body, trace_id, span_id,
                                 correlation_id, user_id, resource, attributes, retention_days)
        SELECT if(g % 5 = 0, {other_org}, {bench_org}),
               {start_us} + toInt64(g * {step}),
               concat('svc-', toString(intDiv(g, 5) % {N_SERVICES})) AS svc,
               multiIf(r < 0.05, 'error', r < 0.15, 'warn', r < 0.25, 'debug', 'info') AS lv,
               multiIf(lv = 'error', 17, lv = 'warn', 13, lv = 'debug', 5, 9),
               concat(if(r2 < 0.001, 'auth_failure for token ', ''), {pick[0]}, ' ', {pick[1]}, ' ', {pick[2]}, ' ',
                      {pick[3]}, ' in ', toString(toUInt32(r2 * 3000)), 'ms id=', toString(g)),
               {md5.format("toString(intDiv(g, 8))")},
               substring({md5.format("toString(g)")}, 1, 16),
               concat('req-', substring({md5.format("concat(toString(intDiv(g, 4)), 'c')")}, 1, 20)),
               toString(rand(7) % 10000),
               concat('{{"service.name":"', svc, '","host.name":"node-', toString(g % 7), '"}}'),
               concat('{{"status":', toString([200, 200, 200, 201, 404, 500][1 + toUInt8(r2 * 6) % 6]),
                      ',"latency_ms":', toString(toUInt32(r2 * 3000)), '}}'),
               3650
        FROM (SELECT number + {first} AS g, randCanonical(1) AS r, randCanonical(2) AS r2 FROM numbers({rows}))
    """


def _open(path: Path) -> Any:
    from logs_app.store.clickhouse import ClickHouseLogStore
    from logs_app.store.clickhouse_exec import ChdbExecutor

    return ClickHouseLogStore(ChdbExecutor(str(path), database="bench_search"))


def _dataset(store: Any) -> dict[str, Any] | None:
    ex = store.executor
    ex.execute("CREATE TABLE IF NOT EXISTS bench_dataset (doc String) ENGINE = MergeTree ORDER BY tuple()")
    rows = ex.execute("SELECT doc FROM bench_dataset LIMIT 1")
    return json.loads(rows[0][0]) if rows else None


def load_or_reuse(path: Path, rows: int, days: int, bench_org: int, other_org: int,
                  reuse: bool) -> tuple[Any, int, bool]:
    """(store, anchor µs, reused): the data set in `path`; with `reuse`, a valid one found there is measured
    again (same generator, rows, days and org ids), otherwise it is loaded afresh."""
    if path.exists() and not reuse:
        shutil.rmtree(path)
    if path.exists():
        store = _open(path)
        doc = _dataset(store)
        want = {"generator": GENERATOR, "rows": rows, "days": days, "orgs": [bench_org, other_org]}
        if doc is not None and {k: doc.get(k) for k in want} == want:
            (count,) = store.executor.execute("SELECT count() FROM logs_record")[0]
            if int(count) == rows:
                print(f"clickhouse: reusing {rows:,} rows in {path}", flush=True)
                return store, int(doc["anchor_us"]), True
        print(f"clickhouse: {path} holds another data set; loading afresh", flush=True)
        store.executor.execute("DROP TABLE IF EXISTS logs_record SYNC")
        store.executor.execute("DROP TABLE IF EXISTS bench_dataset SYNC")
        store.executor.execute("DROP TABLE IF EXISTS schema_version SYNC")
        from logs_app.store.clickhouse_schema import migrate

        migrate(store.executor)
    else:
        path.mkdir(parents=True)
        store = _open(path)
    anchor_us = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp()) * 1_000_000
    start_us = anchor_us - days * DAY_US
    step = days * DAY_US / rows
    t = time.perf_counter()
    chunk = 10_000_000
    for first in range(0, rows, chunk):
        store.executor.execute(_insert_sql(bench_org, other_org, start_us, step, first, min(chunk, rows - first)))
        print(f"  clickhouse: {min(first + chunk, rows):,} rows after {time.perf_counter() - t:.0f}s", flush=True)
    doc = {"generator": GENERATOR, "rows": rows, "days": days, "orgs": [bench_org, other_org], "anchor_us": anchor_us}
    _dataset(store)  # creates its table
    store.executor.insert("bench_dataset", ("doc",), [(json.dumps(doc),)])
    print(f"clickhouse: loaded {rows:,} rows in {time.perf_counter() - t:.0f}s", flush=True)
    return store, anchor_us, False


def bytes_per_row(store: Any) -> tuple[float, int]:
    (size, rows), = store.executor.execute(
        "SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE active AND database = currentDatabase() "
        "AND table = 'logs_record'")
    return int(size) / max(1, int(rows)), int(rows)


def _oracle(store: Any, org_id: int, case: str, arg: str, start_us: int, end_us: int) -> list[str]:
    """The expected first page by plain SQL (no search language): the newest 100 of the org's rows."""
    from logs_app.store.clickhouse_exec import bind

    where = {"filtered": "level = 'error' AND service = %s", "correlation": "correlation_id = %s",
             "fulltext": "positionCaseInsensitiveUTF8(body, %s) > 0"}[case]
    text, values = bind(f"SELECT time_us, id FROM logs_record WHERE org_id = %s AND time_us >= %s AND time_us < %s "
                        f"AND {where} ORDER BY time_us DESC, id DESC LIMIT 100", [org_id, start_us, end_us, arg])
    return [f"{t}.{i}" for t, i in store.executor.execute(text, values)]


def _check(case: str, arg: str, start_us: int, end_us: int, page: Any, org_id: int) -> None:
    harness.check(bool(page.records), f"clickhouse {case} {arg!r}: empty page")
    for r in page.records:
        t = int(r.id.split(".")[0])
        harness.check(r.org_id == org_id, f"clickhouse {case}: a record of org {r.org_id}")
        harness.check(start_us <= t < end_us, f"clickhouse {case}: record {r.id} outside the window")
        ok = {"filtered": r.level == "error" and r.service == arg, "correlation": r.correlation_id == arg,
              "fulltext": arg in r.body}[case]
        harness.check(ok, f"clickhouse {case} {arg!r}: record does not match: {r}")


def measure(store: Any, org: Any, anchor_us: int, days: int, iterations: int, n_oracle: int) -> dict[str, list[float]]:
    """Time the three query shapes through the store; every page checked, the first n_oracle against SQL."""
    from logs_app.store.records import from_us

    rnd = random.Random(7)
    cids = [r[0] for r in store.executor.execute(
        f"SELECT correlation_id FROM logs_record WHERE org_id = {int(org.pk)} AND time_us > {anchor_us - days * DAY_US} "
        "LIMIT 5000")]
    timings: dict[str, list[float]] = {k: [] for k in TARGETS_MS}
    checked = dict.fromkeys(TARGETS_MS, 0)
    for i in range(iterations + 10):  # the first ten warm caches and are not counted
        hour_end = anchor_us - rnd.randrange(0, max(1, days * 24 - 24)) * HOUR_US
        service = f"svc-{rnd.randrange(N_SERVICES)}"
        cid = rnd.choice(cids)
        cases = {
            "filtered": (f"level=error service={service}", service, hour_end - HOUR_US, hour_end),
            "correlation": (f"correlation_id={cid}", cid, anchor_us - days * DAY_US, anchor_us),
            "fulltext": ("auth_failure", "auth_failure", hour_end - 24 * HOUR_US, hour_end),
        }
        for name, (q, arg, start_us, end_us) in cases.items():
            t = time.perf_counter()
            page = store.search(org, q, from_us(start_us), from_us(end_us), limit=100)
            elapsed = (time.perf_counter() - t) * 1000
            _check(name, arg, start_us, end_us, page, org.pk)
            if checked[name] < n_oracle:
                got, want = [r.id for r in page.records], _oracle(store, org.pk, name, arg, start_us, end_us)
                harness.check(got == want, f"clickhouse {name} {q!r}: {len(got)} records, plain SQL gives "
                                           f"{len(want)}; first differ: {got[:2]} vs {want[:2]}")
                checked[name] += 1
            if i >= 10:
                timings[name].append(elapsed)
    return timings


def run(args: Any, org: Any, other: Any, pg_p95: dict[str, float], pg_rows: int, pg_bytes_per_row: float,
        pct: Callable[[list[float], float], float]) -> tuple[bool, dict[str, Any]]:
    """Load (or reuse) the ClickHouse data set, measure it, print it beside PostgreSQL's figures of this run;
    (passed, figures) for the verdict line."""
    path = Path(args.ch_dir) / f"search-{args.ch_rows}"
    store, anchor_us, reused = load_or_reuse(path, args.ch_rows, args.days, org.pk, other.pk, args.reuse)
    per_row, stored = bytes_per_row(store)
    timings = measure(store, org, anchor_us, args.days, args.iterations, args.oracle)
    print(f"\n{'query':12s} | {'ClickHouse p95 (' + format(stored, ',') + ' rows)':>32s} | target | ratio | "
          f"{'PostgreSQL p95 (' + format(pg_rows, ',') + ' rows, API)':>38s}")
    figures: dict[str, Any] = {}
    passed = True
    for name, values in timings.items():
        p95 = pct(values, 0.95)
        figures[f"ch_{name}_p95_ms"] = p95
        figures[f"ch_{name}_ratio"] = p95 / TARGETS_MS[name]
        passed &= p95 <= TARGETS_MS[name]
        print(f"{name:12s} | {p95:29.1f} ms | {TARGETS_MS[name]:6.0f} | {p95 / TARGETS_MS[name]:5.2f} | "
              f"{pg_p95.get(name, float('nan')):35.1f} ms")
    figures["ch_bytes_per_row"] = per_row
    figures["ch_bytes_ratio"] = per_row / TARGET_BYTES_PER_ROW
    passed &= per_row <= TARGET_BYTES_PER_ROW
    print(f"{'storage':12s} | {per_row:26.1f} B/row | {TARGET_BYTES_PER_ROW:6.0f} | "
          f"{per_row / TARGET_BYTES_PER_ROW:5.2f} | {pg_bytes_per_row:32.1f} B/row")
    print("ClickHouse: the engine in this process (chdb), queries through the store's API; PostgreSQL: through "
          "gunicorn and the REST API. Storage: active parts' bytes on disk (ClickHouse), table + indexes "
          "+ TOAST (PostgreSQL).")
    if args.ch_rows < 100_000_000:
        print(f"note: {args.ch_rows:,} ClickHouse rows, below the specified 100,000,000")
    figures["ch_rows"] = stored
    figures["ch_reused"] = reused
    return passed, figures

"""The PostgreSQL store's physical layout: daily partitions, the indexes each search shape
needs (time, service+level, trace id, correlation id, user, pg_trgm on the body), and COPY for writes.

The planner prefers a sequential scan on tables this small, so each plan is taken with sequential scans
disabled: the index named in the plan is one the query *can* use, which is what the layout promises.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from logs_app.store.postgres import partition_name
from logs_app.store.records import to_us
from tests.logs.conftest import NOW, make_log, make_span

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL layout; CI runs on PostgreSQL")

TRACE = "ab" * 16
# parent index name -> access method, as declared on the partitioned table (every partition inherits them)
EXPECTED = {
    "logs_record_org_time": "btree",
    "logs_record_org_svc_level": "btree",
    "logs_record_trace": "hash",
    "logs_record_cid": "hash",
    "logs_record_user": "btree",
    "logs_record_body_trgm": "gin",
}


@pytest.fixture
def two_days(store: Any, org_a: Any, org_b: Any) -> Any:
    """A few thousand records over two days, in proportions like production's (many services, few errors,
    unique ids), analysed, so that the planner's choice among the indexes means something."""
    yesterday = NOW - timedelta(days=1)
    rnd = random.Random(8)
    words = "request completed upstream timeout cache miss token refreshed model loaded queue full".split()
    store.write_logs([
        make_log(org_a, time=NOW - timedelta(seconds=rnd.randrange(2 * 86_400)), service=f"svc-{i % 20}",
                 level="error" if i % 50 == 0 else "info", body=" ".join(rnd.choices(words, k=6)),
                 trace_id=f"{rnd.getrandbits(128):032x}", correlation_id=f"req-x{i}", user_id=str(i % 500))
        for i in range(4000)
    ])
    store.write_logs([
        make_log(org_a, body="connection reset by peer", level="error", trace_id=TRACE, correlation_id="req-1",
                 user_id="42"),
        make_log(org_a, time=yesterday, body="upstream timeout", level="warn"),
        make_log(org_b, body="connection reset by peer", level="error", trace_id=TRACE, correlation_id="req-1"),
    ])
    store.write_spans([make_span(org_a, TRACE, "01" * 8)])
    with connection.cursor() as c:
        # What autovacuum does in production: merge the trigram indexes' pending lists, gather statistics.
        c.execute("SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i JOIN pg_inherits h "
                  "ON h.inhrelid = i.indexrelid WHERE h.inhparent = 'logs_record_body_trgm'::regclass")
        c.execute("ANALYZE logs_record")
    return store


def _parent_indexes(partition: str) -> dict[str, str]:
    with connection.cursor() as c:
        c.execute("SELECT parent.relname, am.amname FROM pg_index i "
                  "JOIN pg_class ix ON ix.oid = i.indexrelid JOIN pg_am am ON am.oid = ix.relam "
                  "JOIN pg_inherits h ON h.inhrelid = i.indexrelid JOIN pg_class parent ON parent.oid = h.inhparent "
                  "WHERE i.indrelid = %s::regclass", [partition])
        return dict(c.fetchall())


def test_records_land_in_daily_partitions_each_with_every_index(two_days: Any) -> None:
    today = partition_name("logs_record", to_us(NOW))
    yesterday = partition_name("logs_record", to_us(NOW - timedelta(days=1)))
    assert {today, yesterday} <= set(two_days.partitions())
    for part in (today, yesterday):
        assert _parent_indexes(part) == EXPECTED
    with connection.cursor() as c:
        c.execute(f"SELECT count(*) FROM ONLY {yesterday} WHERE body = 'upstream timeout'")  # noqa: S608 - a date
        assert c.fetchone()[0] == 1
        c.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
        assert c.fetchone() is not None


@contextmanager
def _captured_sql() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield seen


def _indexes_used(sql: str, params: Any) -> set[str]:
    """Parent index names in the plan of `sql`, with sequential scans disabled."""
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = c.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        names: set[str] = set()

        def walk(node: dict[str, Any]) -> None:
            if "Index Name" in node:
                names.add(node["Index Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(plan[0]["Plan"])
        c.execute("SELECT coalesce(parent.relname, child.relname) FROM pg_class child "
                  "LEFT JOIN pg_inherits h ON h.inhrelid = child.oid "
                  "LEFT JOIN pg_class parent ON parent.oid = h.inhparent WHERE child.relname = ANY(%s)", [list(names)])
        return {r[0] for r in c.fetchall()}


def _indexes_of_selects(seen: list[tuple[str, Any]]) -> set[str]:
    selects = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    assert selects, seen
    return set().union(*(_indexes_used(sql, params) for sql, params in selects))


@pytest.mark.parametrize(("query", "index"), [
    ("", "logs_record_org_time"),
    ("level=error service=api-router", "logs_record_org_svc_level"),
    ("correlation_id=req-1", "logs_record_cid"),
    ("trace_id=" + TRACE, "logs_record_trace"),
    ("user=42", "logs_record_user"),
])
def test_each_search_shape_can_use_its_index(two_days: Any, org_a: Any, query: str, index: str) -> None:
    with _captured_sql() as seen:
        page = two_days.search(org_a, query, NOW - timedelta(days=2), NOW + timedelta(minutes=1))
    assert page.records and all(r.org_id == org_a.pk for r in page.records)
    used = _indexes_of_selects(seen)
    assert index in used, (query, used)


@pytest.mark.parametrize("query", ['"connection reset"', "reset", "peer"])
def test_full_text_goes_through_the_trigram_index(two_days: Any, org_a: Any, query: str) -> None:
    # Counted (histograms and the result total run this shape): with ORDER BY time LIMIT n, tables this small
    # make walking the time index cheaper than any other plan.
    with _captured_sql() as seen:
        assert two_days.count(org_a, query, NOW - timedelta(days=2), NOW + timedelta(minutes=1)) == 1
    assert "logs_record_body_trgm" in _indexes_of_selects(seen)


def test_a_traces_logs_are_found_through_the_trace_index(two_days: Any, org_a: Any) -> None:
    with _captured_sql() as seen:
        trace = two_days.get_trace(org_a, TRACE)
    assert trace is not None and [r.org_id for r in trace.logs] == [org_a.pk]
    assert "logs_record_trace" in _indexes_of_selects([(sql, p) for sql, p in seen if "logs_record" in sql])


def test_batches_are_written_with_copy(store: Any, org_a: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    real_copy = psycopg.Cursor.copy

    def recording_copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", recording_copy)  # records the call, the real COPY still runs
    assert store.write_logs([make_log(org_a, body=f"line {i}\twith a tab\\ and \n newline") for i in range(50)]) == 50
    assert len(statements) == 1 and statements[0].startswith("COPY logs_record (")
    stored = store.search(org_a, "", NOW - timedelta(hours=1), NOW + timedelta(minutes=1), limit=100).records
    assert sorted(r.body for r in stored) == sorted(f"line {i}\twith a tab\\ and \n newline" for i in range(50))

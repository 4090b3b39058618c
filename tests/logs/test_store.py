"""The store contract, against the built-in store the test database selects (PostgreSQL or SQLite) and the
ClickHouse store (its engine in process through chdb)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from logs_app.query import QueryError
from logs_app.store import get_store
from logs_app.store.records import CursorError
from tests.logs.chstore import fresh_clickhouse_store
from tests.logs.conftest import NOW, make_log, make_span

pytestmark = pytest.mark.django_db

T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(minutes=1)


@pytest.fixture(params=["sql", "clickhouse"])
def store(request: Any) -> Any:
    """"sql" is PostgreSQL when the test database is, else SQLite."""
    return fresh_clickhouse_store() if request.param == "clickhouse" else get_store()


def bodies(page: Any) -> list[str]:
    return [r.body for r in page.records]


@pytest.fixture
def seeded(store: Any, org_a: Any, org_b: Any) -> Any:
    store.write_logs([
        make_log(org_a, body="user login ok", level="info", user_id="42", time=NOW - timedelta(minutes=10),
                 attributes={"status": 200, "latency_ms": 12, "http.method": "GET"}),
        make_log(org_a, body="auth_failure for token", level="error", time=NOW - timedelta(minutes=9),
                 correlation_id="req-1", attributes={"status": 401, "latency": 650}),
        make_log(org_a, body="upstream connection reset by peer", level="error", service="billing",
                 resource={"service.name": "billing", "deployment.environment": "prod"},
                 time=NOW - timedelta(minutes=8), attributes={"status": "503", "latency": 1200.5}),
        make_log(org_a, body="slow query 100% cpu", level="warn", time=NOW - timedelta(minutes=7),
                 trace_id="ab" * 16, span_id="cd" * 8, attributes={"latency": 450}),
        make_log(org_a, body="old record", level="info", time=NOW - timedelta(hours=3)),
        make_log(org_b, body="auth_failure in globex", level="error", correlation_id="req-1"),
    ])
    return store


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["slow query 100% cpu", "upstream connection reset by peer", "auth_failure for token", "user login ok"]),
    ("level=error", ["upstream connection reset by peer", "auth_failure for token"]),
    ("level=error service=billing", ["upstream connection reset by peer"]),
    ("level>=warn -service=billing", ["slow query 100% cpu", "auth_failure for token"]),
    ("user=42", ["user login ok"]),
    ("correlation_id=req-1", ["auth_failure for token"]),
    ("cid=req-1 OR user=42", ["auth_failure for token", "user login ok"]),
    ("auth_failure", ["auth_failure for token"]),
    ('"CONNECTION RESET"', ["upstream connection reset by peer"]),
    ("latency>500ms", ["upstream connection reset by peer", "auth_failure for token"]),
    ("latency>1s", ["upstream connection reset by peer"]),
    ("status>=500", ["upstream connection reset by peer"]),
    ("status<300", ["user login ok"]),
    ("http.method=GET", ["user login ok"]),
    ("service.name=billing", ["upstream connection reset by peer"]),
    ("resource.deployment.environment=prod", ["upstream connection reset by peer"]),
    ("body~\"conn[a-z]+ reset\"", ["upstream connection reset by peer"]),
    ("service~^bill", ["upstream connection reset by peer"]),
    ("NOT (level=error OR level=warn)", ["user login ok"]),
    ("100%", ["slow query 100% cpu"]),
    ("trace_id=" + "AB" * 16, ["slow query 100% cpu"]),
    ("nothing-matches-this", []),
])
def test_search_language_on_store(seeded: Any, org_a: Any, query: str, expected: list[str]) -> None:
    assert bodies(seeded.search(org_a, query, T0, T1)) == expected
    assert seeded.count(org_a, query, T0, T1) == len(expected)


def test_every_field_round_trips(store: Any, org_a: Any) -> None:
    rec = make_log(org_a, body="b", service="svc", level="warn", severity_number=13, trace_id="01" * 16,
                   span_id="02" * 8, correlation_id="c-1", user_id="u-1", resource={"service.name": "svc", "k": [1, 2]},
                   attributes={"a": {"nested": True}, "n": 1.5})
    store.write_logs([rec])
    got = store.search(org_a, "", T0, T1).records[0]
    for f in ("body", "service", "level", "severity_number", "trace_id", "span_id", "correlation_id", "user_id",
              "resource", "attributes", "time", "org_id"):
        assert getattr(got, f) == getattr(rec, f), f
    assert got.id


def test_cursor_pagination_is_complete_and_stable(store: Any, org_a: Any, org_b: Any) -> None:
    same_time = NOW - timedelta(minutes=1)
    store.write_logs([make_log(org_a, body=f"r{i}", time=same_time if i % 2 else NOW - timedelta(seconds=i))
                      for i in range(25)])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = store.search(org_a, "", T0, T1, limit=7, cursor=cursor)
        seen += bodies(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"r{i}" for i in range(25))
    assert len(seen) == 25
    first = store.search(org_a, "", T0, T1, limit=7)
    with pytest.raises(CursorError):
        store.search(org_b, "", T0, T1, cursor=first.next_cursor)
    with pytest.raises(CursorError):
        store.search(org_a, "", T0, T1, cursor="garbage!!")


def test_histogram_buckets_by_level(seeded: Any, org_a: Any) -> None:
    buckets = seeded.histogram(org_a, "", NOW - timedelta(minutes=12), NOW, buckets=4)
    assert len(buckets) == 4
    assert [b.count for b in buckets] == [1, 3, 0, 0]  # 3-minute buckets from -12m: -10 | -9 -8 -7
    assert buckets[0].by_level == {"info": 1}
    assert buckets[1].by_level == {"error": 2, "warn": 1}
    assert seeded.histogram(org_a, "level=error", NOW - timedelta(minutes=12), NOW, buckets=4)[1].count == 2


def test_context_and_isolation(store: Any, org_a: Any, org_b: Any) -> None:
    store.write_logs([make_log(org_a, body=f"line {i}", time=NOW - timedelta(seconds=100 - i)) for i in range(20)])
    store.write_logs([make_log(org_a, body="other service", service="x", time=NOW - timedelta(seconds=90))])
    mid = store.search(org_a, '"line 10"', T0, T1).records[0]
    ctx = store.context(org_a, mid.id, before=3, after=2)
    assert [r.body for r in ctx.before] == ["line 7", "line 8", "line 9"]
    assert ctx.record.body == "line 10"
    assert [r.body for r in ctx.after] == ["line 11", "line 12"]
    assert store.context(org_b, mid.id) is None
    assert store.context(org_a, "not-an-id") is None


def test_tail_returns_only_new_records_of_the_org(store: Any, org_a: Any, org_b: Any) -> None:
    start = store.tail(org_a, "")
    assert start.records == [] and start.next_cursor
    store.write_logs([make_log(org_a, body="new a", time=NOW), make_log(org_b, body="new b", time=NOW),
                      make_log(org_a, body="new a debug", level="debug", time=NOW)])
    page = store.tail(org_a, "level=info", start.next_cursor)
    assert bodies(page) == ["new a"]
    assert store.tail(org_a, "", page.next_cursor).records == []
    with pytest.raises(CursorError):
        store.tail(org_b, "", start.next_cursor)


def test_iter_records_streams_everything_in_order(store: Any, org_a: Any, org_b: Any) -> None:
    store.write_logs([make_log(org_a, body=f"e{i:03}", time=NOW - timedelta(seconds=300 - i)) for i in range(250)])
    store.write_logs([make_log(org_b, body="globex")])
    got = [r.body for r in store.iter_records(org_a, "", T0, T1, batch_size=40)]
    assert got == [f"e{i:03}" for i in range(250)]


def test_iter_spans_streams_the_window_of_one_org(store: Any, org_a: Any, org_b: Any) -> None:
    store.write_spans([make_span(org_a, f"{i:032x}", f"{i:016x}", name=f"s{i:03}", service="api-router",
                                 start=NOW - timedelta(seconds=300 - i)) for i in range(120)])
    store.write_spans([make_span(org_b, "c3" * 16, "04" * 8, name="globex")])
    got = [s.name for s in store.iter_spans(org_a, "", T0, T1, batch_size=25)]
    assert got == [f"s{i:03}" for i in range(120)]
    assert [s.name for s in store.iter_spans(org_a, 'name="s007"', T0, T1)] == ["s007"]


def test_traces_get_search_and_isolation(store: Any, org_a: Any, org_b: Any) -> None:
    t1, t2 = "a1" * 16, "b2" * 16
    store.write_spans([
        make_span(org_a, t1, "01" * 8, name="GET /api", service="api-router", duration_ms=800, kind="server"),
        make_span(org_a, t1, "02" * 8, parent_span_id="01" * 8, name="SELECT", service="db", duration_ms=700,
                  status="error", start=NOW - timedelta(minutes=5) + timedelta(milliseconds=50)),
        make_span(org_a, t2, "03" * 8, name="GET /health", duration_ms=2, start=NOW - timedelta(minutes=2)),
        make_span(org_b, "c3" * 16, "04" * 8, name="GET /api"),
    ])
    store.write_logs([make_log(org_a, body="in trace", trace_id=t1, span_id="02" * 8)])
    trace = store.get_trace(org_a, t1.upper())
    assert [s.name for s in trace.spans] == ["GET /api", "SELECT"]
    assert [r.body for r in trace.logs] == ["in trace"]
    assert store.get_trace(org_b, t1) is None
    assert store.get_trace(org_a, "zz") is None
    found = store.search_traces(org_a, "", T0, T1)
    assert [t.trace_id for t in found] == [t2, t1]
    slow = store.search_traces(org_a, "duration>500ms", T0, T1)
    assert [(t.trace_id, t.root_name, t.span_count, t.error_count) for t in slow] == [(t1, "GET /api", 2, 1)]
    assert round(slow[0].duration_ms) == 800
    assert [t.trace_id for t in store.search_traces(org_a, "status=error service=db", T0, T1)] == [t1]
    assert [t.trace_id for t in store.search_traces(org_a, "health", T0, T1)] == [t2]
    assert [t.trace_id for t in store.search_traces(org_b, "", T0, T1)] == ["c3" * 16]


def test_bad_regex_for_the_database_is_a_query_error(store: Any, org_a: Any) -> None:
    store.write_logs([make_log(org_a)])
    # Valid for Python's re, rejected by PostgreSQL's (no lookbehind there); SQLite uses Python's re.
    try:
        store.search(org_a, 'body~"(?<=a)b"', T0, T1)
    except QueryError as e:
        assert "regular expression" in e.message
    assert store.count(org_a, "", T0, T1) == 1


def test_delete_older_than_only_touches_one_org(store: Any, org_a: Any, org_b: Any) -> None:
    for org in (org_a, org_b):  # kept 30 days: ClickHouse's TTL drops rows past the org's retention at insert
        org.log_retention_days = 30
        org.save(update_fields=["log_retention_days"])
    old = NOW - timedelta(days=20)
    store.write_logs([make_log(org_a, time=old), make_log(org_a), make_log(org_b, time=old)])
    store.write_spans([make_span(org_a, "d4" * 16, "05" * 8, start=old)])
    assert store.delete_older_than(org_a, NOW - timedelta(days=10)) == 2
    assert store.count(org_a, "", NOW - timedelta(days=30), T1) == 1
    assert store.count(org_b, "", NOW - timedelta(days=30), T1) == 1

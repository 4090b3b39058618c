"""Trace analysis: self time and the critical path of one trace, two traces compared, and exceptions
grouped by type and service in the store (PostgreSQL or SQLite as the test database selects, and ClickHouse)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from logs_app import trace_analysis
from logs_app.store import get_store
from logs_app.store.exceptions import UNKNOWN, find_exceptions
from logs_app.store.records import SpanEvent
from tests.logs.chstore import fresh_clickhouse_store
from tests.logs.conftest import NOW, make_span

T0 = NOW - timedelta(minutes=30)
TID, TID2, OTHER = "a1" * 16, "b2" * 16, "c3" * 16


def _at(ms: float) -> Any:
    return T0 + timedelta(milliseconds=ms)


class _Org:
    pk = 1


def trace(spec: Sequence[tuple[str, str, float, float]], trace_id: str = TID, service: str = "api") -> list[Any]:
    """Spans from (span_id, parent, start ms, end ms)."""
    return [make_span(_Org, trace_id, sid, parent_span_id=parent, name=f"op-{sid}", service=service,
                      start=_at(s), duration_ms=e - s) for sid, parent, s, e in spec]


# root 0-100; a 10-40 and b 30-70 overlap; c 80-90; a1 15-35 inside a.
WATERFALL = [("root", "", 0, 100), ("a", "root", 10, 40), ("b", "root", 30, 70), ("c", "root", 80, 90),
             ("a1", "a", 15, 35)]


def test_self_time_counts_overlapping_children_once() -> None:
    timing = trace_analysis.analyse(trace(WATERFALL))
    # root: 100 - union(10-70, 80-90) = 100 - 70 = 30; a: 30 - 20 = 10; leaves keep their duration.
    assert {k: v.self_ms for k, v in timing.items()} == {"root": 30.0, "a": 10.0, "b": 40.0, "c": 10.0, "a1": 20.0}


def test_critical_path_walks_back_from_the_end() -> None:
    timing = trace_analysis.analyse(trace(WATERFALL))
    crit = {k: v.critical_ms for k, v in timing.items()}
    # From 100 back: root 90-100, c 80-90, root 70-80, b 30-70; then a, clipped to 10-30 where b began:
    # a1 15-30 and a 10-15; root 0-10.
    assert crit == {"root": 30.0, "c": 10.0, "b": 40.0, "a1": 15.0, "a": 5.0}
    assert sum(crit.values()) == pytest.approx(100.0)  # the critical path covers the root's whole duration


def test_a_span_that_ended_before_the_point_reached_is_not_critical() -> None:
    # b (10-20) finishes long before c (50-90) starts: root waited for c, then b.
    timing = trace_analysis.analyse(trace([("root", "", 0, 100), ("b", "root", 10, 20), ("c", "root", 50, 90),
                                           ("d", "root", 12, 18)]))
    assert timing["d"].critical_ms == 0.0  # d runs inside b's time: b is what the root waited for there
    assert timing["b"].critical_ms == 10.0 and timing["c"].critical_ms == 40.0


def test_orphans_and_a_cyclic_parent_do_not_break_the_analysis() -> None:
    spans = trace([("x", "missing", 0, 10), ("y", "y", 0, 5)])
    timing = trace_analysis.analyse(spans)
    assert set(timing) == {"x", "y"} and timing["x"].self_ms == 10.0


def test_compare_lists_where_b_spent_its_time_differently() -> None:
    a = trace([("r", "", 0, 100), ("db", "r", 10, 30)])
    b = trace([("r", "", 0, 300), ("db", "r", 10, 250), ("db2", "r", 260, 270)], trace_id=TID2)
    for s in b:
        if s.span_id == "db2":
            s.name = "op-db"  # a second call of the same operation
    diffs = trace_analysis.compare(a, b)
    assert (diffs[0].name, diffs[0].count_a, diffs[0].count_b) == ("op-db", 1, 2)
    assert diffs[0].self_ms_a == 20.0 and diffs[0].self_ms_b == 250.0 and diffs[0].self_delta_ms == 230.0


# -- exceptions in the store ---------------------------------------------------------------------------

@pytest.fixture(params=["sql", "clickhouse"])
def store(request: Any) -> Any:
    return fresh_clickhouse_store() if request.param == "clickhouse" else get_store()


def _exc(kind: str, msg: str, at: float) -> SpanEvent:
    return SpanEvent(_at(at), "exception", {"exception.type": kind, "exception.message": msg})


@pytest.fixture
def spans_with_exceptions(store: Any, org_a: Any, org_b: Any) -> Any:
    store.write_spans([
        make_span(org_a, TID, "01" * 8, service="api-router", status="error", start=_at(0), duration_ms=50,
                  events=[_exc("TimeoutError", "model did not answer", 40), SpanEvent(_at(10), "retry", {})]),
        make_span(org_a, TID2, "02" * 8, service="api-router", status="error", start=_at(60_000), duration_ms=50,
                  events=[_exc("TimeoutError", "model did not answer again", 60_040)]),
        make_span(org_a, TID2, "03" * 8, service="billing", status="error", start=_at(120_000), duration_ms=5,
                  events=[_exc("KeyError", "'plan'", 120_001), SpanEvent(_at(120_002), "exception", {})]),
        make_span(org_a, TID, "04" * 8, service="api-router", start=_at(5), duration_ms=5),  # no events
        make_span(org_b, OTHER, "05" * 8, service="api-router", status="error", start=_at(0), duration_ms=9,
                  events=[_exc("SecretGlobexError", "globex internals", 1)]),
    ])
    return store


@pytest.mark.django_db
def test_exceptions_grouped_by_type_and_service_with_counts_over_time(spans_with_exceptions: Any,
                                                                      org_a: Any) -> None:
    report = find_exceptions(spans_with_exceptions, org_a, "", T0, T0 + timedelta(minutes=3), buckets=3)
    got = {(g.type, g.service): (g.count, g.series) for g in report.groups}
    assert got == {("TimeoutError", "api-router"): (2, [1, 1, 0]), ("KeyError", "billing"): (1, [0, 0, 1]),
                   (UNKNOWN, "billing"): (1, [0, 0, 1])}
    assert report.total == 4
    timeout = next(g for g in report.groups if g.type == "TimeoutError")
    assert report.groups[0] is timeout  # the biggest group first
    # Examples: newest first, with the trace to open.
    assert [(x.trace_id, x.message) for x in timeout.examples] == [(TID2, "model did not answer again"),
                                                                   (TID, "model did not answer")]


@pytest.mark.django_db
def test_exceptions_narrowed_by_a_span_query_and_never_another_orgs(spans_with_exceptions: Any, org_a: Any,
                                                                    org_b: Any) -> None:
    end = T0 + timedelta(minutes=3)
    report = find_exceptions(spans_with_exceptions, org_a, "service=billing", T0, end)
    assert {g.type for g in report.groups} == {"KeyError", UNKNOWN}
    everything = find_exceptions(spans_with_exceptions, org_a, "", T0, end)
    assert "SecretGlobexError" not in {g.type for g in everything.groups}
    theirs = find_exceptions(spans_with_exceptions, org_b, "", T0, end)
    assert [(g.type, g.count) for g in theirs.groups] == [("SecretGlobexError", 1)]


@pytest.mark.django_db
def test_every_exceptions_statement_carries_the_org_condition(org_a: Any) -> None:
    store = fresh_clickhouse_store(recording=True)
    store.write_spans([make_span(org_a, TID, "01" * 8, status="error", events=[_exc("E", "m", 0)])])
    find_exceptions(store, org_a, "", T0, NOW + timedelta(minutes=1))
    statements = store.executor.statements  # type: ignore[attr-defined]
    reads = [s for s in statements if "exception" in s[0]]
    assert len(reads) == 2
    for sql, params in reads:
        assert "org_id = {p" in sql and org_a.pk in params.values()

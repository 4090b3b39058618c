"""What is particular to the ClickHouse store (its engine in process through chdb): the executor seam and its
URL, bound parameters, the org condition in every statement, the schema and its migrations, TTL retention,
and OTLP ingest into it. The contract it shares with the other stores is in test_store.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from logs_app.otlp import receivers
from logs_app.query import QueryError, parse
from logs_app.query.sql import Compiler
from logs_app.store import _store_for, get_store
from logs_app.store.clickhouse import CLICKHOUSE, ClickHouseLogStore
from logs_app.store.clickhouse_exec import bind, escape_param, parse_store_url
from logs_app.store.clickhouse_schema import MIGRATIONS, migrate
from tests.logs.chstore import RecordingExecutor, fresh_clickhouse_store
from tests.logs.conftest import NOW, logs_request, make_log, make_span, post_otlp, traces_request

# The window reaches well past import time: OTLP records are stamped when sent, which in a long suite is
# many minutes after this module was imported.
T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(hours=12)
EVIL = "x'; DROP TABLE logs_record; --\\'\t{p0:String}"


def compile_ch(query: str, target: str = "logs") -> tuple[str, dict[str, Any]]:
    return bind(*Compiler(CLICKHOUSE, target).compile(parse(query)))


# -- the seam and its URL --------------------------------------------------------------------------------

def test_store_url_picks_the_executor() -> None:
    assert parse_store_url("chdb:///var/lib/portal/ch") == ("chdb", {"path": "/var/lib/portal/ch",
                                                                     "database": "portal_logs"})
    assert parse_store_url("clickhouses://app:s%40cret@ch.internal/logs") == ("http", {
        "host": "ch.internal", "port": 8443, "database": "logs", "username": "app", "password": "s@cret",
        "secure": True})
    assert parse_store_url("clickhouse://ch:9000")[1]["port"] == 9000
    for bad in ("mysql://x/y", "chdb://relative", "clickhouse:///db", "clickhouse://h/db;drop"):
        with pytest.raises(ImproperlyConfigured):
            parse_store_url(bad)


@pytest.mark.django_db
def test_logs_store_url_selects_clickhouse_and_the_default_stays_sql(settings: Any) -> None:
    assert get_store().name in ("sqlite", "postgres")
    shared = fresh_clickhouse_store()
    settings.LOGS_STORE_URL = f"chdb://{shared.executor.path}"  # type: ignore[attr-defined]
    store = get_store()
    assert isinstance(store, ClickHouseLogStore) and store.name == "clickhouse"
    _store_for.cache_clear()


def test_parameters_are_typed_and_escaped_not_spliced() -> None:
    text, values = bind("a = %s AND b > %s AND c = %s AND d = %s", ["s", 2, 1.5, True])
    assert text == "a = {p0:String} AND b > {p1:Int64} AND c = {p2:Float64} AND d = {p3:Bool}"
    assert values == {"p0": "s", "p1": 2, "p2": 1.5, "p3": True}
    assert escape_param("a\\b\tc\nd") == "a\\\\b\\tc\\nd"
    with pytest.raises(ValueError, match="placeholders"):
        bind("%s %s", [1])


@pytest.mark.django_db
def test_hostile_values_round_trip_as_values(org_a: Any) -> None:
    store = fresh_clickhouse_store()
    store.write_logs([make_log(org_a, body=EVIL, service=EVIL, attributes={EVIL: EVIL})])
    for q in (f'service="{_q(EVIL)}"', f'"{_q(EVIL)}"', f'body="{_q(EVIL)}"', f'attr.k=x OR "{_q(EVIL)}"'):
        assert [r.body for r in store.search(org_a, q, T0, T1).records] == [EVIL], q


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def test_values_never_reach_sql_text() -> None:
    for target in ("logs", "spans"):
        text, values = compile_ch(f'service="{_q(EVIL)}" "{_q(EVIL)}" attr.k="{_q(EVIL)}" body~"{_q("a.b")}"', target)
        assert "DROP" not in text and "a.b" not in text
        assert any(EVIL in str(v) for v in values.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list('abz019 _-.:"\\()=!~<>%\x00é\t') + ["AND", "OR", "NOT", "level", "ms",
                                                                          "latency", "service"]),
                max_size=30).map("".join))
def test_any_query_compiles_to_bound_clickhouse_sql(q: str) -> None:
    try:
        text, values = compile_ch(q)
    except QueryError as e:
        assert 0 <= e.position <= len(q)
        return
    assert "%s" not in text
    assert len(re.findall(r"\{p\d+:\w+\}", text)) == len(values)


# -- the org condition in every statement ---------------------------------------------------------------

@pytest.mark.django_db
def test_every_statement_carries_the_org_condition(org_a: Any, org_b: Any) -> None:
    store = fresh_clickhouse_store(recording=True)
    rec = store.executor
    assert isinstance(rec, RecordingExecutor)
    store.write_logs([make_log(org_a, body="hello", trace_id="ab" * 16, correlation_id="c-1"),
                      make_log(org_b, body="hello b")])
    store.write_spans([make_span(org_a, "ab" * 16, "01" * 8)])
    rec.statements.clear()
    q = 'level>=info hello service=api-router -attr.k=v -latency>5ms body~"h.llo" -cid=x'
    page = store.search(org_a, q, T0, T1, limit=1)
    store.search(org_a, "", T0, T1, limit=1, cursor=store.search(org_a, "", T0, T1, limit=1).next_cursor)
    store.count(org_a, q, T0, T1)
    store.histogram(org_a, q, T0, T1, buckets=5)
    record = store.search(org_a, "", T0, T1).records[0]
    store.context(org_a, record.id)
    cursor = store.tail(org_a, q).next_cursor
    store.tail(org_a, q, cursor)
    list(store.iter_records(org_a, q, T0, T1, batch_size=1))
    list(store.iter_spans(org_a, "duration>1ms name=x OR service=api-router", T0, T1, batch_size=1))
    store.get_trace(org_a, "ab" * 16)
    store.search_traces(org_a, "status=unset", T0, T1)
    store.delete_older_than(org_a, NOW - timedelta(days=1))
    assert [r.body for r in page.records] == ["hello"]
    assert len(rec.statements) >= 15
    for sql, params in rec.statements:
        bound = [m for m in re.finditer(r"\borg_id = \{(p\d+):Int64\}", sql)]
        assert bound, sql
        assert all(params[m.group(1)] == org_a.pk for m in bound), sql
        assert sql.count("FROM ") == len(bound) or sql.startswith("DELETE"), sql
    assert {row[0] for _, rows in rec.inserts for row in rows} == {org_a.pk, org_b.pk}


# -- schema, migrations, retention -------------------------------------------------------------------

@pytest.mark.django_db
def test_tables_are_partitioned_ordered_compressed_and_indexed() -> None:
    store = fresh_clickhouse_store()
    ex = store.executor
    [(logs,)] = ex.execute("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
                           "AND name = 'logs_record'")
    for part in ("MergeTree", "PARTITION BY toDate(fromUnixTimestamp64Micro(time_us, 'UTC'))",
                 "ORDER BY (org_id, time_us, id)", "CODEC(DoubleDelta, ZSTD(1))", "LowCardinality(String)",
                 "INDEX trace_bf trace_id TYPE bloom_filter", "INDEX cid_bf correlation_id TYPE bloom_filter",
                 "INDEX body_ngram lowerUTF8(body) TYPE ngrambf_v1", "TTL fromUnixTimestamp64Micro(time_us, 'UTC') "
                 "+ toIntervalDay(retention_days)"):
        assert part in logs, part
    [(spans,)] = ex.execute("SELECT create_table_query FROM system.tables WHERE database = currentDatabase() "
                            "AND name = 'logs_span'")
    assert "ORDER BY (org_id, start_us, id)" in spans and "INDEX trace_bf trace_id" in spans
    versions = [int(r[0]) for r in ex.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [v for v, _, _ in MIGRATIONS]
    assert migrate(ex) == []  # applied once


@pytest.mark.django_db
def test_skip_indexes_serve_correlation_trace_and_text_lookups(org_a: Any) -> None:
    store = fresh_clickhouse_store()
    store.write_logs([make_log(org_a, body=f"line {i}", correlation_id=f"c-{i}") for i in range(10)])
    for q, index in (("cid=c-3", "cid_bf"), ("trace_id=" + "ab" * 16, "trace_bf"), ("connection", "body_ngram")):
        where, params = store._where(q)
        sql = "EXPLAIN indexes = 1 SELECT count() FROM logs_record WHERE org_id = %s AND " + where  # noqa: S608
        text, values = bind(sql, [org_a.pk, *params])
        plan = "\n".join(str(r[0]) for r in store.executor.execute(text, values))
        assert f"Name: {index}" in plan, (q, plan)


@pytest.mark.django_db
def test_rows_carry_their_org_retention_and_ttl_drops_them(org_a: Any, org_b: Any) -> None:
    org_a.log_retention_days = 3
    org_a.save(update_fields=["log_retention_days"])
    org_b.log_retention_days = 30
    org_b.save(update_fields=["log_retention_days"])
    store = fresh_clickhouse_store()
    five_days = NOW - timedelta(days=5)
    store.write_logs([make_log(org_a, body="recent a"), make_log(org_b, body="recent b")])
    store.write_logs([make_log(org_a, body="old a", time=five_days), make_log(org_b, body="old b", time=five_days)])
    store.write_spans([make_span(org_a, "ab" * 16, "01" * 8, start=five_days)])
    rows = store.executor.execute("SELECT DISTINCT org_id, retention_days FROM logs_record")
    kept = {(int(o), int(d)) for o, d in rows}
    assert kept <= {(org_a.pk, 3), (org_b.pk, 30)}
    store.executor.execute("OPTIMIZE TABLE logs_record FINAL")
    store.executor.execute("OPTIMIZE TABLE logs_span FINAL")
    wide = (NOW - timedelta(days=10), T1)
    assert [r.body for r in store.search(org_a, "", *wide).records] == ["recent a"]
    assert sorted(r.body for r in store.search(org_b, "", *wide).records) == ["old b", "recent b"]
    assert store.get_trace(org_a, "ab" * 16) is None


@pytest.mark.django_db
def test_drop_partitions_before_drops_whole_days(org_a: Any) -> None:
    org_a.log_retention_days = 60
    org_a.save(update_fields=["log_retention_days"])
    store = fresh_clickhouse_store()
    store.write_logs([make_log(org_a, body="old", time=NOW - timedelta(days=40)), make_log(org_a, body="new")])
    dropped = store.drop_partitions_before(NOW - timedelta(days=30))
    assert len(dropped) == 1 and dropped[0].startswith("logs_record_p")
    assert [r.body for r in store.search(org_a, "", NOW - timedelta(days=50), T1).records] == ["new"]
    assert store.drop_partitions_before(NOW - timedelta(days=30)) == []


# -- ingest -------------------------------------------------------------------------------------------

LOGS, TRACES = "/otlp/v1/logs", "/otlp/v1/traces"


@pytest.mark.django_db
def test_otlp_request_is_one_insert_per_request(client: Any, org_a: Any, ingest_a: str, monkeypatch: Any) -> None:
    store = fresh_clickhouse_store(recording=True)
    monkeypatch.setattr(receivers, "get_store", lambda: store)
    rec = store.executor
    assert isinstance(rec, RecordingExecutor)
    req = logs_request([{"body": f"r{i}", "attrs": {"request_id": f"q-{i}"}} for i in range(300)])
    resp = post_otlp(client, LOGS, req.SerializeToString(), ingest_a)
    assert resp.status_code == 200
    assert [(t, len(rows)) for t, rows in rec.inserts] == [("logs_record", 300)]
    assert store.count(org_a, "", T0, T1) == 300
    assert [r.body for r in store.search(org_a, "cid=q-7", T0, T1).records] == ["r7"]
    spans = traces_request([{"trace_id": "11" * 16, "span_id": "22" * 8, "name": "good"},
                            {"trace_id": "00" * 16, "span_id": "33" * 8, "name": "zero trace id"}])
    resp = post_otlp(client, TRACES, spans.SerializeToString(), ingest_a)
    assert resp.status_code == 200  # partial success: the bad span rejected, the good one stored
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(resp.content).partial_success
    assert partial.rejected_spans == 1
    assert partial.error_message == "span rejected: trace_id must be 16 bytes and span_id 8 bytes, not all zero"
    assert [(t, len(rows)) for t, rows in rec.inserts[1:]] == [("logs_span", 1)]  # one INSERT, the good span
    trace = store.get_trace(org_a, "11" * 16)
    assert trace is not None and [s.name for s in trace.spans] == ["good"]
    full = logs_service_pb2.ExportLogsServiceResponse.FromString(
        post_otlp(client, LOGS, logs_request([{"body": "ok"}]).SerializeToString(), ingest_a).content)
    assert not full.HasField("partial_success")  # nothing rejected: no partial_success at all


@pytest.mark.django_db
def test_otlp_ingest_through_logs_store_url(client: Any, org_a: Any, ingest_a: str, settings: Any) -> None:
    shared = fresh_clickhouse_store()
    settings.LOGS_STORE_URL = f"chdb://{shared.executor.path}"  # type: ignore[attr-defined]
    try:
        resp = post_otlp(client, LOGS, logs_request([{"body": "via url"}]).SerializeToString(), ingest_a)
        assert resp.status_code == 200
        assert [r.body for r in get_store().search(org_a, "", T0, T1).records] == ["via url"]
    finally:
        _store_for.cache_clear()


@pytest.mark.django_db
def test_engine_refusing_the_batch_is_503_with_retry_after(client: Any, org_a: Any, ingest_a: str,
                                                            monkeypatch: Any) -> None:
    store = fresh_clickhouse_store()
    monkeypatch.setattr(receivers, "get_store", lambda: store)
    store.executor.execute("RENAME TABLE logs_record TO logs_record_away")
    try:
        resp = post_otlp(client, LOGS, logs_request([{"body": "x"}]).SerializeToString(), ingest_a)
    finally:
        store.executor.execute("RENAME TABLE logs_record_away TO logs_record")
    assert resp.status_code == 503 and resp["Retry-After"] == "5"
    assert store.count(org_a, "", T0, T1) == 0

"""Reading the OpenTelemetry Collector's ClickHouse exporter tables (`otel_logs`, `otel_traces`) as they are:
rows written in the exporter's layout for two orgs are found by search, trace view, trace search, context,
exports' iteration and the performance pages, and no org sees another's. The engine runs in process (chdb)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.exceptions import ImproperlyConfigured

from logs_app import performance
from logs_app import store as store_package
from logs_app.exports import services as export_services
from logs_app.exports.models import ExportStatus
from logs_app.store import _store_for
from logs_app.store.clickhouse_exec import ChdbExecutor
from logs_app.store.clickhouse_otel import ClickHouseOtelStore, ReadOnlyStoreError, otel_store_from_url
from tests.logs.chstore import RecordingExecutor, fresh_clickhouse_store
from tests.logs.conftest import NOW, logs_request, make_log, post_otlp

DB = "otel_collector"
T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(minutes=1)

# The exporter's DDL (exporter/clickhouseexporter/internal/sql_templates: logs_table.sql, traces_table.sql),
# with the engine it defaults to and no TTL configured.
OTEL_LOGS_DDL = f"""
CREATE TABLE IF NOT EXISTS {DB}.otel_logs (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""
OTEL_TRACES_DDL = f"""
CREATE TABLE IF NOT EXISTS {DB}.otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

# The exporter's earlier logs DDL (example/default_ddl/logs.sql): no TimestampTime, Int32 severity.
OTEL_LOGS_EARLIER_DDL = f"""
CREATE TABLE IF NOT EXISTS {DB}.otel_logs_earlier (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt32 CODEC(ZSTD(1)),
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber Int32 CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
) ENGINE = MergeTree()
TTL toDateTime("Timestamp") + toIntervalDay(180)
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId)
SETTINGS index_granularity=8192, ttl_only_drop_parts = 1
"""


def ts(t: datetime, extra_ns: int = 0) -> str:
    """DateTime64(9) text as the exporter's driver sends it (UTC engine)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond * 1000 + extra_ns:09d}"


def trace_of(org: str) -> str:
    return ("a" if org == "acme" else "b") * 32


def _insert(ex: ChdbExecutor, table: str, rows: list[dict[str, Any]]) -> None:
    """One INSERT of JSONEachRow rows into the exporter's table (column names with dots are Nested)."""
    columns = ", ".join(f"`{c}`" for c in rows[0])
    payload = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    with ex._lock:
        inserter = ex._session.send_insert(f"INSERT INTO {DB}.{table} ({columns})", "JSONEachRow")
        with inserter:
            inserter.append(payload)
            inserter.finish()


def _resource(org: str | None, service: str) -> dict[str, str]:
    res = {"service.name": service, "host.name": "node-1"}
    if org is not None:
        res["org_id"] = org
    return res


def collector_logs(org: str | None, log_attr_org: str = "") -> list[dict[str, Any]]:
    """Log rows as the exporter writes them: hex ids, severity as sent, attributes flattened to text."""
    tid = trace_of(org or "acme") if org else ""
    base = NOW - timedelta(minutes=10)
    rows = []
    for i, (service, sev_n, sev_t, body, attrs) in enumerate([
        ("api-router", 9, "INFO", f"request accepted for {org}", {"http.route": "/v1/chat", "request_id": f"req-{org}",
                                                                 "tokens": "120"}),
        ("api-router", 0, "Warning", f"slow upstream for {org}", {"http.route": "/v1/chat", "tokens": "900"}),
        ("checkout", 17, "ERROR", f"payment failed for {org}", {"user.id": f"u-{org}", "http.route": "/pay"}),
        ("checkout", 5, "DEBUG", f"retrying payment for {org}", {}),
    ]):
        if log_attr_org:
            attrs = {**attrs, "org_id": log_attr_org}
        rows.append({
            "Timestamp": ts(base + timedelta(seconds=i), 123), "TraceId": tid, "SpanId": "cc" * 8 if tid else "",
            "TraceFlags": 1, "SeverityText": sev_t, "SeverityNumber": sev_n, "ServiceName": service, "Body": body,
            "ResourceSchemaUrl": "", "ResourceAttributes": _resource(org, service), "ScopeSchemaUrl": "",
            "ScopeName": "app", "ScopeVersion": "", "ScopeAttributes": {}, "LogAttributes": attrs})
    return rows


def collector_spans(org: str | None) -> list[dict[str, Any]]:
    """A server span with an error event and its client child, as the exporter writes them."""
    tid = trace_of(org or "zz")
    if org is None:
        tid = "f" * 32
    start = NOW - timedelta(minutes=10)

    def span(span_id: str, parent: str, name: str, kind: str, service: str, ms: int, status: str,
             attrs: dict[str, str], events: list[tuple[datetime, str, dict[str, str]]]) -> dict[str, Any]:
        return {
            "Timestamp": ts(start), "TraceId": tid, "SpanId": span_id, "ParentSpanId": parent, "TraceState": "",
            "SpanName": name, "SpanKind": kind, "ServiceName": service,
            "ResourceAttributes": _resource(org, service), "ScopeName": "app", "ScopeVersion": "",
            "SpanAttributes": attrs, "Duration": ms * 1_000_000, "StatusCode": status, "StatusMessage": "",
            "Events.Timestamp": [ts(e[0]) for e in events], "Events.Name": [e[1] for e in events],
            "Events.Attributes": [e[2] for e in events]}

    return [
        span("cc" * 8, "", "POST /v1/chat", "Server", "api-router", 250, "Error",
             {"http.route": "/v1/chat", "http.request.method": "POST"},
             [(start + timedelta(milliseconds=5), "exception", {"exception.type": "Timeout"})]),
        span("dd" * 8, "cc" * 8, "charge", "Client", "checkout", 40, "Ok", {"peer.service": "bank"}, []),
    ]


@pytest.fixture
def otel(db: Any) -> Iterator[ClickHouseOtelStore]:
    shared = fresh_clickhouse_store()
    ex = shared.executor
    assert isinstance(ex, ChdbExecutor)
    ex.execute(f"CREATE DATABASE IF NOT EXISTS {DB}")
    for ddl in (OTEL_LOGS_DDL, OTEL_TRACES_DDL, OTEL_LOGS_EARLIER_DDL):
        ex.execute(ddl)
    for table in ("otel_logs", "otel_traces", "otel_logs_earlier"):
        ex.execute(f"TRUNCATE TABLE {DB}.{table}")
    # Both orgs' rows, plus rows that belong to nobody: no org attribute on the resource (one claims an org
    # only in its record attributes, which is not where the org is read from).
    _insert(ex, "otel_logs", [*collector_logs("acme"), *collector_logs("globex"),
                              *collector_logs(None, log_attr_org="acme")])
    _insert(ex, "otel_traces", [*collector_spans("acme"), *collector_spans("globex"), *collector_spans(None)])
    yield ClickHouseOtelStore(ex, org_attribute="org_id", database=DB)


def use_store(monkeypatch: pytest.MonkeyPatch, store: ClickHouseOtelStore) -> None:
    """Make `get_store()` answer with `store`. Patched behind `get_store` itself: modules that imported it
    by name (and those the first request imports) keep calling the real function."""
    monkeypatch.setattr(store_package, "_store_for", lambda *args: store)


def bodies(records: Any) -> list[str]:
    return sorted(r.body for r in records)


SEARCHES = {
    "": 4,
    '"payment"': 2,
    "payment failed": 1,
    "level>=warn": 2,
    "level=warn": 1,
    "level=debug": 1,
    "service=checkout": 2,
    'attr.http.route="/v1/chat"': 2,
    "tokens>500": 1,
    "host.name=node-1": 4,
    "cid=req-{org}": 1,
    "user=u-{org}": 1,
    "trace_id={trace}": 4,
    'body~"^request accepted"': 1,
    "NOT service=checkout AND level=info": 1,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "expected"), SEARCHES.items(), ids=list(SEARCHES))
def test_search_finds_collector_rows_and_only_the_orgs_own(otel: ClickHouseOtelStore, org_a: Any, org_b: Any,
                                                           query: str, expected: int) -> None:
    for org, other in ((org_a, "globex"), (org_b, "acme")):
        q = query.format(org=org.label_value, trace=trace_of(org.label_value))
        found = otel.search(org, q, T0, T1).records
        assert len(found) == expected, (org, q)
        assert all(org.label_value in r.body and other not in r.body for r in found)
        assert all(r.org_id == org.pk and r.resource["org_id"] == org.label_value for r in found)
        assert otel.count(org, q, T0, T1) == expected
        assert sum(b.count for b in otel.histogram(org, q, T0, T1, buckets=6)) == expected
    # Another org's own values find nothing.
    assert otel.search(org_a, "cid=req-globex", T0, T1).records == []
    assert otel.search(org_a, f"trace_id={trace_of('globex')}", T0, T1).records == []


@pytest.mark.django_db
def test_the_exporters_earlier_logs_table_reads_the_same(otel: ClickHouseOtelStore, org_a: Any,
                                                         org_b: Any) -> None:
    ex = otel.executor
    assert isinstance(ex, ChdbExecutor)
    _insert(ex, "otel_logs_earlier", [*collector_logs("acme"), *collector_logs("globex")])
    recorder = RecordingExecutor(ex)
    earlier = ClickHouseOtelStore(recorder, org_attribute="org_id", database=DB,  # type: ignore[arg-type]
                                  logs_table="otel_logs_earlier")
    assert bodies(earlier.search(org_a, "level>=warn", T0, T1).records) == ["payment failed for acme",
                                                                             "slow upstream for acme"]
    assert bodies(earlier.search(org_b, "cid=req-globex", T0, T1).records) == ["request accepted for globex"]
    assert earlier.search(org_b, "cid=req-acme", T0, T1).records == []
    assert not any("TimestampTime >=" in sql for sql, _ in recorder.statements)


@pytest.mark.django_db
def test_records_map_to_the_portal_fields(otel: ClickHouseOtelStore, org_a: Any) -> None:
    page = otel.search(org_a, "", T0, T1, limit=3)
    assert [r.body for r in page.records] == ["retrying payment for acme", "payment failed for acme",
                                              "slow upstream for acme"]
    failed = page.records[1]
    assert (failed.service, failed.level, failed.severity_number, failed.user_id) == ("checkout", "error", 17,
                                                                                       "u-acme")
    assert failed.trace_id == trace_of("acme") and failed.span_id == "cc" * 8
    assert failed.time == NOW - timedelta(minutes=10) + timedelta(seconds=2)
    assert page.records[2].level == "warn"  # SeverityNumber 0: from the text, as the receiver does
    assert page.next_cursor
    rest = otel.search(org_a, "", T0, T1, limit=3, cursor=page.next_cursor)
    assert bodies(rest.records) == ["request accepted for acme"] and rest.next_cursor is None
    assert otel.search(org_a, "", NOW - timedelta(days=2), NOW - timedelta(days=1)).records == []


@pytest.mark.django_db
def test_context_and_exports_iteration(otel: ClickHouseOtelStore, org_a: Any, org_b: Any) -> None:
    records = otel.search(org_a, "service=checkout", T0, T1).records
    ctx = otel.context(org_a, records[0].id)
    assert ctx is not None and ctx.record.body == "retrying payment for acme"
    assert [r.body for r in ctx.before] == ["payment failed for acme"] and ctx.after == []
    assert otel.context(org_b, records[0].id) is None
    assert otel.context(org_a, "not-an-id") is None

    exported = list(otel.iter_records(org_a, "", T0, T1, batch_size=3))
    assert [r.body for r in exported] == ["request accepted for acme", "slow upstream for acme",
                                          "payment failed for acme", "retrying payment for acme"]
    assert [r.body for r in otel.iter_records(org_b, "level>=warn", T0, T1, batch_size=1)] == [
        "slow upstream for globex", "payment failed for globex"]


@pytest.mark.django_db
def test_an_export_streams_the_orgs_collector_rows(otel: ClickHouseOtelStore, org_a: Any, alice: Any,
                                                   settings: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings.EXPORTS_DIR = tmp_path / "exports"
    use_store(monkeypatch, otel)
    export = export_services.create_export(org_a, alice, export_services.ExportRequest(
        query="service=checkout OR level=warn", start=T0, end=T1, format="ndjson", gzip=True))
    assert export_services.run_export(export.pk) == ExportStatus.DONE
    export.refresh_from_db()
    path = export.file_path()
    assert path is not None
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert [r["message"] for r in lines] == ["slow upstream for acme", "payment failed for acme",
                                             "retrying payment for acme"]
    assert export.rows_total == export.rows_written == 3


@pytest.mark.django_db
def test_trace_view_and_trace_search(otel: ClickHouseOtelStore, org_a: Any, org_b: Any) -> None:
    trace = otel.get_trace(org_a, trace_of("acme").upper())
    assert trace is not None
    root, child = sorted(trace.spans, key=lambda s: s.parent_span_id)
    assert (root.name, root.kind, root.status, root.service) == ("POST /v1/chat", "server", "error", "api-router")
    assert root.duration_ms == 250 and root.attributes["http.route"] == "/v1/chat"
    assert [(e.name, e.attributes) for e in root.events] == [("exception", {"exception.type": "Timeout"})]
    assert (child.kind, child.status, child.parent_span_id) == ("client", "ok", "cc" * 8)
    assert len(trace.logs) == 4 and all("acme" in r.body for r in trace.logs)
    assert otel.get_trace(org_b, trace_of("acme")) is None
    assert otel.get_trace(org_a, "f" * 32) is None  # spans without the org attribute belong to nobody

    for org in (org_a, org_b):
        for query in ("", "status=error", "service=checkout", "duration>200ms", "kind=client", "charge",
                      "attr.peer.service=bank"):
            found = otel.search_traces(org, query, T0, T1)
            assert [(t.trace_id, t.root_service, t.root_name, t.span_count, t.error_count) for t in found] == [
                (trace_of(org.label_value), "api-router", "POST /v1/chat", 2, 1)], (org, query)
        assert otel.search_traces(org, "duration>300ms", T0, T1) == []


@pytest.mark.django_db
def test_service_pages_read_the_collector_spans(otel: ClickHouseOtelStore, org_a: Any, org_b: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert sorted(s.span_id for s in otel.iter_spans(org_a, "", T0, T1, batch_size=1)) == ["cc" * 8, "dd" * 8]
    assert [s.service for s in otel.iter_spans(org_b, "service=checkout", T0, T1)] == ["checkout"]
    assert all(s.trace_id == trace_of("globex") for s in otel.iter_spans(org_b, "", T0, T1))

    use_store(monkeypatch, otel)
    window = performance.window_from({"since": "1h", "end": T1.isoformat()})
    report = performance.analyse(org_a, window).as_dict()
    assert [(e["service"], e["endpoint"], e["count"], e["errors"]) for e in report["endpoints"]] == [
        ("api-router", "POST /v1/chat", 1, 1)]
    graph = performance.service_map(org_b, window)
    assert [(e["source"], e["target"], e["calls"]) for e in graph["edges"]] == [("api-router", "checkout", 1)]


@pytest.mark.django_db
def test_every_statement_carries_the_org_condition(otel: ClickHouseOtelStore, org_a: Any) -> None:
    inner = otel.executor
    assert isinstance(inner, ChdbExecutor)
    recorder = RecordingExecutor(inner)
    store = ClickHouseOtelStore(recorder, org_attribute="org_id", database=DB)  # type: ignore[arg-type]
    page = store.search(org_a, "payment", T0, T1, limit=1)
    store.search(org_a, "payment", T0, T1, cursor=page.next_cursor)
    store.count(org_a, "level>=warn OR attr.tokens>5", T0, T1)
    store.histogram(org_a, "service=checkout", T0, T1)
    store.context(org_a, page.records[0].id)
    cursor = store.tail(org_a, "").next_cursor
    store.tail(org_a, "", cursor)
    list(store.iter_records(org_a, "", T0, T1, batch_size=2))
    list(store.iter_spans(org_a, "duration>1ms", T0, T1, batch_size=1))
    store.get_trace(org_a, trace_of("acme"))
    store.search_traces(org_a, "status=error", T0, T1)
    # The one catalog lookup (does the logs table have TimestampTime?) reads no org data.
    reads = [(sql, p) for sql, p in recorder.statements if "FROM system.columns" not in sql]
    assert len(reads) == len(recorder.statements) - 1 and len(reads) >= 12
    assert any("TimestampTime >=" in sql for sql, _ in reads)
    for sql, params in reads:
        tables = len(re.findall(rf"FROM {DB}\.otel_(?:logs|traces)\b", sql))
        conditions = re.findall(r"ResourceAttributes\[\{(p\d+):String\}\] = \{(p\d+):String\}", sql)
        assert tables >= 1 and len(conditions) == tables, sql
        assert all(params[k] == "org_id" and params[v] == org_a.label_value for k, v in conditions), sql
        assert "acme" not in sql  # the value is a parameter, never text


@pytest.mark.django_db
def test_writes_are_refused_and_retention_is_the_exporters(otel: ClickHouseOtelStore, org_a: Any) -> None:
    assert otel.write_logs([]) == 0
    with pytest.raises(ReadOnlyStoreError, match="Collector"):
        otel.write_logs([make_log(org_a)])
    assert otel.delete_older_than(org_a, NOW) == 0 and otel.drop_partitions_before(NOW) == []
    assert otel.count(org_a, "", T0, T1) == 4


@pytest.mark.django_db
def test_store_url_selects_the_collector_layout(otel: ClickHouseOtelStore, settings: Any) -> None:
    path = otel.executor.path  # type: ignore[attr-defined]
    settings.LOGS_COLLECTOR_ORG_ATTRIBUTE = "tenant"
    # The shared in-process engine keeps its database (chdb: one session per directory).
    store = _store_for("auto", "sqlite", f"chdb://{path}?layout=otel&logs_table=otel_logs")
    assert isinstance(store, ClickHouseOtelStore) and store.org_attribute == "tenant"
    assert store.logs_table == "portal_logs.otel_logs"
    store = otel_store_from_url(f"chdb://{path}?layout=otel&org_attribute=org_id&traces_table=spans")
    assert store.org_attribute == "org_id" and store.traces_table == "portal_logs.spans"
    _store_for.cache_clear()
    for bad in ("layout=otel&logs_table=x;drop", "layout=otel&colour=red", "layout=otel&org_attribute="):
        with pytest.raises(ImproperlyConfigured):
            otel_store_from_url(f"chdb://{path}?{bad}")


@pytest.mark.django_db
def test_the_api_serves_collector_rows_per_org(otel: ClickHouseOtelStore, api_bob: Any, api_charlie: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    use_store(monkeypatch, otel)
    span = {"start": T0.isoformat(), "end": T1.isoformat()}
    found = api_bob.get("/api/v1/logs/search", {"q": "level>=warn", **span}).json()["records"]
    assert sorted(r["body"] for r in found) == ["payment failed for acme", "slow upstream for acme"]
    assert api_charlie.get("/api/v1/logs/search", {"q": "cid=req-acme", **span}).json()["records"] == []
    context = api_bob.get(f"/api/v1/logs/context/{found[0]['id']}/")
    assert context.status_code == 200
    assert api_charlie.get(f"/api/v1/logs/context/{found[0]['id']}/").status_code == 404

    [trace] = api_bob.get("/api/v1/traces/search", {"q": "status=error", **span}).json()["traces"]
    assert trace["trace_id"] == trace_of("acme")
    assert len(api_bob.get(f"/api/v1/traces/{trace_of('acme')}").json()["spans"]) == 2
    assert api_charlie.get(f"/api/v1/traces/{trace_of('acme')}").status_code == 404

    endpoints = api_charlie.get("/api/v1/performance/", span).json()["endpoints"]
    assert [(e["service"], e["endpoint"]) for e in endpoints] == [("api-router", "POST /v1/chat")]


@pytest.mark.django_db
def test_otlp_to_the_portal_is_refused_with_a_clear_answer(otel: ClickHouseOtelStore, client: Any, org_a: Any,
                                                           ingest_a: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_store(monkeypatch, otel)
    body = logs_request([{"body": "sent to the portal"}]).SerializeToString()
    resp = post_otlp(client, "/otlp/v1/logs", body, ingest_a)
    assert resp.status_code == 503 and b"ReadOnlyStoreError" in resp.content
    assert otel.count(org_a, "", T0, T1) == 4


def test_exceptions_are_grouped_from_the_collectors_span_events(otel: ClickHouseOtelStore, org_a: Any,
                                                                 org_b: Any) -> None:
    from logs_app.store.exceptions import find_exceptions

    report = find_exceptions(otel, org_a, "", NOW - timedelta(hours=1), NOW + timedelta(minutes=1))
    assert [(g.type, g.service, g.count) for g in report.groups] == [("Timeout", "api-router", 1)]
    assert report.groups[0].examples[0].trace_id == trace_of("acme")
    assert find_exceptions(otel, org_a, "service=checkout", NOW - timedelta(hours=1), NOW).groups == []

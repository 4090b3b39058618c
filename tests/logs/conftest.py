"""Helpers for the logs/traces tests: OTLP request builders and a direct store writer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from logs_app.store import get_store
from logs_app.store.records import LogRecord, SpanRecord

NOW = datetime.now(UTC).replace(microsecond=0)


def kv(msg: Any, key: str, value: Any) -> None:
    a = msg.add()
    a.key = key
    if isinstance(value, bool):
        a.value.bool_value = value
    elif isinstance(value, int):
        a.value.int_value = value
    elif isinstance(value, float):
        a.value.double_value = value
    else:
        a.value.string_value = value


def logs_request(records: list[dict[str, Any]], service: str = "api-router",
                 resource: dict[str, Any] | None = None) -> logs_service_pb2.ExportLogsServiceRequest:
    req = logs_service_pb2.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    kv(rl.resource.attributes, "service.name", service)
    for k, v in (resource or {}).items():
        kv(rl.resource.attributes, k, v)
    sl = rl.scope_logs.add()
    sl.scope.name = "tests"
    for r in records:
        lr = sl.log_records.add()
        lr.time_unix_nano = r.get("time_ns", time.time_ns())
        lr.severity_number = r.get("severity", 9)
        lr.severity_text = r.get("severity_text", "")
        lr.body.string_value = r.get("body", "hello")
        if "trace_id" in r:
            lr.trace_id = bytes.fromhex(r["trace_id"])
        if "span_id" in r:
            lr.span_id = bytes.fromhex(r["span_id"])
        for k, v in r.get("attrs", {}).items():
            kv(lr.attributes, k, v)
    return req


def traces_request(spans: list[dict[str, Any]],
                   service: str = "api-router") -> trace_service_pb2.ExportTraceServiceRequest:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv(rs.resource.attributes, "service.name", service)
    ss = rs.scope_spans.add()
    for s in spans:
        sp = ss.spans.add()
        sp.trace_id = bytes.fromhex(s["trace_id"]) if s.get("trace_id") is not None else b""
        sp.span_id = bytes.fromhex(s["span_id"]) if s.get("span_id") is not None else b""
        if s.get("parent"):
            sp.parent_span_id = bytes.fromhex(s["parent"])
        sp.name = s.get("name", "GET /")
        start = s.get("start_ns", time.time_ns() - 50_000_000)
        sp.start_time_unix_nano = start
        sp.end_time_unix_nano = start + int(s.get("duration_ms", 50) * 1_000_000)
        sp.kind = s.get("kind", 2)
        sp.status.code = s.get("status", 0)
        for k, v in s.get("attrs", {}).items():
            kv(sp.attributes, k, v)
    return req


def make_log(org: Any, **kw: Any) -> LogRecord:
    base: dict[str, Any] = {"org_id": org.pk, "time": NOW - timedelta(minutes=5), "body": "hello world",
                            "service": "api-router", "level": "info"}
    base.update(kw)
    return LogRecord(**base)


def make_span(org: Any, trace_id: str, span_id: str, **kw: Any) -> SpanRecord:
    start = kw.pop("start", NOW - timedelta(minutes=5))
    duration = kw.pop("duration_ms", 10)
    base: dict[str, Any] = {"org_id": org.pk, "trace_id": trace_id, "span_id": span_id, "name": "GET /",
                            "start": start, "end": start + timedelta(milliseconds=duration), "service": "api-router"}
    base.update(kw)
    return SpanRecord(**base)


@pytest.fixture
def store() -> Any:
    return get_store()


def post_otlp(client: Any, path: str, body: bytes, token: str | None, ctype: str = "application/x-protobuf",
              **headers: str) -> Any:
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.generic("POST", path, body, content_type=ctype, **extra)


# Values a spreadsheet would run as formulas, quoting and line-break cases, non-ASCII, JSON-escaped characters:
# the export tests of every path compare what each writes for them.
TRICKY = ["=SUM(A1:A9)", "+33 6 12", "-1", "@cmd", "\tTAB", "\rCR", 'say "hi", then go', "multi\nline",
          "ünïcødé ✓", "", "plain text", "back\\slash", "'already quoted", "slash/and </script>"]


def tricky_records(org_id: int, now: datetime) -> list[LogRecord]:
    """One record per TRICKY body, oldest first, with formula-like service and correlation ids among them."""
    return [LogRecord(
        org_id=org_id, time=now - timedelta(seconds=100 - i, microseconds=0 if i % 2 else 123456), body=body,
        service="=svc" if i == 3 else f"svc-{i % 3}", level=["info", "error", "warn"][i % 3],
        trace_id=("ab" * 16) if i % 2 else "", span_id=("cd" * 8) if i % 2 else "",
        correlation_id="-corr" if i == 4 else f"c-{i}",
        attributes={} if i % 4 == 0 else {"k": body, "n": i, "nested": {"x": [1, 2]}, "b": True})
        for i, body in enumerate(TRICKY)]

"""OTLP/HTTP receivers with hand-made bodies: encodings, auth, limits, overload and bad input."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from logs_app.otlp import receivers
from tests.logs.conftest import logs_request, post_otlp, traces_request

pytestmark = pytest.mark.django_db
LOGS, TRACES = "/otlp/v1/logs", "/otlp/v1/traces"
WIDE = (datetime.now(UTC) - timedelta(days=400), datetime.now(UTC) + timedelta(days=2))


def all_logs(store: Any, org: Any, q: str = "") -> list[Any]:
    return store.search(org, q, *WIDE, limit=1000).records


def test_protobuf_logs_land_in_the_token_org(client: Client, store: Any, org_a: Any, org_b: Any, ingest_a: str) -> None:
    req = logs_request([{"body": "hello acme", "severity": 17, "trace_id": "0a" * 16, "span_id": "0b" * 8,
                         "attrs": {"request_id": "r-1", "user_id": "u-7", "status": 500}}],
                       resource={"org_id": "globex"})
    resp = post_otlp(client, LOGS, req.SerializeToString(), ingest_a)
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/x-protobuf"
    assert not logs_service_pb2.ExportLogsServiceResponse.FromString(resp.content).HasField("partial_success")
    [rec] = all_logs(store, org_a)
    assert (rec.body, rec.level, rec.service, rec.trace_id, rec.span_id, rec.correlation_id, rec.user_id) == (
        "hello acme", "error", "api-router", "0a" * 16, "0b" * 8, "r-1", "u-7")
    assert rec.attributes["status"] == 500
    # The payload's claim to be globex is overwritten: org comes from the token only.
    assert rec.resource["org_id"] == "acme"
    assert all_logs(store, org_b) == []


def test_json_logs_and_traces_with_hex_ids(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    now = str(time.time_ns())
    body = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
                              "scopeLogs": [{"logRecords": [{
                                  "timeUnixNano": now, "severityText": "WARNING", "body": {"stringValue": "from json"},
                                  "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                                  "unknownFutureField": 1}]}]}]}
    resp = post_otlp(client, LOGS, json.dumps(body).encode(), ingest_a, "application/json")
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"] == "application/json"
    assert json.loads(resp.content) == {}
    [rec] = all_logs(store, org_a)
    assert (rec.service, rec.level, rec.trace_id, rec.span_id) == ("js", "warn", "5b8efff798038103d269b633813fc60c",
                                                                  "eee19b7ec3c1b174")
    spans = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "GET /x",
        "kind": 2, "startTimeUnixNano": now, "endTimeUnixNano": str(int(now) + 5_000_000),
        "status": {"code": 2}}]}]}]}
    resp = post_otlp(client, TRACES, json.dumps(spans).encode(), ingest_a, "application/json")
    assert resp.status_code == 200, resp.content
    trace = store.get_trace(org_a, "5b8efff798038103d269b633813fc60c")
    assert [(s.name, s.kind, s.status, round(s.duration_ms)) for s in trace.spans] == [("GET /x", "server", "error", 5)]
    assert [r.body for r in trace.logs] == ["from json"]


def test_gzip_bodies(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    raw = logs_request([{"body": f"gz {i}"} for i in range(50)]).SerializeToString()
    resp = post_otlp(client, LOGS, gzip.compress(raw), ingest_a, content_encoding="gzip")
    assert resp.status_code == 200
    assert len(all_logs(store, org_a)) == 50
    resp = post_otlp(client, LOGS, gzip.compress(raw)[:-10], ingest_a, content_encoding="gzip")
    assert resp.status_code == 400
    resp = post_otlp(client, LOGS, b"not gzip at all", ingest_a, content_encoding="gzip")
    assert resp.status_code == 400
    resp = post_otlp(client, LOGS, raw, ingest_a, content_encoding="br")
    assert resp.status_code == 415


def test_empty_requests_and_the_interface_check(client: Client, org_a: Any, alice: Any, ingest_a: str) -> None:
    from tests.conftest import token_client

    assert post_otlp(client, LOGS, b'{"resourceLogs": []}', ingest_a, "application/json").status_code == 200
    assert post_otlp(client, TRACES, b'{"resourceSpans": []}', ingest_a, "application/json").status_code == 200
    for path in (LOGS, TRACES):
        resp = post_otlp(client, path, b"{}", None, "application/json")
        assert resp.status_code == 401
        assert "ingest token" in json.loads(resp.content)["message"]
    read_token = token_client(org_a, alice, "read").token
    assert post_otlp(client, LOGS, b'{"resourceLogs": []}', read_token, "application/json").status_code in (401, 403)
    assert post_otlp(client, LOGS, b"{}", "pi_deadbeef0000_nope", "application/json").status_code == 401
    assert post_otlp(client, LOGS, b"\x0a\xff", ingest_a).status_code == 400
    assert client.get(LOGS).status_code == 405


def test_error_bodies_follow_the_spec(client: Client, ingest_a: str) -> None:
    resp = post_otlp(client, LOGS, b"\x0a\xff", ingest_a)
    assert resp.status_code == 400
    assert resp["Content-Type"] == "application/x-protobuf"
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(resp.content)
    assert status.code == 3 and "Malformed protobuf" in status.message
    resp = post_otlp(client, LOGS, b"[1, 2", ingest_a, "application/json")
    assert resp.status_code == 400 and "Malformed JSON" in json.loads(resp.content)["message"]


@pytest.mark.parametrize(("body", "ctype", "status"), [
    (b"hello", "text/plain", 415),
    (b"{}", "application/xml", 415),
    (b'{"resourceLogs": "nope"}', "application/json", 400),
    (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "xyz"}]}]}]}', "application/json", 400),
    (b"[]", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
])
def test_wrong_content_types_and_bodies(client: Client, ingest_a: str, body: bytes, ctype: str, status: int) -> None:
    assert post_otlp(client, LOGS, body, ingest_a, ctype).status_code == status


def test_truncated_protobuf_is_400_and_stores_nothing(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    raw = logs_request([{"body": "x" * 100} for _ in range(10)]).SerializeToString()
    resp = post_otlp(client, LOGS, raw[: len(raw) // 2], ingest_a)
    assert resp.status_code == 400
    assert all_logs(store, org_a) == []


def test_invalid_utf8_keeps_the_batch(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    raw = logs_request([{"body": "GOOD-ONE"}, {"body": "BADXX-TWO", "attrs": {"k": "BADXX"}},
                        {"body": "GOOD-THREE"}]).SerializeToString()
    raw = raw.replace(b"BADXX", b"B\xff\xfeD\x00")
    resp = post_otlp(client, LOGS, raw, ingest_a)
    assert resp.status_code == 200
    got = sorted(r.body for r in all_logs(store, org_a))
    assert got == ["B\ufffd\ufffdD\ufffd-TWO", "GOOD-ONE", "GOOD-THREE"]
    bad = next(r for r in all_logs(store, org_a) if "TWO" in r.body)
    assert bad.attributes["k"] == "B\ufffd\ufffdD\ufffd"


def test_absurd_timestamps_are_replaced_and_kept(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    far_future = int((datetime.now(UTC) + timedelta(days=3650)).timestamp() * 1e9)
    raw = logs_request([{"body": "epoch", "time_ns": 1}, {"body": "future", "time_ns": far_future},
                        {"body": "unset", "time_ns": 0}]).SerializeToString()
    assert post_otlp(client, LOGS, raw, ingest_a).status_code == 200
    recs = {r.body: r for r in all_logs(store, org_a)}
    assert set(recs) == {"epoch", "future", "unset"}
    now = datetime.now(UTC)
    for r in recs.values():
        assert abs((r.time - now).total_seconds()) < 60
    assert recs["epoch"].attributes["portal.original_time_unix_nano"] == "1"
    assert recs["future"].attributes["portal.original_time_unix_nano"] == str(far_future)
    assert "portal.original_time_unix_nano" not in recs["unset"].attributes


@pytest.mark.parametrize("setting", [{"LOGS_MAX_BODY_CHARS": 100, "LOGS_MAX_ATTRIBUTE_CHARS": 10,
                                      "LOGS_MAX_ATTRIBUTES": 3}])
def test_oversized_bodies_and_attributes_are_truncated(client: Client, store: Any, org_a: Any, ingest_a: str,
                                                       settings: Any, setting: dict[str, int]) -> None:
    for k, v in setting.items():
        setattr(settings, k, v)
    attrs = {"long": "y" * 50, "a": 1, "b": 2, "c": 3, "d": 4}
    raw = logs_request([{"body": "x" * 5000, "attrs": attrs}, {"body": "small"}]).SerializeToString()
    assert post_otlp(client, LOGS, raw, ingest_a).status_code == 200
    big = next(r for r in all_logs(store, org_a) if r.body.startswith("x"))
    assert len(big.body) == 100
    assert big.attributes["long"] == "y" * 10
    assert "d" not in big.attributes
    assert set(big.attributes["portal.truncated"].split(",")) == {"attribute:long", "attributes", "body"}
    assert any(r.body == "small" for r in all_logs(store, org_a))


def test_body_over_the_limit_is_413(client: Client, store: Any, org_a: Any, ingest_a: str, settings: Any) -> None:
    settings.INGEST_MAX_BODY_BYTES = 1000
    raw = logs_request([{"body": "z" * 2000}]).SerializeToString()
    assert post_otlp(client, LOGS, raw, ingest_a).status_code == 413
    bomb = gzip.compress(b"\x0a" + b"\x00" * 50_000)
    assert len(bomb) < 1000
    assert post_otlp(client, LOGS, bomb, ingest_a, content_encoding="gzip").status_code == 413
    assert all_logs(store, org_a) == []


def test_bad_spans_are_partial_success_rest_kept(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    req = traces_request([
        {"trace_id": "11" * 16, "span_id": "22" * 8, "name": "good"},
        {"trace_id": "00" * 16, "span_id": "33" * 8, "name": "zero trace id"},
        {"trace_id": "11" * 16, "span_id": None, "name": "no span id"},
        {"trace_id": "11" * 16, "span_id": "44" * 8, "name": "good too"},
    ])
    resp = post_otlp(client, TRACES, req.SerializeToString(), ingest_a)
    assert resp.status_code == 200
    partial = trace_service_pb2.ExportTraceServiceResponse.FromString(resp.content).partial_success
    assert partial.rejected_spans == 2
    assert "trace_id must be 16 bytes" in partial.error_message
    assert sorted(s.name for s in store.get_trace(org_a, "11" * 16).spans) == ["good", "good too"]
    resp = post_otlp(client, TRACES, json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "", "spanId": "", "name": "x"}]}]}]}).encode(), ingest_a, "application/json")
    assert json.loads(resp.content) == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": (
        "span rejected: trace_id must be 16 bytes and span_id 8 bytes, not all zero")}}


def test_org_rate_limit_is_429_with_retry_after(client: Client, store: Any, org_a: Any, org_b: Any,
                                                ingest_a: str, ingest_b: str, settings: Any) -> None:
    settings.LOGS_INGEST_RECORDS_PER_SECOND = 100
    raw = logs_request([{"body": "r"} for _ in range(60)]).SerializeToString()
    codes = [post_otlp(client, LOGS, raw, ingest_a).status_code for _ in range(2)]
    if codes == [200, 200]:  # the two requests straddled a second boundary; a third in the same second can't pass
        codes.append(post_otlp(client, LOGS, raw, ingest_a).status_code)
    assert 429 in codes
    resp = post_otlp(client, LOGS, raw * 0 + logs_request([{"body": "r"}] * 200).SerializeToString(), ingest_a)
    assert resp.status_code == 429 and resp["Retry-After"] == "1"
    # Another org's budget is its own.
    assert post_otlp(client, LOGS, raw, ingest_b).status_code == 200


def test_overload_is_503_with_retry_after(client: Client, store: Any, org_a: Any, ingest_a: str,
                                          settings: Any) -> None:
    settings.LOGS_INGEST_MAX_CONCURRENCY = 2
    raw = logs_request([{"body": "one"}]).SerializeToString()
    # Two requests already decoding/writing in this process hold both slots: the next is turned away.
    with receivers._gate.slot(), receivers._gate.slot():
        resp = post_otlp(client, LOGS, raw, ingest_a)
    assert resp.status_code == 503 and resp["Retry-After"] == "1"
    assert post_otlp(client, LOGS, raw, ingest_a).status_code == 200
    assert [r.body for r in all_logs(store, org_a)] == ["one"]


def test_store_down_is_503_with_retry_after(client: Client, ingest_a: str, monkeypatch: Any) -> None:
    from django.db import OperationalError

    class Down:
        def write_logs(self, rows: Any) -> int:
            raise OperationalError("connection refused")

    monkeypatch.setattr(receivers, "get_store", Down)
    resp = post_otlp(client, LOGS, logs_request([{"body": "x"}]).SerializeToString(), ingest_a)
    assert resp.status_code == 503 and resp["Retry-After"] == "5"
    from google.rpc import status_pb2

    assert "unavailable" in status_pb2.Status.FromString(resp.content).message


def test_correlation_and_user_attribute_names_are_configurable(client: Client, store: Any, org_a: Any,
                                                               ingest_a: str, settings: Any) -> None:
    settings.LOGS_CORRELATION_ATTRIBUTES = ["trace.request", "request_id"]
    settings.LOGS_USER_ATTRIBUTES = ["customer"]
    raw = logs_request([{"body": "custom", "attrs": {"trace.request": "t-1", "request_id": "r-2", "customer": 9}},
                        {"body": "fallback", "attrs": {"request_id": "r-3", "user_id": "ignored"}}],
                       resource={"customer": "from-resource"}).SerializeToString()
    assert post_otlp(client, LOGS, raw, ingest_a).status_code == 200
    recs = {r.body: r for r in all_logs(store, org_a)}
    assert (recs["custom"].correlation_id, recs["custom"].user_id) == ("t-1", "9")
    assert (recs["fallback"].correlation_id, recs["fallback"].user_id) == ("r-3", "from-resource")
    assert [r.body for r in all_logs(store, org_a, "correlation_id=t-1")] == ["custom"]


def test_non_string_bodies_and_nested_values(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    req = logs_request([{"body": "placeholder"}])
    lr = req.resource_logs[0].scope_logs[0].log_records[0]
    kv_ = lr.body.kvlist_value.values.add()
    kv_.key = "event"
    inner = kv_.value
    for _ in range(20):  # deeper than the stored nesting limit
        inner = inner.array_value.values.add()
    inner.string_value = "deep"
    assert post_otlp(client, LOGS, req.SerializeToString(), ingest_a).status_code == 200
    [rec] = all_logs(store, org_a)
    assert json.loads(rec.body)["event"][0][0][0][0][0][0][0] == "(nested too deeply)"


def test_json_lone_surrogates_and_nul_escapes(client: Client, store: Any, org_a: Any, ingest_a: str) -> None:
    body = ('{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "a\\ud800b\\u0000c"}, '
            '"attributes": [{"key": "k\\u0000", "value": {"stringValue": "\\udfff"}}]}, '
            '{"body": {"stringValue": "fine"}}]}]}]}')
    resp = post_otlp(client, LOGS, body.encode(), ingest_a, "application/json")
    assert resp.status_code == 200, resp.content
    recs = {r.body: r for r in all_logs(store, org_a)}
    assert set(recs) == {"a\ufffdb\ufffdc", "fine"}
    assert recs["a\ufffdb\ufffdc"].attributes["k\ufffd"] == "\ufffd"

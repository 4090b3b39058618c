"""The stock OpenTelemetry Python SDK exporters (opentelemetry-exporter-otlp-proto-http) against a live
portal: logs through the logging bridge, traces through a tracer, with OTEL_EXPORTER_OTLP_ENDPOINT."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import StatusCode

from logs_app.store import get_store

pytestmark = pytest.mark.django_db(transaction=True)
WIDE = (datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))


def sdk_pipeline(token: str, service: str, compression: Compression) -> tuple[LoggerProvider, TracerProvider]:
    resource = Resource.create({"service.name": service, "org_id": "someone-else"})
    headers = {"Authorization": f"Bearer {token}"}
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(headers=headers, compression=compression, timeout=10)))
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(headers=headers, compression=compression, timeout=10)))
    return logger_provider, tracer_provider


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.NoCompression])
def test_sdk_exporters_send_logs_and_traces(live_server: Any, monkeypatch: Any, org_a: Any, org_b: Any,
                                            ingest_a: str, compression: Compression) -> None:
    # The endpoint users configure: the SDK appends /v1/logs and /v1/traces itself.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", live_server.url + "/otlp")
    logger_provider, tracer_provider = sdk_pipeline(ingest_a, "checkout", compression)
    pylog = logging.getLogger(f"sdk-test-{compression.value}")
    pylog.propagate = False
    pylog.setLevel(logging.DEBUG)
    pylog.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=logger_provider))
    tracer = tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span("POST /checkout") as root:
        root.set_attribute("http.status_code", 502)
        with tracer.start_as_current_span("charge card") as child:
            child.set_status(StatusCode.ERROR, "card declined")
            pylog.error("payment failed: card declined", extra={"request_id": "req-77", "user_id": "u-5"})
        trace_id = format(root.get_span_context().trace_id, "032x")
    for i in range(30):
        pylog.info("batch line %d", i)
    assert logger_provider.force_flush(10_000)
    assert tracer_provider.force_flush(10_000)
    logger_provider.shutdown()
    tracer_provider.shutdown()

    store = get_store()
    assert store.count(org_a, "service=checkout", *WIDE) == 31
    [err] = store.search(org_a, "level=error", *WIDE).records
    assert (err.body, err.correlation_id, err.user_id, err.trace_id) == (
        "payment failed: card declined", "req-77", "u-5", trace_id)
    assert err.resource["org_id"] == "acme"  # the resource's claim was replaced by the token's org
    trace = store.get_trace(org_a, trace_id)
    assert sorted((s.name, s.status) for s in trace.spans) == [("POST /checkout", "unset"), ("charge card", "error")]
    assert [r.body for r in trace.logs] == ["payment failed: card declined"]
    assert store.count(org_b, "", *WIDE) == 0
    assert store.get_trace(org_b, trace_id) is None


def test_sdk_exporter_with_a_bad_token_stores_nothing(live_server: Any, monkeypatch: Any, org_a: Any) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", live_server.url + "/otlp")
    exporter = OTLPSpanExporter(headers={"Authorization": "Bearer pi_000000000000_wrong"}, timeout=5)
    provider = TracerProvider(resource=Resource.create({"service.name": "x"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("lost"):
        pass
    provider.force_flush(10_000)
    provider.shutdown()
    assert get_store().search_traces(org_a, "", *WIDE) == []

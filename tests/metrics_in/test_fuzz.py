"""Never a 500: corrupted OTLP and remote-write bodies (hypothesis) get a clear 2xx/4xx/503."""

from __future__ import annotations

from typing import Any

import cramjam
import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.metrics_in.conftest import now_ms, post_otlp, post_rw, write_request

pytestmark = pytest.mark.django_db

ALLOWED = {200, 204, 400, 413, 415, 429, 503}


def _valid_otlp() -> bytes:
    ns = now_ms() * 1_000_000
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "fuzz"
    sm = rm.scope_metrics.add()
    g = sm.metrics.add(name="fuzz.gauge", unit="ms").gauge.data_points.add(time_unix_nano=ns, as_double=1.5)
    g.attributes.add(key="org_id").value.string_value = "globex"
    s = sm.metrics.add(name="fuzz.sum").sum
    s.is_monotonic, s.aggregation_temporality = True, 1
    s.data_points.add(time_unix_nano=ns, as_int=3)
    h = sm.metrics.add(name="fuzz.hist").histogram
    h.aggregation_temporality = 2
    h.data_points.add(time_unix_nano=ns, count=2, sum=3.0, explicit_bounds=[1.0], bucket_counts=[1, 1])
    q = sm.metrics.add(name="fuzz.summary").summary.data_points.add(time_unix_nano=ns, count=1, sum=1.0)
    q.quantile_values.add(quantile=0.5, value=1.0)
    sm.metrics.add(name="fuzz.exp").exponential_histogram.data_points.add(time_unix_nano=ns, count=1)
    return req.SerializeToString()


def _corrupt(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        b[pos % len(b)] = val
    return bytes(b)


EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_corrupted_otlp_never_500(prom: Any, ingest_a: str, edits: list[tuple[int, int]]) -> None:
    r = post_otlp(Client(), ingest_a, _corrupt(_valid_otlp(), edits))
    assert r.status_code in ALLOWED, r.content


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_corrupted_remote_write_never_500(prom: Any, ingest_a: str, edits: list[tuple[int, int]]) -> None:
    raw = cramjam.snappy.decompress_raw(write_request([
        ({"__name__": "fuzz_rw", "org_id": "globex", "k": "v"}, [(now_ms(), 1.0)]),
        ({"__name__": "fuzz_rw2"}, [(now_ms(), 2.0)])]))
    body = bytes(cramjam.snappy.compress_raw(_corrupt(bytes(raw), edits)))
    r = post_rw(Client(), ingest_a, body)
    assert r.status_code in ALLOWED, r.content
    # And the corrupted snappy framing itself.
    r = post_rw(Client(), ingest_a, _corrupt(body, edits))
    assert r.status_code in ALLOWED, r.content


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(
                            st.sampled_from(["resourceMetrics", "scopeMetrics", "metrics", "name", "gauge", "sum",
                                             "dataPoints", "asDouble", "asInt", "timeUnixNano", "attributes", "key",
                                             "value", "stringValue", "histogram", "bucketCounts", "explicitBounds",
                                             "aggregationTemporality", "isMonotonic", "unit"]), c, max_size=4),
                        max_leaves=20))
def test_random_otlp_json_never_500(prom: Any, ingest_a: str, doc: Any) -> None:
    import json

    r = post_otlp(Client(), ingest_a, json.dumps({"resourceMetrics": [doc]}).encode(), "application/json")
    assert r.status_code in ALLOWED, r.content

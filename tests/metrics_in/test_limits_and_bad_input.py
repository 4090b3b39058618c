"""Per-org limits and bad input: clear 4xx or per-series refusals, never a 500, the valid rest written."""

from __future__ import annotations

import gzip
import math
from typing import Any

import cramjam
import pytest
from django.test import Client
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from metrics_in_app import services
from portal.tenancy.models import Organization
from tests.conftest import token_client
from tests.metrics_in.conftest import now_ms, post_otlp, post_rw, prom_query, wait_for, write_request

pytestmark = pytest.mark.django_db


def _otlp(points: list[tuple[str, int, float]], *, extra: Any = None) -> bytes:
    """An OTLP request with one gauge per (name, time ns, value)."""
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    for name, t, v in points:
        m = sm.metrics.add(name=name)
        m.gauge.data_points.add(time_unix_nano=t, as_double=v)
    if extra:
        extra(sm)
    return req.SerializeToString()


def _rejections(client: Client, reason: str) -> float:
    """The rejection counter of org acme (by id: /metrics names no organization)."""
    acme = Organization.objects.get(slug="acme")
    text = client.get("/metrics").content.decode()
    for line in text.splitlines():
        if (line.startswith("portal_ingest_rejections_total{") and f'org="{acme.pk}"' in line
                and f'reason="{reason}"' in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_limits_api_staff_only(api_alice: Any, operator: Any, org_a: Any, org_b: Any, charlie: Any) -> None:
    assert api_alice.get("/api/v1/metrics-in/limits/").json()["max_labels_per_series"] == 40
    r = api_alice.patch("/api/v1/metrics-in/limits/", {"max_labels_per_series": 99}, format="json")
    assert r.status_code == 403
    staff = token_client(org_a, operator, "write")
    r = staff.patch("/api/v1/metrics-in/limits/", {"max_labels_per_series": 5}, format="json")
    assert r.status_code == 200 and r.json()["max_labels_per_series"] == 5
    assert staff.patch("/api/v1/metrics-in/limits/", {"max_labels_per_series": -1}, format="json").status_code == 400
    assert staff.patch("/api/v1/metrics-in/limits/", {"nope": 1}, format="json").status_code == 400
    # Another org keeps the defaults.
    from tests.conftest import token_client as tc

    assert tc(org_b, charlie).get("/api/v1/metrics-in/limits/").json()["max_labels_per_series"] == 40


def test_per_series_limits_refuse_only_offenders(prom: Any, ingest_a: str, org_a: Any) -> None:
    services.set_limits(org_a, {"max_labels_per_series": 3, "max_label_value_length": 20,
                                "max_label_name_length": 10})
    t = now_ms()
    c = Client()
    before = _rejections(c, "labels_per_series")
    body = write_request([
        ({"__name__": "ok_metric", "a": "1"}, [(t, 1.0)]),
        ({"__name__": "wide_metric", "a": "1", "b": "2", "c": "3", "d": "4"}, [(t, 1.0)]),
        ({"__name__": "long_value", "a": "x" * 21}, [(t, 1.0)]),
        ({"__name__": "long_name", "abcdefghijk": "1"}, [(t, 1.0)]),
    ])
    r = post_rw(c, ingest_a, body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "partially_rejected" and err["details"]["written_samples"] == 1
    assert "limit of 3 labels per series" in err["message"]
    assert "longer than the limit of 20" in err["message"] and "longer than the limit of 10" in err["message"]
    assert wait_for(prom.url, "ok_metric")
    assert prom_query(prom.url, "wide_metric") == [] and prom_query(prom.url, "long_value") == []
    assert _rejections(c, "labels_per_series") == before + 1
    # The same through OTLP: a partial success naming the limit.
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="otlp_wide")
    p = m.gauge.data_points.add(time_unix_nano=t * 1_000_000, as_double=1)
    for k in "abcd":
        p.attributes.add(key=k).value.string_value = k
    r = post_otlp(c, ingest_a, req.SerializeToString())
    assert r.status_code == 200
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    resp = ExportMetricsServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_data_points == 1
    assert "limit of 3 labels per series" in resp.partial_success.error_message


REDIS_TEST_URL = "redis://127.0.0.1:6379/10"  # this area's own Redis DB number


@pytest.fixture(params=["in_process", "redis"])
def counters_backend(request: Any, settings: Any) -> Any:
    """The rate and active-series counters, in process (embedded) and in Redis (shared by workers)."""
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL)
        try:
            client.ping()
        except redis.ConnectionError:
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        client.flushdb()
        # The counters use the shared cache's Redis; Celery keeps its setup.
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": REDIS_TEST_URL}}
        yield request.param
        client.flushdb()
    else:
        yield request.param


def test_rate_and_active_series_limits(prom: Any, ingest_a: str, org_a: Any, counters_backend: str) -> None:
    services.set_limits(org_a, {"samples_per_second": 2, "max_active_series": 2})
    t = now_ms()
    c = Client()
    series = [({"__name__": "s", "n": str(i)}, [(t, 1.0)]) for i in range(3)]
    r = post_rw(c, ingest_a, write_request(series))
    assert r.status_code == 400
    assert "over the limit of 2 active series" in r.json()["error"]["message"]
    assert len(wait_for(prom.url, "s", 2)) == 2
    # The window (one second) already holds 3 samples; the next request waits (a bounded retry in case
    # the first one straddled a second boundary).
    for _ in range(5):
        r = post_rw(c, ingest_a, write_request(series[:1]))
        if r.status_code == 429:
            break
    assert r.status_code == 429 and r["Retry-After"] == "1"
    assert "limit of 2 samples per second" in r.json()["error"]["message"]
    assert _rejections(c, "rate_limited") >= 1 and _rejections(c, "active_series") >= 1


def test_malformed_bodies(prom: Any, ingest_a: str, settings: Any) -> None:
    c = Client()
    r = post_rw(c, ingest_a, bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff garbage")))
    assert r.status_code == 400 and r.json()["error"]["code"] == "parse_error"
    r = post_otlp(c, ingest_a, b"\x0a\xff\xff\xff\x0f")
    assert r.status_code == 400 and b"Malformed protobuf" in r.content  # a google.rpc.Status, as OTLP says
    r = post_otlp(c, ingest_a, b"{not json", "application/json")
    assert r.status_code == 400 and r.json()["code"] == 3 and "Malformed JSON" in r.json()["message"]
    assert post_otlp(c, ingest_a, b"{not json", "application/json").status_code == 400
    assert post_otlp(c, ingest_a, b"[]", "application/json").status_code == 400
    assert post_otlp(c, ingest_a, b"x", "text/plain").status_code == 415
    assert post_otlp(c, ingest_a, b"x", HTTP_CONTENT_ENCODING="br").status_code == 415
    assert post_otlp(c, ingest_a, b"not gzip", HTTP_CONTENT_ENCODING="gzip").status_code == 400
    settings.INGEST_MAX_BODY_BYTES = 1000
    r = post_otlp(c, ingest_a, b"\x00" * 1001, "application/json")
    assert r.status_code == 413 and "1000 bytes" in r.json()["message"]
    r = post_rw(c, ingest_a, b"\x00" * 1001)
    assert r.status_code == 413 and r.json()["error"]["details"]["limit_bytes"] == 1000
    bomb = gzip.compress(b"\x00" * 100_000)
    assert len(bomb) < 1000
    assert post_otlp(c, ingest_a, bomb, HTTP_CONTENT_ENCODING="gzip").status_code == 413
    snappy_bomb = bytes(cramjam.snappy.compress_raw(b"\x00" * 100_000))
    assert post_rw(c, ingest_a, snappy_bomb).status_code == 413


def test_invalid_values_and_types_refused_per_point(prom: Any, ingest_a: str) -> None:
    ns = now_ms() * 1_000_000

    def more(sm: Any) -> None:
        sm.metrics.add(name="typeless")  # no data: unknown type
        h = sm.metrics.add(name="bad_hist").histogram
        h.aggregation_temporality = 2
        h.data_points.add(time_unix_nano=ns, count=1, explicit_bounds=[1.0, math.nan], bucket_counts=[1, 0, 0])
        h.data_points.add(time_unix_nano=ns, count=5, explicit_bounds=[1.0], bucket_counts=[1, 1])
        s = sm.metrics.add(name="rpc.latency", unit="s").summary
        p = s.data_points.add(time_unix_nano=ns, count=4, sum=2.0)
        p.quantile_values.add(quantile=0.5, value=0.4)
        p.quantile_values.add(quantile=0.99, value=0.9)
        c = sm.metrics.add(name="neg").sum
        c.is_monotonic, c.aggregation_temporality = True, 2
        c.data_points.add(time_unix_nano=ns, as_double=-3)

    r = post_otlp(Client(), ingest_a, _otlp([("good_gauge", ns, 1.5), ("nan_gauge", ns, math.nan)], extra=more))
    assert r.status_code == 200
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    partial = ExportMetricsServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_data_points == 4, partial.error_message
    for words in ("unknown or missing metric type", "NaN bucket bound", "bucket counts add up to 2, count is 5",
                  "monotonic counter cannot be -3.0"):
        assert words in partial.error_message
    assert wait_for(prom.url, "good_gauge")
    assert prom_query(prom.url, "nan_gauge")  # NaN is a valid gauge value in Prometheus
    q = {r["metric"]["quantile"]: float(r["value"][1]) for r in wait_for(prom.url, "rpc_latency_seconds", 2)}
    assert q == {"0.5": 0.4, "0.99": 0.9}
    assert float(prom_query(prom.url, "rpc_latency_seconds_count")[0]["value"][1]) == 4


def test_too_old_and_out_of_order_reported_per_series_rest_written(prom: Any, ingest_a: str) -> None:
    t = now_ms()
    c = Client()
    assert post_rw(c, ingest_a, write_request([({"__name__": "seq", "k": "a"}, [(t, 1.0)])])).status_code == 204
    body = write_request([
        ({"__name__": "seq", "k": "a"}, [(t - 60_000, 0.5)]),  # out of order
        ({"__name__": "seq", "k": "old"}, [(t - 3 * 3600_000, 1.0)]),  # older than the head: out of bounds
        *[({"__name__": "fresh", "k": str(i)}, [(t, float(i))]) for i in range(5)],
    ])
    r = post_rw(c, ingest_a, body)
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["details"]["written_samples"] == 5 and err["details"]["rejected_samples"] == 2
    assert "out of order" in err["message"] and "out of bounds" in err["message"]
    assert len(wait_for(prom.url, "fresh", 5)) == 5
    # OTLP: the same refusal comes back as a partial success.
    ns = t * 1_000_000
    r = post_otlp(c, ingest_a, _otlp([("seq2", ns, 1.0)]))
    assert r.status_code == 200
    r = post_otlp(c, ingest_a, _otlp([("seq2", ns - 60_000_000_000, 1.0), ("fresh2", ns, 2.0)]))
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

    partial = ExportMetricsServiceResponse.FromString(r.content).partial_success
    assert partial.rejected_data_points == 1 and "out of order" in partial.error_message
    assert wait_for(prom.url, "fresh2")

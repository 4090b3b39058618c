"""The real OpenTelemetry Python SDK metrics exporter (OTLP/HTTP protobuf) against the live portal."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from tests.metrics_in.conftest import prom_query, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _provider(live_server: Any, token: str, *, delta: bool = False, gzip: bool = False) -> tuple[MeterProvider, Any]:
    temporality = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA} if delta else {}
    exporter = OTLPMetricExporter(endpoint=f"{live_server.url}/otlp/v1/metrics",
                                  headers={"Authorization": f"Bearer {token}"}, timeout=10,
                                  compression=Compression.Gzip if gzip else Compression.NoCompression,
                                  preferred_temporality=temporality)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "shop", "service.namespace": "retail",
                                "service.instance.id": "shop-1", "deployment.environment": "prod"})
    return MeterProvider(resource=resource, metric_readers=[reader], shutdown_on_exit=False), exporter


def test_sdk_counters_gauges_histograms(prom: Any, live_server: Any, ingest_a: str, ingest_b: str) -> None:
    provider, _ = _provider(live_server, ingest_a, gzip=True)
    meter = provider.get_meter("shop.orders", "0.3")
    orders = meter.create_counter("orders.placed", unit="{order}", description="Orders placed")
    latency = meter.create_histogram("checkout.duration", unit="ms")
    inflight = meter.create_up_down_counter("cart.open", unit="{cart}")
    meter.create_observable_gauge("warehouse.temperature", callbacks=[lambda _o: [Observation(4.5, {"site": "b"})]],
                                  unit="Cel")
    orders.add(3, {"org_id": "globex", "channel": "web"})
    orders.add(2, {"channel": "app"})
    for v in (5, 20, 120):
        latency.record(v, {"route": "/pay"})
    inflight.add(4)
    inflight.add(-1)
    assert provider.force_flush(10_000)
    provider.shutdown()

    web = wait_for(prom.url, 'orders_placed_total{channel="web"}')[0]["metric"]
    assert web["org_id"] == "acme" and web["exported_org_id"] == "globex"
    assert web["job"] == "retail/shop" and web["instance"] == "shop-1"
    assert web["otel_scope_name"] == "shop.orders" and web["otel_scope_version"] == "0.3"
    assert float(prom_query(prom.url, 'sum(orders_placed_total{org_id="acme"})')[0]["value"][1]) == 5.0
    buckets = {r["metric"]["le"]: float(r["value"][1]) for r in
               wait_for(prom.url, "checkout_duration_milliseconds_bucket", 5)}
    assert buckets["+Inf"] == 3 and buckets["10"] == 1 and buckets["25"] == 2 and buckets["250"] == 3
    assert float(prom_query(prom.url, "checkout_duration_milliseconds_sum")[0]["value"][1]) == 145
    assert float(prom_query(prom.url, "checkout_duration_milliseconds_count")[0]["value"][1]) == 3
    assert float(prom_query(prom.url, "cart_open")[0]["value"][1]) == 3  # non-monotonic sum → gauge, no _total
    assert float(prom_query(prom.url, "warehouse_temperature_celsius")[0]["value"][1]) == 4.5
    info = prom_query(prom.url, "target_info")[0]["metric"]
    assert info["deployment_environment"] == "prod" and info["job"] == "retail/shop" and info["org_id"] == "acme"
    assert "service_name" not in info
    assert prom_query(prom.url, '{org_id="globex"}') == []


def test_sdk_delta_temporality_is_made_cumulative(prom: Any, live_server: Any, ingest_a: str) -> None:
    provider, exporter = _provider(live_server, ingest_a, delta=True)
    meter = provider.get_meter("shop")
    orders = meter.create_counter("orders.placed")
    latency = meter.create_histogram("pay.time", unit="s")
    orders.add(3)
    latency.record(0.2)
    assert provider.force_flush(10_000)
    orders.add(4)
    latency.record(0.3)
    latency.record(7)
    assert provider.force_flush(10_000)
    provider.shutdown()
    result = wait_for(prom.url, "orders_placed_total")
    assert float(result[0]["value"][1]) == 7.0
    assert float(prom_query(prom.url, "pay_time_seconds_count")[0]["value"][1]) == 3
    assert float(prom_query(prom.url, 'pay_time_seconds_bucket{le="5"}')[0]["value"][1]) == 2
    assert float(prom_query(prom.url, "pay_time_seconds_sum")[0]["value"][1]) == pytest.approx(7.5)


def test_sdk_with_bad_or_api_token_is_refused(prom: Any, live_server: Any, org_a: Any, bob: Any) -> None:
    from tests.conftest import token_client

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider.get_meter("shop").create_counter("refused").add(1)
    data = reader.get_metrics_data()
    api_token = token_client(org_a, bob, "write").token  # type: ignore[attr-defined]
    for token in ("pi_bad_token", api_token):
        exporter = OTLPMetricExporter(endpoint=f"{live_server.url}/otlp/v1/metrics",
                                      headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert exporter.export(data) == MetricExportResult.FAILURE
        exporter.shutdown()
    provider.shutdown()
    assert prom_query(prom.url, "refused_total") == []

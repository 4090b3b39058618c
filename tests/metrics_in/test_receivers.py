"""The two receivers: auth, body handling, org forcing, against a real Prometheus."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from django.test import Client

from portal.core.metrics import INGEST_REJECTIONS
from tests.conftest import token_client
from tests.metrics_in.conftest import now_ms, post_otlp, post_rw, prom_query, wait_for, write_request

pytestmark = pytest.mark.django_db


def test_interface_contract(ingest_a: str, org_a: Any, bob: Any) -> None:
    c = Client()
    assert post_otlp(c, None, b'{"resourceMetrics": []}', "application/json").status_code == 401
    ok = post_otlp(c, ingest_a, b'{"resourceMetrics": []}', "application/json")
    assert ok.status_code == 200, ok.content
    assert ok["Content-Type"].startswith("application/json")
    assert post_rw(c, None, write_request([])).status_code == 401
    bad = post_rw(c, ingest_a, b"not snappy")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "parse_error"
    api_token = token_client(org_a, bob, "read").token  # type: ignore[attr-defined]
    assert post_rw(c, api_token, write_request([])).status_code in (401, 403)
    assert post_otlp(c, api_token, b'{"resourceMetrics": []}', "application/json").status_code in (401, 403)
    assert post_rw(c, "pi_nope_nope", write_request([])).status_code == 401


def test_get_is_not_allowed(ingest_a: str) -> None:
    assert Client().get("/otlp/v1/metrics", HTTP_AUTHORIZATION=f"Bearer {ingest_a}").status_code == 405


def test_remote_write_forces_org_label(prom: Any, ingest_a: str, org_a: Any, org_b: Any) -> None:
    t = now_ms()
    body = write_request([
        ({"__name__": "shop_orders", "org_id": "globex", "region": "eu"}, [(t - 1000, 1.0), (t, 2.0)]),
        ({"__name__": "shop_orders", "region": "us"}, [(t, 5.0)]),
    ])
    resp = post_rw(Client(), ingest_a, body)
    assert resp.status_code == 204, resp.content
    found = wait_for(prom.url, "shop_orders", 2)
    by_region = {r["metric"]["region"]: r["metric"] for r in found}
    assert by_region["eu"]["org_id"] == "acme"
    assert by_region["eu"]["exported_org_id"] == "globex"
    assert by_region["us"]["org_id"] == "acme" and "exported_org_id" not in by_region["us"]
    # B sees nothing, whatever A claimed.
    assert prom_query(prom.url, 'shop_orders{org_id="globex"}') == []


def test_otlp_json_gzip_and_partial_success(prom: Any, ingest_a: str, org_a: Any) -> None:
    ns = now_ms() * 1_000_000
    doc = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}},
                                    {"key": "service.instance.id", "value": {"stringValue": "i-1"}},
                                    {"key": "deployment.environment", "value": {"stringValue": "prod"}}]},
        "scopeMetrics": [{"scope": {"name": "shop.meter", "version": "1.2"}, "metrics": [
            {"name": "queue.depth", "unit": "{item}", "gauge": {"dataPoints": [
                {"timeUnixNano": str(ns), "asInt": "7", "attributes": [
                    {"key": "org_id", "value": {"stringValue": "globex"}}]}]}},
            {"name": "orders.placed", "unit": "1", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                                                          "dataPoints": [{"timeUnixNano": str(ns), "asDouble": "NaN"},
                                                                         {"timeUnixNano": str(ns), "asDouble": 3,
                                                                          "attributes": [{"key": "kind", "value": {
                                                                              "stringValue": "web"}}]}]}},
            {"name": "weird", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
                {"timeUnixNano": str(ns), "count": "1"}]}},
        ]}],
    }]}
    body = gzip.compress(json.dumps(doc).encode())
    resp = post_otlp(Client(), ingest_a, body, "application/json", HTTP_CONTENT_ENCODING="gzip")
    assert resp.status_code == 200, resp.content
    partial = resp.json()["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 2
    assert "monotonic counter cannot be nan" in partial["errorMessage"]
    assert "exponential histograms are not supported" in partial["errorMessage"]
    gauge = wait_for(prom.url, "queue_depth")[0]["metric"]
    assert gauge["org_id"] == "acme" and gauge["exported_org_id"] == "globex"
    assert gauge["job"] == "shop" and gauge["instance"] == "i-1"
    assert gauge["otel_scope_name"] == "shop.meter" and gauge["otel_scope_version"] == "1.2"
    counter = wait_for(prom.url, "orders_placed_total")
    assert [float(r["value"][1]) for r in counter] == [3.0]
    info = wait_for(prom.url, "target_info")[0]["metric"]
    assert info["deployment_environment"] == "prod" and info["job"] == "shop" and info["org_id"] == "acme"
    assert INGEST_REJECTIONS.labels(org=str(org_a.pk), signal="metrics", reason="unsupported_type")._value.get() >= 1

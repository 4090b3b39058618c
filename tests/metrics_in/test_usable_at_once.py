"""End to end: the SDK sends `orders_placed_total` for org A; it is at once in A's Explore autocompletion,
on A's dashboard panel and in an alert rule preview; B's queries answer nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from metrics_app import federation
from tests.metrics_in.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _values(data: Any) -> list[float]:
    """Every numeric value anywhere in a panel-data answer."""
    out: list[float] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k in ("values", "value", "points") and isinstance(v, list):
                for item in v:
                    if isinstance(item, list | tuple) and len(item) == 2:
                        out.append(float(item[1]))
                    elif isinstance(item, int | float | str):
                        try:
                            out.append(float(item))
                        except ValueError:
                            pass
            else:
                out.extend(_values(v))
    elif isinstance(data, list):
        for v in data:
            out.extend(_values(v))
    return out


def test_custom_metric_usable_at_once(prom: Any, live_server: Any, ingest_a: str, org_a: Any, org_b: Any,
                                      api_alice: Any, api_charlie: Any) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{live_server.url}/otlp/v1/metrics",
                                  headers={"Authorization": f"Bearer {ingest_a}"}, timeout=10)
    provider = MeterProvider(resource=Resource.create({"service.name": "shop"}), shutdown_on_exit=False,
                             metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)])
    orders = provider.get_meter("shop").create_counter("orders_placed", description="Orders placed")
    orders.add(12, {"org_id": "globex"})  # a claim on B's label: must stay in A
    assert provider.force_flush(10_000)
    provider.shutdown()
    assert wait_for(prom.url, "orders_placed_total")

    # Federation (the one read path every feature uses) evaluates "now" aligned down to a few seconds for
    # caching, so a sample written this instant shows up within that step.
    deadline = time.monotonic() + 30
    while not (a := federation.query(org_a, "orders_placed_total", use_cache=False))["result"]:
        assert time.monotonic() < deadline, "the custom metric never became queryable for its org"
        time.sleep(0.5)
    assert [float(r["value"][1]) for r in a["result"]] == [12.0]
    assert federation.query(org_b, "orders_placed_total", use_cache=False)["result"] == []

    # Explore autocompletion.
    names = api_alice.get("/api/v1/explore/labels/__name__/values/", {"prefix": "orders"}).json()["results"]
    assert "orders_placed_total" in names
    assert "orders_placed_total" not in api_charlie.get("/api/v1/explore/labels/__name__/values/",
                                                        {"prefix": "orders"}).json()["results"]

    # A dashboard panel.
    doc = {"title": "Shop KPIs", "panels": [{"id": 1, "type": "stat", "title": "Orders",
                                             "targets": [{"expr": "sum(orders_placed_total)"}]}]}
    r = api_alice.post("/api/v1/dashboards/", doc, format="json")
    assert r.status_code == 201, r.content
    uid = r.json()["uid"]
    deadline = time.monotonic() + 40  # the panel's range query steps on an aligned grid: the next point
    while 12.0 not in _values(data := api_alice.get(f"/api/v1/dashboards/{uid}/data/").json()):
        assert time.monotonic() < deadline, data
        time.sleep(1)
    b_dash = api_charlie.post("/api/v1/dashboards/", doc, format="json").json()["uid"]
    b_data = api_charlie.get(f"/api/v1/dashboards/{b_dash}/data/")
    # B's panel ran its query without error: the value is missing because it is A's, not by accident.
    assert b_data.status_code == 200 and '"error"' not in b_data.content.decode(), b_data.content
    assert 12.0 not in _values(b_data.json())
    assert api_charlie.get(f"/api/v1/dashboards/{uid}/data/").status_code == 404

    # An alert rule on it (preview evaluates the rule's query against the backend as the org).
    rule = {"name": "Orders seen", "kind": "threshold", "query": "sum(orders_placed_total)", "comparator": ">",
            "threshold": 1}
    deadline = time.monotonic() + 40
    while True:
        preview = api_alice.post("/api/v1/alerts/rules/preview/", rule, format="json")
        assert preview.status_code == 200, preview.content
        if 12.0 in _values(preview.json()):
            break
        assert time.monotonic() < deadline, preview.json()
        time.sleep(1)
    b_preview = api_charlie.post("/api/v1/alerts/rules/preview/", rule, format="json")
    assert b_preview.status_code == 200 and '"error"' not in b_preview.content.decode(), b_preview.content
    assert 12.0 not in _values(b_preview.json())
    assert api_alice.post("/api/v1/alerts/rules/", rule, format="json").status_code == 201

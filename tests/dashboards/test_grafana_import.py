"""Grafana import: every fixture dashboard converts and imports; schema-specific details survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from dashboards_app import grafana, spec
from dashboards_app.models import Dashboard

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "grafana-dashboards"
FILES = sorted(FIXTURES.glob("*.json"))
assert len(FILES) == 6, f"Grafana fixtures not found under {FIXTURES}"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def _grafana_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "rows" in doc:
        return [p for r in doc["rows"] for p in r.get("panels", [])]
    out = []
    for p in doc.get("panels", []):
        if p.get("type") == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    return out


def test_fixtures_exist() -> None:
    assert len(FILES) >= 6


@pytest.mark.django_db
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_imports_through_the_api(api_alice: APIClient, org_a: Any, path: Path) -> None:
    source = json.loads(path.read_text())
    r = api_alice.post("/api/v1/dashboards/import/", source, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    report = body["import_report"]
    assert body["title"] == source["title"]
    # Every Grafana panel (rows excluded) is in the portal dashboard, drawn or as a placeholder.
    assert len(body["panels"]) == len(_grafana_panels(source)) == report["panels"]
    assert spec.normalize(body) == {k: v for k, v in body.items() if k not in ("uid", "version", "import_report")}
    for panel in body["panels"]:
        assert panel["type"] in spec.PANEL_TYPES
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
    dash = Dashboard.objects.for_org(org_a).get()
    assert dash.source.startswith("grafana:") and dash.version == 1


def test_legacy_rows_schema_layout_and_singlestat() -> None:
    doc, report = grafana.convert(load("etcd-schema13-legacy-rows.json"))
    assert report["schemaVersion"] == 13
    types = [p["type"] for p in doc["panels"]]
    assert types.count("stat") == 1 and types.count("timeseries") == 11
    # Rows stack: the second row's panels start below the first row's.
    ys = sorted({p["gridPos"]["y"] for p in doc["panels"]})
    assert len(ys) >= 4 and ys[0] == 0
    assert all(p["targets"] for p in doc["panels"] if p["type"] == "timeseries")


def test_old_graph_schema_units_thresholds_and_rate_interval() -> None:
    doc, report = grafana.convert(load("node-exporter-full-schema26.json"))
    assert {v["name"]: v["type"] for v in doc["variables"]} == {"job": "query", "node": "query",
                                                                  "diskdevices": "custom"}
    assert any("DS_PROMETHEUS" in n for n in report["notes"])
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    assert any("$__rate_interval" in e for e in exprs)
    units = {p["unit"] for p in doc["panels"]}
    assert {"bytes", "percent"} <= units
    gauges = [p for p in doc["panels"] if p["type"] == "gauge"]
    assert gauges and all(len(g["thresholds"]) >= 2 for g in gauges)
    assert any(p["options"].get("row") for p in doc["panels"])  # collapsed rows' panels are kept


def test_new_schema_timeseries_table_heatmap_and_templating() -> None:
    doc, _ = grafana.convert(load("ingress-nginx-schema39.json"))
    assert {p["type"] for p in doc["panels"]} >= {"timeseries", "stat", "table", "heatmap"}
    assert doc["refresh"] == "5s" and doc["time"] == {"from": "now-1h", "to": "now"}
    ns = next(v for v in doc["variables"] if v["name"] == "namespace")
    assert ns["type"] == "query" and spec.parse_label_values(ns["query"])


def test_interval_variable_and_interval_macro() -> None:
    doc, _ = grafana.convert(load("argocd-schema39.json"))
    interval = next(v for v in doc["variables"] if v["name"] == "interval")
    assert interval["type"] == "interval" and interval["options"][:2] == ["1m", "5m"]
    custom = next(v for v in doc["variables"] if v["name"] == "health_status")
    assert custom["options"][:2] == ["Healthy", "Progressing"]
    assert {"text", "heatmap", "gauge", "stat", "timeseries"} <= {p["type"] for p in doc["panels"]}


def test_bargauge_and_dict_queries() -> None:
    doc, _ = grafana.convert(load("k8s-views-global-schema39.json"))
    assert "bar" in {p["type"] for p in doc["panels"]}
    cluster = next(v for v in doc["variables"] if v["name"] == "cluster")
    assert cluster["query"].startswith("label_values(")


def test_unsupported_panels_become_placeholders_that_say_so() -> None:
    source = {
        "schemaVersion": 39, "title": "Mixed",
        "panels": [
            {"type": "piechart", "title": "Share", "gridPos": {"x": 0, "y": 0, "w": 8, "h": 6},
             "targets": [{"expr": "sum by (model) (router_requests_total)", "refId": "A"}]},
            {"type": "timeseries", "title": "Rate", "gridPos": {"x": 8, "y": 0, "w": 16, "h": 6},
             "targets": [{"expr": "rate(x[$__interval])", "legendFormat": "{{pod}}"},
                         {"expr": "up", "hide": True}]},
            {"type": "row", "title": "Collapsed", "collapsed": True, "gridPos": {"x": 0, "y": 6, "w": 24, "h": 1},
             "panels": [{"type": "grafana-worldmap-panel", "title": "Map",
                         "gridPos": {"x": 0, "y": 7, "w": 24, "h": 8}}]},
        ],
        "templating": {"list": [{"name": "x", "type": "query", "query": "query_result(up)"}]},
    }
    doc, report = grafana.convert(source)
    pie, rate, world = doc["panels"]
    assert pie["type"] == "placeholder" and "piechart" in pie["options"]["reason"]
    assert "not supported" in pie["options"]["reason"]
    assert world["type"] == "placeholder" and world["options"]["row"] == "Collapsed"
    assert rate["targets"] == [{"expr": "rate(x[$__interval])", "legend": "{{pod}}", "refId": "A"}]
    assert [p["type"] for p in report["placeholders"]] == ["piechart", "grafana-worldmap-panel"]
    assert doc["variables"][0]["type"] == "custom"


def test_api_wrapper_and_legacy_variable_syntax() -> None:
    source = {"dashboard": {"title": "Wrapped", "schemaVersion": 16, "rows": [{"panels": [
        {"type": "graph", "span": 6, "targets": [{"expr": "rate(x{job=\"[[job]]\"}[$interval])"}],
         "yaxes": [{"format": "bytes"}], "thresholds": [{"value": 5, "colorMode": "critical", "op": "gt"}]}]}]},
        "meta": {}}
    assert grafana.is_grafana(source)
    doc, _ = grafana.convert(source)
    (panel,) = doc["panels"]
    assert panel["targets"][0]["expr"] == 'rate(x{job="$job"}[$__interval])'
    assert panel["gridPos"]["w"] == 12 and panel["unit"] == "bytes"
    assert panel["thresholds"] == [{"value": 5, "color": "red"}]


@pytest.mark.django_db
def test_garbage_import_is_400(api_alice: APIClient, org_a: Any) -> None:
    r = api_alice.post("/api/v1/dashboards/import/", [1, 2], format="json")
    assert r.status_code == 400
    r = api_alice.post("/api/v1/dashboards/import/", {"title": "x", "panels": "nope"}, format="json")
    assert r.status_code == 400
    assert Dashboard.objects.for_org(org_a).count() == 0

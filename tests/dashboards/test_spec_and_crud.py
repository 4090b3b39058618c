"""Dashboards CRUD through the API: the document, versions, diff, restore, import/export, roles, tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from dashboards_app.models import Dashboard, DashboardVersion
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

KPI_DOC: dict[str, Any] = {
    "title": "Business KPIs",
    "description": "Signups and revenue",
    "tags": ["kpi", "business"],
    "time": {"from": "now-6h", "to": "now"},
    "refresh": "30s",
    "variables": [
        {"name": "service", "type": "query", "query": "label_values(http_requests_total, service)",
         "includeAll": True},
        {"name": "env", "type": "custom", "options": ["prod", "staging"]},
        {"name": "window", "type": "interval", "options": ["1m", "5m"]},
    ],
    "panels": [
        {"id": 1, "type": "stat", "title": "Active users", "targets": [{"expr": "sum(active_users)"}],
         "unit": "short", "thresholds": [{"value": None, "color": "red"}, {"value": 100, "color": "green"}],
         "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}},
        {"id": 2, "type": "timeseries", "title": "Requests",
         "targets": [{"expr": "sum by (service) (rate(http_requests_total[$__rate_interval]))",
                      "legend": "{{service}}"}],
         "unit": "reqps", "legend": {"show": False}, "gridPos": {"x": 6, "y": 0, "w": 18, "h": 8}},
        {"id": 3, "type": "gauge", "title": "Mem", "targets": [{"expr": "sum(process_resident_memory_bytes)"}],
         "unit": "bytes", "min": 0, "max": 4e9},
        {"id": 4, "type": "bar", "title": "By model", "targets": [{"expr": "sum by (model) (router_requests_total)"}]},
        {"id": 5, "type": "table", "title": "Top", "targets": [{"expr": "topk(5, http_requests_total)"}]},
        {"id": 6, "type": "heatmap", "title": "Latency", "unit": "seconds",
         "targets": [{"expr": "sum by (le) (rate(http_request_duration_seconds_bucket[5m]))"}]},
    ],
}


def create(client: APIClient, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/api/v1/dashboards/", doc or KPI_DOC, format="json")
    assert r.status_code == 201, r.content
    return r.json()  # type: ignore[no-any-return]


def test_create_read_list_keeps_every_field(api_alice: APIClient) -> None:
    made = create(api_alice)
    assert made["version"] == 1 and made["uid"]
    got = api_alice.get(f"/api/v1/dashboards/{made['uid']}/").json()
    assert got["title"] == "Business KPIs" and got["tags"] == ["business", "kpi"]
    assert got["time"] == {"from": "now-6h", "to": "now"} and got["refresh"] == "30s"
    assert [v["type"] for v in got["variables"]] == ["query", "custom", "interval"]
    assert [p["type"] for p in got["panels"]] == ["stat", "timeseries", "gauge", "bar", "table", "heatmap"]
    stat = got["panels"][0]
    assert stat["thresholds"] == [{"value": None, "color": "red"}, {"value": 100, "color": "green"}]
    assert stat["gridPos"] == {"x": 0, "y": 0, "w": 6, "h": 4} and stat["unit"] == "short"
    assert got["panels"][1]["legend"] == {"show": False}
    listing = api_alice.get("/api/v1/dashboards/").json()
    assert [d["title"] for d in listing["results"]] == ["Business KPIs"]


@pytest.mark.parametrize(("patch", "field"), [
    ({"title": ""}, "title"),
    ({"panels": [{"type": "piechart"}]}, "panels[0].type"),
    ({"panels": [{"unit": "furlongs"}]}, "panels[0].unit"),
    ({"panels": [{"gridPos": {"x": 20, "y": 0, "w": 10, "h": 4}}]}, "panels[0].gridPos"),
    ({"panels": [{"thresholds": [{"value": "high"}]}]}, "panels[0].thresholds[0].value"),
    ({"variables": [{"name": "x", "type": "query", "query": "up"}]}, "variables[0].query"),
    ({"refresh": "1s"}, "refresh"),
    ({"time": {"from": "yesterday"}}, "time.from"),
])
def test_bad_documents_are_400_and_store_nothing(api_alice: APIClient, org_a: Any, patch: dict[str, Any],
                                                  field: str) -> None:
    r = api_alice.post("/api/v1/dashboards/", {**KPI_DOC, **patch}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["details"]["field"] == field
    assert Dashboard.objects.for_org(org_a).count() == 0


def test_every_save_is_a_version_with_diff_and_restore(api_alice: APIClient, org_a: Any) -> None:
    made = create(api_alice)
    uid = made["uid"]
    doc = {**KPI_DOC, "title": "KPIs v2", "panels": KPI_DOC["panels"][:2], "version": 1}
    r = api_alice.put(f"/api/v1/dashboards/{uid}/", doc, format="json")
    assert r.status_code == 200 and r.json()["version"] == 2
    # Saving the same document again is not a new version.
    assert api_alice.put(f"/api/v1/dashboards/{uid}/", {**doc, "version": 2}, format="json").json()["version"] == 2
    # A stale version is a conflict, not a silent overwrite.
    stale = api_alice.put(f"/api/v1/dashboards/{uid}/", {**doc, "title": "x", "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["details"]["current_version"] == 2
    versions = api_alice.get(f"/api/v1/dashboards/{uid}/versions/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["author"] == "alice@acme.example"
    diff = api_alice.get(f"/api/v1/dashboards/{uid}/diff/", {"from": 1, "to": 2}).json()
    assert "title" in diff["changed"] and diff["panels"]["removed"] == [3, 4, 5, 6]
    assert '-  "title": "Business KPIs"' in diff["unified"] and '+  "title": "KPIs v2"' in diff["unified"]
    v1 = api_alice.get(f"/api/v1/dashboards/{uid}/versions/1/").json()
    assert v1["dashboard"]["title"] == "Business KPIs"
    restored = api_alice.post(f"/api/v1/dashboards/{uid}/restore/", {"version": 1}, format="json").json()
    assert restored["version"] == 3 and restored["title"] == "Business KPIs" and len(restored["panels"]) == 6
    assert DashboardVersion.objects.for_org(org_a).count() == 3
    assert api_alice.post(f"/api/v1/dashboards/{uid}/restore/", {"version": 99}, format="json").status_code == 404


def test_export_then_import_roundtrip(api_alice: APIClient) -> None:
    made = create(api_alice)
    exported = api_alice.get(f"/api/v1/dashboards/{made['uid']}/export/")
    assert exported.status_code == 200 and "attachment" in exported["Content-Disposition"]
    body = exported.json()
    assert body["format"] == "portal-dashboard/v1"
    imported = api_alice.post("/api/v1/dashboards/import/", body, format="json")
    assert imported.status_code == 201
    got = imported.json()
    assert got["uid"] != made["uid"]
    keys = ("title", "panels", "variables")
    assert {k: got[k] for k in keys} == {k: made[k] for k in keys}


def test_delete(api_alice: APIClient, org_a: Any) -> None:
    made = create(api_alice)
    assert api_alice.delete(f"/api/v1/dashboards/{made['uid']}/").status_code == 204
    assert api_alice.get(f"/api/v1/dashboards/{made['uid']}/").status_code == 404
    assert DashboardVersion.objects.for_org(org_a).count() == 0


def test_viewers_read_only(api_alice: APIClient, api_bob: APIClient, api_carol: APIClient, org_a: Any,
                           bob: Any) -> None:
    made = create(api_alice)
    uid = made["uid"]
    assert api_bob.get(f"/api/v1/dashboards/{uid}/").json()["title"] == made["title"]
    exported = api_bob.get(f"/api/v1/dashboards/{uid}/export/")
    assert exported.status_code == 200 and exported.json()["dashboard"]["title"] == made["title"]
    for method, url, body in [
        ("post", "/api/v1/dashboards/", KPI_DOC),
        ("put", f"/api/v1/dashboards/{uid}/", KPI_DOC),
        ("delete", f"/api/v1/dashboards/{uid}/", None),
        ("post", f"/api/v1/dashboards/{uid}/restore/", {"version": 1}),
        ("post", "/api/v1/dashboards/import/", KPI_DOC),
        ("post", f"/api/v1/dashboards/{uid}/clone/", {}),
        ("post", "/api/v1/builtin-dashboards/platform-overview/clone/", {}),
    ]:
        r = getattr(api_bob, method)(url, body, format="json")
        assert r.status_code == 403, (method, url, r.content)
    readonly = token_client(org_a, bob, "read")
    assert readonly.get(f"/api/v1/dashboards/{uid}/").json()["uid"] == uid
    # An editor may write.
    by_carol = api_carol.put(f"/api/v1/dashboards/{uid}/", {**KPI_DOC, "title": "by carol"}, format="json")
    assert by_carol.status_code == 200
    assert Dashboard.objects.for_org(org_a).count() == 1


CROSS_ORG_URLS = [
    ("get", "/api/v1/dashboards/{uid}/"),
    ("put", "/api/v1/dashboards/{uid}/"),
    ("delete", "/api/v1/dashboards/{uid}/"),
    ("get", "/api/v1/dashboards/{uid}/versions/"),
    ("get", "/api/v1/dashboards/{uid}/versions/1/"),
    ("get", "/api/v1/dashboards/{uid}/diff/?from=1&to=1"),
    ("post", "/api/v1/dashboards/{uid}/restore/"),
    ("get", "/api/v1/dashboards/{uid}/export/"),
    ("post", "/api/v1/dashboards/{uid}/clone/"),
    ("get", "/api/v1/dashboards/{uid}/data/"),
]


@pytest.mark.parametrize(("method", "url"), CROSS_ORG_URLS)
def test_another_orgs_dashboard_is_404(api_alice: APIClient, api_charlie: APIClient, org_a: Any, method: str,
                                       url: str) -> None:
    made = create(api_alice)
    body = {**KPI_DOC, "version": 1} if method == "put" else {"version": 1}
    target = url.format(uid=made["uid"])
    r = api_charlie.get(target) if method == "get" else getattr(api_charlie, method)(target, body, format="json")
    assert r.status_code == 404, r.content
    assert r.json()["error"]["status"] == 404
    assert Dashboard.objects.for_org(org_a).get().title == "Business KPIs"
    assert api_charlie.get("/api/v1/dashboards/").json()["results"] == []


def test_browser_session_needs_org_header(web_alice: Any, api_alice: APIClient) -> None:
    made = create(api_alice)
    assert web_alice.get(f"/api/v1/dashboards/{made['uid']}/", HTTP_X_PORTAL_ORG="acme").status_code == 200
    assert web_alice.get(f"/api/v1/dashboards/{made['uid']}/", HTTP_X_PORTAL_ORG="globex").status_code == 404


def test_builtins_listed_readonly_and_cloneable(api_alice: APIClient, api_charlie: APIClient, org_a: Any) -> None:
    listing = api_alice.get("/api/v1/builtin-dashboards/").json()["results"]
    assert [b["slug"] for b in listing] == ["platform-overview", "api-router", "user-org-service",
                                            "analytics-service", "performance", "ai-usage", "capacity-planning"]
    detail = api_alice.get("/api/v1/builtin-dashboards/performance/").json()
    assert detail["builtin"] is True and detail["title"] == "Performance"
    assert api_alice.put("/api/v1/builtin-dashboards/performance/", {}, format="json").status_code == 405
    assert api_alice.get("/api/v1/builtin-dashboards/nope/").status_code == 404
    clone = api_alice.post("/api/v1/builtin-dashboards/performance/clone/", {"title": "My perf"}, format="json")
    assert clone.status_code == 201
    body = clone.json()
    assert body["title"] == "My perf" and "builtin" not in body["tags"]
    assert [p["title"] for p in body["panels"]] == [p["title"] for p in detail["panels"]]
    assert Dashboard.objects.for_org(org_a).get().source == "builtin:performance"
    assert api_charlie.get(f"/api/v1/dashboards/{body['uid']}/").status_code == 404


def test_list_filters_by_tag_and_title(api_alice: APIClient) -> None:
    create(api_alice)
    create(api_alice, {**KPI_DOC, "title": "Latency", "tags": ["perf"]})
    by_tag = api_alice.get("/api/v1/dashboards/", {"tag": "perf"}).json()["results"]
    assert [d["title"] for d in by_tag] == ["Latency"]
    by_title = api_alice.get("/api/v1/dashboards/", {"q": "kpi"}).json()["results"]
    assert [d["title"] for d in by_title] == ["Business KPIs"]

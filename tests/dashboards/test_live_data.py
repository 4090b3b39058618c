"""Panel data and Explore against a real Prometheus scraping the demo deployment (one shared deployment;
per-request series carry org_id = acme/globex/initech, instance series none) and evaluating the shipped
platform recording rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from dashboards_app import builtin
from dashboards_app.models import QueryHistory
from tests import procs
from tests.conftest import token_client

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

RI = "$__rate_interval"
HTTP = "http_server_request_duration_seconds"
# An org's own dashboard on the demo deployment's series (query variable, custom and interval variables).
TEAM_DOC: dict[str, Any] = {
    "title": "Team KPIs",
    "time": {"from": "now-6h", "to": "now"},
    "variables": [
        {"name": "service", "type": "query", "query": f"label_values({HTTP}_count, service_name)", "includeAll": True},
        {"name": "env", "type": "custom", "options": ["prod", "staging"]},
        {"name": "window", "type": "interval", "options": ["1m", "5m"]},
    ],
    "panels": [
        {"id": 1, "type": "stat", "title": "Active users", "targets": [{"expr": "sum(active_users)"}]},
        {"id": 2, "type": "timeseries", "title": "Requests",
         "targets": [{"expr": f'sum by (service_name) (rate({HTTP}_count{{service_name=~"$service"}}[{RI}]))'}]},
        {"id": 3, "type": "gauge", "title": "Tokens per request",
         "targets": [{"expr": "sum(rate(gen_ai_client_token_usage_sum[5m])) / "
                              "sum(rate(gen_ai_client_token_usage_count[5m]))"}]},
        {"id": 4, "type": "bar", "title": "By model", "targets": [{"expr": "sum by (model) (router_requests_total)"}]},
        {"id": 5, "type": "table", "title": "Top", "targets": [{"expr": f"topk(5, {HTTP}_count)"}]},
        {"id": 6, "type": "heatmap", "title": "Latency", "unit": "seconds",
         "targets": [{"expr": f"sum by (le) (rate({HTTP}_bucket[5m]))"}]},
    ],
}


def _series(target: dict[str, Any]) -> list[dict[str, Any]]:
    assert "error" not in target, target
    return target["result"]  # type: ignore[no-any-return]


def _points(target: dict[str, Any]) -> int:
    return sum(len(s.get("values", [])) or (1 if s.get("value") else 0) for s in _series(target))


@pytest.fixture
def api_bob(org_a: Any, bob: Any) -> APIClient:
    """An org viewer with a read-only token."""
    return token_client(org_a, bob, "read")


@pytest.mark.parametrize("slug", [slug for slug, _ in builtin.all_builtins()])
def test_every_builtin_panel_has_data_for_an_org_viewer_and_only_that_org(live_prom: procs.Proc, api_bob: APIClient,
                                                                          slug: str) -> None:
    r = api_bob.get(f"/api/v1/builtin-dashboards/{slug}/data/", {"from": "now-5m", "to": "now"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["scope"] == "org"
    doc = builtin.get(slug)
    assert doc is not None
    for panel in doc["panels"]:
        if panel["type"] in ("text", "placeholder"):
            continue
        targets = body["panels"][str(panel["id"])]["targets"]
        assert targets, panel["title"]
        for t in targets:
            assert _points(t) > 0, (slug, panel["title"], t["expr"])
            for s in _series(t):
                assert s["metric"].get("org_id", "acme") == "acme", (slug, panel["title"], s["metric"])


def test_an_org_sees_the_platform_only_through_platform_series(live_prom: procs.Proc, api_bob: APIClient) -> None:
    """Instance series carry no org label, so an org's query of them is empty; the platform:* rules answer."""
    up = api_bob.get("/api/v1/explore/query/", {"query": "up", "instant": "1"}).json()
    assert up["result"] == []
    mem = api_bob.get("/api/v1/explore/query/", {"query": "sum(process_resident_memory_bytes)", "instant": "1"})
    assert mem.json()["result"] == []
    plat = api_bob.get("/api/v1/explore/query/", {"query": "platform:service_up:ratio", "instant": "1"}).json()
    assert sorted(s["metric"]["service_name"] for s in plat["result"]) == [
        "analytics-service", "api-router", "model-serving", "user-org-service"]


def test_where_is_the_problem_panel(live_prom: procs.Proc, api_bob: APIClient) -> None:
    doc = builtin.get("platform-overview")
    assert doc is not None
    panel = next(p for p in doc["panels"] if p["title"] == "Where is the problem?")
    assert panel["options"]["mapping"] == {"0": "healthy", "1": "your traffic", "2": "platform"}
    body = api_bob.get("/api/v1/builtin-dashboards/platform-overview/data/", {"panel": panel["id"]}).json()
    (series,) = body["panels"][str(panel["id"])]["targets"][0]["result"]
    assert series["metric"] == {"org_id": "acme"}
    assert {v for _, v in series["values"]} <= {"0", "1", "2"}


def test_org_filtering_is_real(live_prom: procs.Proc, api_alice: APIClient, api_charlie: APIClient) -> None:
    """The same built-in panel gives each org its own numbers (acme has more traffic than globex)."""
    def total(client: APIClient) -> float:
        body = client.get("/api/v1/builtin-dashboards/user-org-service/data/", {"panel": 3}).json()
        series = body["panels"]["3"]["targets"][0]["result"]
        return float(series[0]["values"][-1][1])

    acme, globex = total(api_alice), total(api_charlie)
    assert acme > globex > 0
    raw = httpx.get(live_prom.url + "/api/v1/query", params={"query": "sum(active_users)"}).json()
    assert float(raw["data"]["result"][0]["value"][1]) > acme  # the platform total is more than one org's


def test_staff_see_the_whole_platform_broken_down_per_org(live_prom: procs.Proc, operator: Any, org_a: Any,
                                                          alice: Any) -> None:
    staff = token_client(org_a, operator)
    body = staff.get("/api/v1/builtin-dashboards/user-org-service/data/", {"panel": 3}).json()
    assert body["scope"] == "platform"
    platform_total = float(body["panels"]["3"]["targets"][0]["result"][0]["values"][-1][1])
    org_only = staff.get("/api/v1/builtin-dashboards/user-org-service/data/", {"panel": "3", "scope": "org"}).json()
    assert org_only["scope"] == "org"
    assert platform_total > float(org_only["panels"]["3"]["targets"][0]["result"][0]["values"][-1][1])
    # Platform Overview: every "your traffic" panel and the problem-side stat answer per org for staff.
    doc = builtin.get("platform-overview")
    assert doc is not None
    per_org = [p for p in doc["panels"] if p["options"].get("row") == "Your traffic"
               or p["title"] == "Where is the problem?"]
    assert len(per_org) == 4
    overview = staff.get("/api/v1/builtin-dashboards/platform-overview/data/", {"from": "now-5m"}).json()
    assert overview["scope"] == "platform"
    for panel in per_org:
        result = overview["panels"][str(panel["id"])]["targets"][0]["result"]
        assert {s["metric"]["org_id"] for s in result} == {"acme", "globex", "initech"}, panel["title"]
    # A non-staff user asking for the platform still gets their org.
    assert token_client(org_a, alice).get("/api/v1/builtin-dashboards/user-org-service/data/",
                                          {"panel": "3", "scope": "platform"}).json()["scope"] == "org"


def test_query_variables_and_selection(live_prom: procs.Proc, api_alice: APIClient) -> None:
    body = api_alice.get("/api/v1/builtin-dashboards/api-router/data/", {"panel": 2}).json()
    assert body["options"]["model"] == ["claude-3-5-sonnet", "gpt-4o", "llama-3-70b", "mistral-large"]
    assert body["variables"]["model"] == ".*"
    assert len(body["panels"]["2"]["targets"][0]["result"]) == 4
    one = api_alice.get("/api/v1/builtin-dashboards/api-router/data/?panel=2&var-model=gpt-4o").json()
    assert [s["metric"]["model"] for s in one["panels"]["2"]["targets"][0]["result"]] == ["gpt-4o"]
    two = api_alice.get("/api/v1/builtin-dashboards/api-router/data/?panel=2&var-model=gpt-4o&var-model=llama-3-70b")
    assert sorted(s["metric"]["model"] for s in two.json()["panels"]["2"]["targets"][0]["result"]) == [
        "gpt-4o", "llama-3-70b"]
    bad = api_alice.get('/api/v1/builtin-dashboards/api-router/data/?panel=2&var-model=x"}or{')
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_variable"


def test_custom_dashboard_data_and_preview(live_prom: procs.Proc, api_alice: APIClient) -> None:
    made = api_alice.post("/api/v1/dashboards/", TEAM_DOC, format="json")
    assert made.status_code == 201, made.content
    body = api_alice.get(f"/api/v1/dashboards/{made.json()['uid']}/data/", {"from": "now-5m"}).json()
    assert body["options"]["service"] == ["analytics-service", "api-router", "model-serving", "user-org-service"]
    assert body["options"]["env"] == ["prod", "staging"]
    for pid in ("1", "2", "3", "4", "5", "6"):
        assert _points(body["panels"][pid]["targets"][0]) > 0, pid
    preview = api_alice.post("/api/v1/dashboards/preview/", {
        "panel": {"type": "stat", "targets": [{"expr": "sum(active_users)"}]}, "from": "now-5m"}, format="json")
    assert preview.status_code == 200 and _points(preview.json()["panels"]["1"]["targets"][0]) > 0
    bad = api_alice.post("/api/v1/dashboards/preview/", {"panel": {"type": "nope"}}, format="json")
    assert bad.status_code == 400


def test_panel_naming_another_org_is_an_error_not_data(live_prom: procs.Proc, api_alice: APIClient) -> None:
    r = api_alice.post("/api/v1/dashboards/preview/", {
        "panel": {"type": "timeseries", "targets": [{"expr": 'sum(active_users{org_id="globex"})'},
                                                     {"expr": "sum(active_users)"}]}}, format="json")
    assert r.status_code == 200
    foreign, own = r.json()["panels"]["1"]["targets"]
    assert foreign["error"]["status"] == 400 and "result" not in foreign
    assert _points(own) > 0


def test_explore_query_history_and_autocomplete(live_prom: procs.Proc, api_alice: APIClient, org_a: Any,
                                                alice: Any, carol: Any) -> None:
    by_service = f"sum by (service_name) (rate({HTTP}_count[1m]))"
    r = api_alice.get("/api/v1/explore/query/", {"query": by_service, "from": "now-5m"})
    assert r.status_code == 200, r.content
    assert r.json()["resultType"] == "matrix" and len(r.json()["result"]) == 4
    inst = api_alice.get("/api/v1/explore/query/", {"query": "active_users", "instant": "1"}).json()
    assert inst["resultType"] == "vector" and inst["result"][0]["metric"]["org_id"] == "acme"
    names = api_alice.get("/api/v1/explore/labels/__name__/values/").json()["results"]
    assert {f"{HTTP}_count", "router_requests_total", "gen_ai_client_token_usage_sum"} <= set(names)
    assert not {"up", "queue_depth", "process_resident_memory_bytes"} & set(names)  # the platform's, not the org's
    pref = api_alice.get("/api/v1/explore/labels/__name__/values/", {"prefix": "router_"}).json()["results"]
    assert pref and all(n.startswith("router_") for n in pref)
    labels = api_alice.get("/api/v1/explore/labels/", {"match": "router_requests_total"}).json()["results"]
    assert "model" in labels and "org_id" not in labels
    values = api_alice.get("/api/v1/explore/labels/http_route/values/",
                           {"match": f'{HTTP}_count{{service_name="api-router"}}'})
    assert "/v1/chat/completions" in values.json()["results"]
    orgs = api_alice.get("/api/v1/explore/labels/org_id/values/").json()["results"]
    assert orgs == ["acme"]
    hist = api_alice.get("/api/v1/explore/history/").json()["results"]
    assert [h["query"] for h in hist] == ["active_users", by_service]
    # History is per user.
    assert token_client(org_a, carol).get("/api/v1/explore/history/").json()["results"] == []
    assert QueryHistory.objects.for_org(org_a).filter(user=alice).count() == 2


def test_explore_errors_carry_the_parser_position(live_prom: procs.Proc, api_alice: APIClient) -> None:
    r = api_alice.get("/api/v1/explore/query/", {"query": f"sum(rate({HTTP}_count[5m])"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_promql" and isinstance(err["details"]["position"], int)
    r = api_alice.get("/api/v1/explore/query/", {"query": 'up{org_id="globex"}'})
    assert r.status_code == 400 and r.json()["error"]["code"] == "foreign_org_matcher"
    assert api_alice.get("/api/v1/explore/query/", {"query": ""}).status_code == 400
    assert api_alice.get("/api/v1/explore/query/", {"query": "up", "from": "later"}).status_code == 400


def test_explore_cross_org(live_prom: procs.Proc, api_charlie: APIClient) -> None:
    names = api_charlie.get("/api/v1/explore/labels/org_id/values/").json()["results"]
    assert names == ["globex"]
    r = api_charlie.get("/api/v1/explore/query/", {"query": 'active_users{org_id="acme"}'})
    assert r.status_code == 400


def test_backend_down_is_503_naming_it(api_alice: APIClient, settings: Any) -> None:
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{procs.free_port()}"
    r = api_alice.get("/api/v1/builtin-dashboards/platform-overview/data/")
    assert r.status_code == 503, r.content
    assert "datasource" in r.json()["error"]["message"] and r.json()["error"]["code"] == "backend_unavailable"
    r = api_alice.get("/api/v1/explore/query/", {"query": "up"})
    assert r.status_code == 503 and r.json()["error"]["details"]["backend"] == "prometheus"

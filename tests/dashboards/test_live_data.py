"""Panel data and Explore against a real Prometheus scraping the demo workload (org_id = acme/globex/initech)."""

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


def _series(target: dict[str, Any]) -> list[dict[str, Any]]:
    assert "error" not in target, target
    return target["result"]  # type: ignore[no-any-return]


def _points(target: dict[str, Any]) -> int:
    return sum(len(s.get("values", [])) or (1 if s.get("value") else 0) for s in _series(target))


@pytest.mark.parametrize("slug", [slug for slug, _ in builtin.all_builtins()])
def test_every_builtin_panel_has_data_for_the_org_only(live_prom: procs.Proc, api_alice: APIClient, slug: str) -> None:
    r = api_alice.get(f"/api/v1/builtin-dashboards/{slug}/data/", {"from": "now-5m", "to": "now"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["scope"] == "org"
    doc = builtin.get(slug)
    assert doc is not None
    for panel in doc["panels"]:
        targets = body["panels"][str(panel["id"])]["targets"]
        assert targets, panel["title"]
        for t in targets:
            assert _points(t) > 0, (slug, panel["title"], t["expr"])
            for s in _series(t):
                assert s["metric"].get("org_id", "acme") == "acme"


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


def test_staff_see_the_whole_platform(live_prom: procs.Proc, operator: Any, org_a: Any, alice: Any) -> None:
    staff = token_client(org_a, operator)
    body = staff.get("/api/v1/builtin-dashboards/user-org-service/data/", {"panel": 3}).json()
    assert body["scope"] == "platform"
    platform_total = float(body["panels"]["3"]["targets"][0]["result"][0]["values"][-1][1])
    org_only = staff.get("/api/v1/builtin-dashboards/user-org-service/data/", {"panel": 3, "scope": "org"}).json()
    assert org_only["scope"] == "org"
    assert platform_total > float(org_only["panels"]["3"]["targets"][0]["result"][0]["values"][-1][1])
    # A non-staff user asking for the platform still gets their org.
    assert token_client(org_a, alice).get("/api/v1/builtin-dashboards/user-org-service/data/",
                                          {"panel": 3, "scope": "platform"}).json()["scope"] == "org"


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
    from tests.dashboards.test_spec_and_crud import KPI_DOC, create

    made = create(api_alice, KPI_DOC)
    body = api_alice.get(f"/api/v1/dashboards/{made['uid']}/data/", {"from": "now-5m"}).json()
    assert body["options"]["service"] == ["analytics-service", "api-router", "user-org-service"]
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
    r = api_alice.get("/api/v1/explore/query/", {"query": "sum by (service) (rate(http_requests_total[1m]))",
                                                 "from": "now-5m"})
    assert r.status_code == 200, r.content
    assert r.json()["resultType"] == "matrix" and len(r.json()["result"]) == 3
    inst = api_alice.get("/api/v1/explore/query/", {"query": "active_users", "instant": "1"}).json()
    assert inst["resultType"] == "vector" and inst["result"][0]["metric"]["org_id"] == "acme"
    names = api_alice.get("/api/v1/explore/labels/__name__/values/").json()["results"]
    assert {"http_requests_total", "router_requests_total", "up", "queue_depth"} <= set(names)
    pref = api_alice.get("/api/v1/explore/labels/__name__/values/", {"prefix": "router_"}).json()["results"]
    assert pref and all(n.startswith("router_") for n in pref)
    labels = api_alice.get("/api/v1/explore/labels/", {"match": "router_requests_total"}).json()["results"]
    assert "model" in labels and "org_id" not in labels
    values = api_alice.get("/api/v1/explore/labels/route/values/",
                           {"match": 'http_requests_total{service="api-router"}'})
    assert "/v1/chat/completions" in values.json()["results"]
    orgs = api_alice.get("/api/v1/explore/labels/org_id/values/").json()["results"]
    assert orgs == ["acme"]
    hist = api_alice.get("/api/v1/explore/history/").json()["results"]
    assert [h["query"] for h in hist] == ["active_users", "sum by (service) (rate(http_requests_total[1m]))"]
    # History is per user.
    assert token_client(org_a, carol).get("/api/v1/explore/history/").json()["results"] == []
    assert QueryHistory.objects.for_org(org_a).filter(user=alice).count() == 2


def test_explore_errors_carry_the_parser_position(live_prom: procs.Proc, api_alice: APIClient) -> None:
    r = api_alice.get("/api/v1/explore/query/", {"query": "sum(rate(http_requests_total[5m])"})
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

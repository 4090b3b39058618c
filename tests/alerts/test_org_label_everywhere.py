"""One org label for every path: with the datasource's `org_label` set to "tenant", ingest writes the
series under `tenant`, reads enforce `tenant`, rules render and match `tenant`, and Alertmanager routes,
silences and alert filters use `tenant` — so a rule written for the org fires on the org's own series.
Real Prometheus, Alertmanager, promtool and amtool."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml
from django.test import Client

from alerts_app import sync
from alerts_app.models import OrgSync, Rule, SyncState
from metrics_app.labels import org_label
from metrics_app.models import Datasource
from portal.tenancy.models import Organization
from tests import procs
from tests.conftest import token_client
from tests.metrics_in.conftest import now_ms, post_rw, write_request

pytestmark = pytest.mark.django_db


def _firing(prom: procs.Proc, alertname: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(prom.url + "/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        found = [a for a in alerts if a["labels"].get("alertname") == alertname and a["state"] == "firing"]
        if found:
            return found
        time.sleep(0.3)
    return found


def _series(prom: procs.Proc, promql: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = httpx.get(prom.url + "/api/v1/query", params={"query": promql}, timeout=10).json()["data"]["result"]
        if result:
            return result
        time.sleep(0.2)
    return result


def test_datasource_org_label_is_used_by_reads_ingest_and_rules(
        backends: Any, org_a: Organization, org_b: Organization, alice: Any, charlie: Any, ingest_a: str,
        settings: Any) -> None:
    prom, am = backends
    Datasource.objects.create(name="main", url=prom.url, org_label="tenant", is_default=True)
    assert org_label(org_a) == ("tenant", "acme")

    # Ingest: the forced label is `tenant`; what the sender called `tenant` is kept as exported_tenant.
    # A minute old: "now" reads are aligned down to the cache's few seconds, and must still see it.
    t = now_ms() - 60_000
    body = write_request([({"__name__": "shop_queue_depth", "tenant": "globex", "queue": "q1"}, [(t, 7.0)])])
    resp = post_rw(Client(), ingest_a, body)
    assert resp.status_code == 204, resp.content
    [stored] = _series(prom, "shop_queue_depth")
    assert stored["metric"]["tenant"] == "acme" and stored["metric"]["exported_tenant"] == "globex"
    assert "org_id" not in stored["metric"]

    # Reads: the enforcer injects and polices `tenant`.
    api_a, api_b = token_client(org_a, alice, "read"), token_client(org_b, charlie, "read")
    r = api_a.get("/prometheus/api/v1/query", {"query": "shop_queue_depth"})
    assert r.status_code == 200, r.content
    assert [s["metric"]["queue"] for s in r.json()["data"]["result"]] == ["q1"]
    r = api_b.get("/prometheus/api/v1/query", {"query": "shop_queue_depth"})
    assert r.status_code == 200 and r.json()["data"]["result"] == []
    r = api_a.get("/prometheus/api/v1/query", {"query": 'shop_queue_depth{tenant="globex"}'})
    assert r.status_code == 400 and r.json()["code"] == "foreign_org_matcher" and "tenant" in r.json()["error"]

    # Rules: the rendered rule selects and labels by `tenant`, so it fires on the org's own series.
    api_admin = token_client(org_a, alice, "write")
    r = api_admin.post("/api/v1/alerts/rules/", {"name": "QueueDeep", "kind": "threshold",
                                                 "query": "shop_queue_depth", "comparator": ">", "threshold": 5,
                                                 "for_duration": "0s", "severity": "critical"}, format="json")
    assert r.status_code == 201, r.content
    rule = Rule.objects.for_org(org_a).get(name="QueueDeep")
    # A user label named like the org label is refused: the portal sets it.
    r = api_admin.post("/api/v1/alerts/rules/", {"name": "Spoof", "kind": "threshold", "query": "up",
                                                 "comparator": "==", "threshold": 0, "severity": "warning",
                                                 "labels": {"tenant": "globex"}}, format="json")
    assert r.status_code == 400 and "tenant" in r.json()["error"]["message"], r.content
    OrgSync.objects.all_orgs().filter(org=org_a).update(requested=1, done=0)
    report = sync.sync_org(org_a.pk)
    assert report.errors == {}, report.errors
    rule.refresh_from_db()
    assert rule.sync_state == SyncState.SYNCED, rule.sync_error
    [firing] = _firing(prom, "QueueDeep")
    assert firing["labels"]["tenant"] == "acme" and "org_id" not in firing["labels"]
    loaded = [r for g in httpx.get(prom.url + "/api/v1/rules").json()["data"]["groups"] for r in g["rules"]]
    [mine] = [x for x in loaded if x.get("labels", {}).get("portal_rule") == str(rule.pk)]
    assert 'tenant="acme"' in mine["query"] and "org_id" not in mine["query"]

    # Alertmanager: the org's route matches `tenant`; alerts and silences are filtered and forced on it.
    config = yaml.safe_load(httpx.get(am.url + "/api/v2/status").json()["config"]["original"])
    [route] = [x for x in config["route"]["routes"] if x.get("receiver") == f"org{org_a.pk}-default"]
    assert route["matchers"] == ['tenant="acme"']
    now = datetime.now(UTC)
    httpx.post(am.url + "/api/v2/alerts", json=[
        {"labels": {"alertname": "Mine", "tenant": "acme"}, "startsAt": now.isoformat(),
         "endsAt": (now + timedelta(hours=1)).isoformat()},
        {"labels": {"alertname": "OldLabel", "org_id": "acme"}, "startsAt": now.isoformat(),
         "endsAt": (now + timedelta(hours=1)).isoformat()}]).raise_for_status()
    active = api_admin.get("/api/v1/alerts/active/").json()["alerts"]
    assert {a["labels"]["alertname"] for a in active} == {"Mine"}
    r = api_admin.post("/api/v1/alerts/silences/", {"matchers": [{"name": "alertname", "value": "Mine"}],
                                                    "duration_minutes": 30}, format="json")
    assert r.status_code == 201, r.content
    raw = httpx.get(f"{am.url}/api/v2/silence/{r.json()['silenceID']}").json()
    assert {"name": "tenant", "value": "acme", "isRegex": False, "isEqual": True} in raw["matchers"]
    r = api_admin.post("/api/v1/alerts/silences/", {"matchers": [{"name": "tenant", "value": "globex"}]},
                       format="json")
    assert r.status_code == 400

"""Active alerts, silences, the history hook and log-based rules against a real Alertmanager."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client
from rest_framework.test import APIClient

from alerts_app import log_rules, render
from alerts_app.models import AlertEvent, Rule
from portal.backends.alertmanager import AlertmanagerClient
from portal.tenancy.models import Organization
from tests import procs

pytestmark = pytest.mark.django_db


def post_alert(am: procs.Proc, org_value: str, name: str, severity: str = "critical") -> None:
    now = datetime.now(UTC)
    httpx.post(am.url + "/api/v2/alerts", json=[{
        "labels": {"alertname": name, "org_id": org_value, "severity": severity},
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}]).raise_for_status()


def test_active_alerts_are_filtered_by_org(api_alice: APIClient, api_charlie: APIClient, org_b: Organization,
                                           am_proc: procs.Proc) -> None:
    post_alert(am_proc, "acme", "AcmeDown")
    post_alert(am_proc, "acme", "AcmeSlow", "warning")
    post_alert(am_proc, "globex", "GlobexDown")
    a = api_alice.get("/api/v1/alerts/active/").json()
    assert {x["labels"]["alertname"] for x in a["alerts"]} == {"AcmeDown", "AcmeSlow"}
    assert a["counts"] == {"critical": 1, "warning": 1}
    b = api_charlie.get("/api/v1/alerts/active/").json()
    assert {x["labels"]["alertname"] for x in b["alerts"]} == {"GlobexDown"}


def test_silences_forced_to_org_and_cross_org_404(api_alice: APIClient, api_charlie: APIClient,
                                                  org_b: Organization, am_proc: procs.Proc) -> None:
    # Trying to silence another org by naming its label is refused; the org matcher is always forced.
    r = api_alice.post("/api/v1/alerts/silences/", {"matchers": [{"name": "org_id", "value": "globex"}]},
                       format="json")
    assert r.status_code == 400
    r = api_alice.post("/api/v1/alerts/silences/", {"matchers": [{"name": "alertname", "value": "AcmeDown"}],
                                                    "duration_minutes": 30, "comment": "maintenance"}, format="json")
    assert r.status_code == 201, r.content
    sid = r.json()["silenceID"]
    raw = httpx.get(f"{am_proc.url}/api/v2/silence/{sid}").json()
    assert {"name": "org_id", "value": "acme", "isRegex": False, "isEqual": True} in raw["matchers"]
    assert [s["id"] for s in api_alice.get("/api/v1/alerts/silences/").json()] == [sid]
    assert api_charlie.get("/api/v1/alerts/silences/").json() == []
    # Org B cannot expire org A's silence: 404, and it stays active.
    assert api_charlie.delete(f"/api/v1/alerts/silences/{sid}/").status_code == 404
    assert httpx.get(f"{am_proc.url}/api/v2/silence/{sid}").json()["status"]["state"] == "active"
    assert api_alice.delete("/api/v1/alerts/silences/not-a-silence/").status_code == 404
    assert api_alice.delete(f"/api/v1/alerts/silences/{sid}/").status_code == 204
    assert httpx.get(f"{am_proc.url}/api/v2/silence/{sid}").json()["status"]["state"] == "expired"


def test_backend_down_is_503_naming_it(api_alice: APIClient, settings: Any) -> None:
    settings.ALERTMANAGER_URL = f"http://127.0.0.1:{procs.free_port()}"
    r = api_alice.get("/api/v1/alerts/active/")
    assert r.status_code == 503 and r.json()["error"] == {
        "status": 503, "code": "backend_unavailable", "message": r.json()["error"]["message"],
        "details": {"backend": "alertmanager"}}


def test_history_hook_requires_signature_and_keeps_only_own_alerts(org_a: Organization, org_b: Organization,
                                                                   api_alice: APIClient,
                                                                   api_charlie: APIClient) -> None:
    url = f"/hooks/alertmanager/{org_a.pk}/history/"
    payload = {"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "A", "org_id": "acme", "severity": "critical"},
         "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f1"},
        {"status": "firing", "labels": {"alertname": "B", "org_id": "globex"}, "fingerprint": "f2"}]}
    c = Client()
    assert c.post(url, json.dumps(payload), content_type="application/json").status_code == 401
    wrong = render.hook_token(org_b.pk, "history")
    assert c.post(url, json.dumps(payload), content_type="application/json",
                  HTTP_AUTHORIZATION=f"Bearer {wrong}").status_code == 401
    ok = c.post(url, json.dumps(payload), content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {render.hook_token(org_a.pk, 'history')}")
    assert ok.status_code == 200 and ok.json() == {"accepted": 1}
    assert [e["alertname"] for e in api_alice.get("/api/v1/alerts/history/").json()] == ["A"]
    assert api_charlie.get("/api/v1/alerts/history/").json() == []
    assert AlertEvent.objects.all_orgs().count() == 1


def test_log_rule_fires_into_alertmanager_with_org_label(org_a: Organization, org_b: Organization,
                                                         am_proc: procs.Proc) -> None:
    from logs_app.store import get_store
    from logs_app.store.records import LogRecord

    now = datetime.now(UTC)
    store = get_store()
    store.write_logs([LogRecord(org_id=org_a.pk, time=now - timedelta(seconds=30 + i), body="auth_failure user=x",
                                service="auth") for i in range(4)]
                     + [LogRecord(org_id=org_b.pk, time=now - timedelta(seconds=5), body="auth_failure",
                                  service="auth") for _ in range(10)])
    rule = Rule.objects.create(org=org_a, name="Auth failures", kind="log", log_query="auth_failure",
                               log_count=3, log_window_minutes=5, severity="critical")
    quiet = Rule.objects.create(org=org_a, name="Many auth failures", kind="log", log_query="auth_failure",
                                log_count=50, log_window_minutes=5)
    am = AlertmanagerClient()
    result = log_rules.evaluate_all(store=store, am=am)
    assert result == {"evaluated": 2, "firing": 1, "errors": 0}
    alerts = am.alerts("org_id", "acme")
    assert [a["labels"]["alertname"] for a in alerts] == ["Auth_failures"]
    assert alerts[0]["labels"]["portal_rule"] == str(rule.pk) and alerts[0]["annotations"]["log_count"] == "4"
    assert am.alerts("org_id", "globex") == []
    quiet.refresh_from_db()
    assert quiet.log_firing_since is None
    # Records age out of the window → the alert is resolved.
    later = now + timedelta(minutes=10)
    log_rules.evaluate(Rule.objects.for_org(org_a).get(pk=rule.pk), store, am, now=later)
    assert am.alerts("org_id", "acme") == []


def test_no_alertmanager_configured_reads_empty_writes_503(api_alice: APIClient, settings: Any) -> None:
    settings.ALERTMANAGER_URL = ""
    assert api_alice.get("/api/v1/alerts/active/").json() == {"alerts": [], "counts": {}}
    r = api_alice.post("/api/v1/alerts/silences/", {"matchers": [{"name": "alertname", "value": "X"}]},
                       format="json")
    assert r.status_code == 503 and r.json()["error"]["code"] == "backend_not_configured"
    assert r.json()["error"]["details"] == {"backend": "alertmanager"}


def test_non_object_bodies_are_400(api_alice: APIClient, settings: Any) -> None:
    for url in ("/api/v1/alerts/silences/", "/api/v1/alerts/rules/preview/", "/api/v1/alerts/rules/from-template/"):
        r = api_alice.post(url, [1, 2], format="json")
        assert r.status_code == 400, (url, r.content)
    r = api_alice.post("/api/v1/alerts/rules/from-template/", {"template": "high_error_rate",
                                                               "params": {"share": "lots"}}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "params"

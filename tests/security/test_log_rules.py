"""Log rules: the search is parsed and org-checked on save (400 with a position, the shape of the logs
search API's parse errors), and evaluation isolates each rule (a broken one is marked in error, the
others of every org still evaluate and fire), on the real log store and a real Alertmanager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from alerts_app import log_rules
from alerts_app.models import Rule
from portal.backends.alertmanager import AlertmanagerClient
from portal.tenancy.models import Organization
from tests import procs

pytestmark = pytest.mark.django_db

RULE = {"name": "Auth failures", "kind": "log", "log_query": "auth_failure", "log_count": 3,
        "log_window_minutes": 5, "severity": "critical"}




@pytest.mark.parametrize(("query", "position"), [("foo(", 4), ("level>=loud", 0), ("a OR (b", 7),
                                                 ('"unterminated', 0)])
def test_a_search_that_does_not_parse_is_400_with_its_position(api_alice: APIClient, org_a: Organization,
                                                               alert_files: Path, query: str,
                                                               position: int) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "log_query": query}, format="json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["code"] == "invalid_query" and err["details"]["field"] == "log_query"
    assert err["details"]["position"] == position and err["details"]["caret"] == " " * position + "^"
    # The same position and caret as the logs search API answers for the same text.
    search = api_alice.get("/api/v1/logs/search", {"q": query}).json()["error"]
    assert search["code"] == "invalid_query"
    assert (search["details"]["position"], search["details"]["caret"]) == (position, " " * position + "^")
    assert not Rule.objects.for_org(org_a).exists()


@pytest.mark.parametrize("query", ["org=globex", "auth_failure org=globex", "org=acme auth_failure",
                                   "(auth_failure OR org=globex)", "NOT org=globex", "org!=acme"])
def test_a_search_naming_an_org_is_400(api_alice: APIClient, org_a: Organization, org_b: Organization,
                                       alert_files: Path, query: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "log_query": query}, format="json")
    assert r.status_code == 400, r.content
    details = r.json()["error"]["details"]
    assert details["field"] == "log_query" and details["position"] == query.index("org"), details
    assert not Rule.objects.for_org(org_a).exists()


def test_editing_a_rule_into_a_bad_search_is_400(api_alice: APIClient, org_a: Organization,
                                                 alert_files: Path) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", RULE, format="json")
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    r = api_alice.patch(f"/api/v1/alerts/rules/{rid}/", {"log_query": "org=globex"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["position"] == 0
    assert Rule.objects.for_org(org_a).get(pk=rid).log_query == "auth_failure"


def test_one_broken_rule_is_marked_and_every_other_rule_still_fires(api_alice: APIClient, org_a: Organization,
                                                                    org_b: Organization, am_proc: procs.Proc) -> None:
    from logs_app.store import get_store
    from logs_app.store.records import LogRecord

    now = datetime.now(UTC)
    store = get_store()
    store.write_logs([LogRecord(org_id=org.pk, time=now - timedelta(seconds=10 + i), body="auth_failure user=x",
                                service="auth") for org in (org_a, org_b) for i in range(4)])
    # Stored past the API (as rows saved before the check existed): evaluated first ("A…" sorts first).
    broken = Rule.objects.create(org=org_a, name="A broken search", kind="log", log_query="foo(", log_count=1)
    foreign = Rule.objects.create(org=org_b, name="A foreign search", kind="log", log_query="org=acme",
                                  log_count=1)
    good_a = Rule.objects.create(org=org_a, name="Auth failures", kind="log", log_query="auth_failure",
                                 log_count=3, severity="critical")
    good_b = Rule.objects.create(org=org_b, name="Auth failures", kind="log", log_query="auth_failure",
                                 log_count=3, severity="critical")
    am = AlertmanagerClient()

    result = log_rules.evaluate_all(store=store, am=am)

    assert result == {"evaluated": 2, "firing": 2, "errors": 2}
    for rule in (broken, foreign):
        rule.refresh_from_db()
        assert rule.log_error.startswith("log search failed: "), rule.log_error
        assert rule.log_firing_since is None
    for rule, org in ((good_a, org_a), (good_b, org_b)):
        rule.refresh_from_db()
        assert rule.log_error == "" and rule.log_firing_since is not None
        alerts = am.alerts(org.label_name, org.label_value)
        assert [(a["labels"]["alertname"], a["labels"]["portal_rule"]) for a in alerts] == \
            [("Auth_failures", str(rule.pk))]
    # The error is shown on the rule through the API, and clears once the rule runs again.
    assert api_alice.get(f"/api/v1/alerts/rules/{broken.pk}/").json()["log_error"] == broken.log_error
    Rule.objects.for_org(org_a).filter(pk=broken.pk).update(log_query="auth_failure")
    log_rules.evaluate_all(store=store, am=am)
    broken.refresh_from_db()
    assert broken.log_error == ""
